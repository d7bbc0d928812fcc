// `ragd check`: verifies that one data directory is consistent — SQLite intact, every chunk
// embedded by the engine's model, and both derived indexes holding exactly the live chunk ids at
// storage's latest change — and repairs what an index rebuild can repair. Storage is the system
// of record, so repair never touches it: a damaged database is reported, not patched.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "core/error.hpp"
#include "pipeline/index_maintainer.hpp"
#include "retrieval/bm25_index.hpp"
#include "retrieval/vector_index.hpp"
#include "storage/storage.hpp"

namespace ragd::pipeline {

class Engine;

struct CheckOptions {
    /// true: PRAGMA integrity_check (reads every page); false: quick_check (skips index
    /// contents, much faster on a large database) (default true).
    bool full_integrity = true;
    /// Ids listed per kind of difference; the counts are always complete (default 20).
    std::size_t max_listed_ids = 20;
};

/// Chunk ids one side has and the other lacks: a count and the first few ids, ascending.
struct IdList {
    std::size_t count = 0;
    std::vector<std::int64_t> first;
};

struct IndexCheck {
    std::string name;  ///< "vectors" or "bm25"
    std::size_t entries = 0;
    std::int64_t applied_seq = 0;
    /// storage's last seq minus applied_seq: > 0 the index lags, < 0 it claims changes
    /// storage never made (it belongs to other data).
    std::int64_t lag = 0;
    IdList missing;  ///< chunks storage holds (and this index should) that it lacks
    IdList extra;    ///< ids it holds that are no live chunk
    bool consistent() const { return lag == 0 && missing.count == 0 && extra.count == 0; }
};

struct ConsistencyReport {
    std::string integrity_check;                  ///< "integrity_check" or "quick_check"
    std::vector<std::string> integrity_problems;  ///< empty: the database is intact
    std::int64_t documents = 0;
    std::int64_t chunks = 0;
    std::int64_t storage_seq = 0;
    std::string model_id;
    std::size_t dimensions = 0;
    IdList without_embedding;  ///< chunks with no vector from model_id
    IdList wrong_dimensions;   ///< chunks whose model_id vector is not `dimensions` long
    /// false when storage could not be scanned (it is damaged): the index sections are empty.
    bool indexes_checked = false;
    IndexCheck vectors;
    IndexCheck bm25;

    /// Problems only storage can fix (restore a backup or re-ingest): no index rebuild helps.
    bool storage_consistent() const {
        return integrity_problems.empty() && without_embedding.count == 0 &&
               wrong_dimensions.count == 0;
    }
    bool indexes_consistent() const {
        return indexes_checked && vectors.consistent() && bm25.consistent();
    }
    bool consistent() const { return storage_consistent() && indexes_consistent(); }
};

struct RepairOutcome {
    ConsistencyReport before;
    ConsistencyReport after;
    std::vector<std::string> actions;  ///< what was done, in order, for the operator
    bool repaired() const { return after.consistent(); }
};

/// Compares storage with the two indexes. Needs no concurrent writer (the engine's directory
/// lock keeps other processes out; in-process writers must be idle), or the differences it
/// reports may be changes in flight.
class ConsistencyChecker {
public:
    ConsistencyChecker(storage::Storage& storage,
                       const retrieval::VectorIndex& vectors,
                       const retrieval::Bm25Index& bm25,
                       std::string model_id,
                       std::size_t dimensions,
                       CheckOptions options = {});
    /// The engine's storage, indexes and embedder.
    ConsistencyChecker(Engine& engine, CheckOptions options = {});

    core::Result<ConsistencyReport> check() const;

    /// Checks, then brings the indexes back in line through `maintainer` (which must maintain
    /// the same storage and indexes): an index ahead of storage or holding other ids is
    /// rebuilt from storage, one that only lags is caught up. Then checks again. Storage
    /// problems are left as they are (after.consistent() stays false). Fails only when a check
    /// or a rebuild cannot run.
    core::Result<RepairOutcome> repair(IndexMaintainer& maintainer) const;

private:
    /// Fills out.missing and out.extra (index_ids is sorted here if it is not already).
    void check_index_ids(std::vector<std::int64_t> index_ids,
                         const std::vector<std::int64_t>& expected,
                         IndexCheck& out) const;

    storage::Storage& storage_;
    const retrieval::VectorIndex& vectors_;
    const retrieval::Bm25Index& bm25_;
    std::string model_id_;
    std::size_t dimensions_;
    CheckOptions options_;
};

/// The report as JSON: {"consistent", "storage": {...}, "embeddings": {...},
/// "indexes": {"vectors": {...}, "bm25": {...}}}.
boost::json::object report_to_json(const ConsistencyReport& report);
/// The report for a terminal, one line per finding, ending with "result: ...".
std::string format_report(const ConsistencyReport& report);

}  // namespace ragd::pipeline
