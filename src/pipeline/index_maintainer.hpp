// Keeps the derived indexes (vectors, BM25) in step with storage. Every index update, live or
// after a crash, goes through catch_up(): read the change log past the indexes' applied sequence,
// drop the chunks each change removed, add each touched document's current chunks. Replaying a
// change twice is harmless, so a crash at any instant leaves indexes that catch up on the next
// start; an index that is missing or corrupt is rebuilt from a scan of storage.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "core/error.hpp"
#include "retrieval/bm25_index.hpp"
#include "retrieval/vector_index.hpp"
#include "storage/storage.hpp"

namespace ragd::pipeline {

struct CatchUpReport {
    std::int64_t from_seq = 0;
    std::int64_t to_seq = 0;
    std::size_t changes = 0;
    std::size_t chunks_added = 0;
    std::size_t chunks_removed = 0;
    bool rebuilt_vectors = false;
    bool rebuilt_bm25 = false;
};

class IndexMaintainer {
public:
    IndexMaintainer(storage::Storage& storage, retrieval::VectorIndex& vectors,
                    retrieval::Bm25Index& bm25, std::string model_id);

    /// Applies every change past the indexes' applied sequence and commits BM25. Rebuilds an
    /// index from a storage scan when it is empty but storage is not, or when it claims a
    /// sequence storage never reached (e.g. storage restored from an older backup).
    core::Result<CatchUpReport> catch_up();
    /// Empties the chosen indexes and refills them from a full storage scan, then applies any
    /// change logged meanwhile and saves: the repair for an index whose contents disagree with
    /// storage (which catch_up, trusting the applied sequence, would not notice).
    core::Result<CatchUpReport> rebuild_from_storage(bool vectors, bool bm25);
    /// Saves the vector index to disk if it changed since the last save (BM25 is committed by
    /// every catch_up already). Read-only use of an engine therefore writes nothing.
    core::Result<void> flush();
    /// Sequence both indexes reflect (the smaller of the two).
    std::int64_t applied_seq() const;

private:
    core::Result<void> rebuild(bool vectors, bool bm25, std::int64_t upto, CatchUpReport& report);
    core::Result<void> add_chunks(const std::string& document_id, CatchUpReport& report);
    core::Result<void> save_vectors_locked();

    /// The vector index lives in memory and is saved whole, so it is saved only now and then
    /// during a long ingest: a crash costs at most this much re-indexing on the next start.
    static constexpr std::size_t kSaveAfterChunks = 5000;
    static constexpr std::chrono::seconds kSaveInterval{30};

    storage::Storage& storage_;
    retrieval::VectorIndex& vectors_;
    retrieval::Bm25Index& bm25_;
    std::string model_id_;
    mutable std::mutex mutex_;  // one catch-up at a time; searches do not take it
    std::size_t unsaved_changes_ = 0;  ///< vector adds/removes since the last save; mutex_
    bool vectors_seq_changed_ = false;  ///< applied seq moved since the last save; mutex_
    std::chrono::steady_clock::time_point last_save_ = std::chrono::steady_clock::now();
};

}  // namespace ragd::pipeline
