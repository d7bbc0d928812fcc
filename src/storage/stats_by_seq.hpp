// Storage counts for a metrics scrape, counted again only when the change sequence has moved.
// Every write that changes a count (upsert, replace, delete) logs a change in the same
// transaction, and stats() reads its counts and last_seq in one snapshot, so the counts that
// belong to a sequence number never change. A read-mostly server's scrape then costs one
// max(seq) lookup on the change log's key instead of count(*) over three tables, which on
// PostgreSQL with millions of chunks is a scan per replica per scrape.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <utility>

#include "core/error.hpp"
#include "storage/storage.hpp"

namespace ragd::storage {

class StatsBySeq {
public:
    using LastSeq = std::function<core::Result<std::int64_t>()>;
    using Stats = std::function<core::Result<StorageStats>()>;

    StatsBySeq(LastSeq last_seq, Stats stats)
        : last_seq_(std::move(last_seq)), stats_(std::move(stats)) {}

    /// The counts as of the current last_seq: the remembered ones when it has not moved since
    /// they were counted, else freshly counted (and remembered). `bytes` is as of the count.
    /// Thread-safe; concurrent callers with a moved sequence may each count.
    core::Result<StorageStats> get();

private:
    LastSeq last_seq_;
    Stats stats_;
    std::mutex mutex_;
    std::optional<StorageStats> counted_;  // guarded by mutex_
};

}  // namespace ragd::storage
