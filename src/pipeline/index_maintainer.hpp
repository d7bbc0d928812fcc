// Keeps the derived indexes (vectors, BM25) in step with storage. Every index update, live or
// after a crash, goes through catch_up(): read the change log past the indexes' applied sequence,
// drop the chunks each change removed, add each touched document's current chunks. Replaying a
// change twice is harmless, so a crash at any instant leaves indexes that catch up on the next
// start; an index that is missing or corrupt is rebuilt from a scan of storage.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

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
    IndexMaintainer(storage::Storage& storage,
                    retrieval::VectorIndex& vectors,
                    retrieval::Bm25Index& bm25,
                    std::string model_id);

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
    /// catch_up() as a task for core::SerialBackgroundTask (a bulk ingest's batches): only
    /// whether it worked.
    std::function<core::Result<void>()> catch_up_task();
    /// Sequence both indexes reflect (the smaller of the two).
    std::int64_t applied_seq() const;
    /// Hands over the chunks a writer has just stored for `document_id` in change `seq` (with
    /// their storage ids and embeddings), so that the catch-up applying that change indexes
    /// them without reading them back from storage. Used only while `seq` is the document's
    /// latest change in that catch-up's batch; not kept past kMaxOfferedChunks in total (the
    /// catch-up then reads storage, as it always may). Thread-safe.
    void offer(std::int64_t seq,
               const std::string& document_id,
               std::vector<storage::IndexableChunk> chunks);
    /// The embedding model whose vectors the vector index holds.
    const std::string& model_id() const { return model_id_; }

private:
    core::Result<void> rebuild(bool vectors, bool bm25, std::int64_t upto, CatchUpReport& report);
    /// Adds `chunks` to the chosen indexes and empties it. A large group feeds the two indexes
    /// from two threads: they share nothing, and each alone is about half of the indexing time.
    core::Result<void> index_chunks(std::vector<storage::IndexableChunk>& chunks,
                                    bool vectors,
                                    bool bm25,
                                    CatchUpReport& report);
    core::Result<void> save_indexes_locked();
    /// The offered chunks of `document_id` if they were stored by change `seq`.
    std::optional<std::vector<storage::IndexableChunk>> take_offer(const std::string& document_id,
                                                                   std::int64_t seq);
    /// Forgets offers for changes the indexes already reflect.
    void drop_offers_upto(std::int64_t seq);

    /// Chunks read from storage before they are indexed as one group: enough to make a second
    /// thread worth starting, few enough to bound memory (~2 KiB of embedding each).
    static constexpr std::size_t kIndexGroupChunks = 2048;
    /// Below this a group is indexed on the calling thread (a single document's update).
    static constexpr std::size_t kParallelMinChunks = 256;
    /// Offered chunks held at most (~2 KiB of embedding plus text each): more than a bulk
    /// ingest stores between two catch-ups.
    static constexpr std::size_t kMaxOfferedChunks = 8192;

    struct Offer {
        std::int64_t seq = 0;
        std::vector<storage::IndexableChunk> chunks;
    };

    /// The vector index lives in memory and is saved whole, so it is saved only now and then
    /// during a long ingest: a crash costs at most this much re-indexing on the next start.
    static constexpr std::size_t kSaveAfterChunks = 5000;
    static constexpr std::chrono::seconds kSaveInterval{30};

    storage::Storage& storage_;
    retrieval::VectorIndex& vectors_;
    retrieval::Bm25Index& bm25_;
    std::string model_id_;
    mutable std::mutex mutex_;          // one catch-up at a time; searches do not take it
    std::size_t unsaved_changes_ = 0;   ///< vector adds/removes since the last save; mutex_
    bool vectors_seq_changed_ = false;  ///< applied seq moved since the last save; mutex_
    /// A catch-up saw storage empty: everything since is in the change log, written by this
    /// process (so mostly offered), and replaying it beats a scan of storage; mutex_.
    bool saw_empty_storage_ = false;
    std::chrono::steady_clock::time_point last_save_ = std::chrono::steady_clock::now();
    /// Taken alone or inside mutex_, never the other way round: writers offer while a
    /// catch-up runs.
    std::mutex offers_mutex_;
    std::unordered_map<std::string, Offer> offers_;  ///< offers_mutex_; by document id
    std::size_t offered_chunks_ = 0;                 ///< offers_mutex_
};

}  // namespace ragd::pipeline
