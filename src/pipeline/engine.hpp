// Owns one data directory's components: the lock that keeps other ragd processes out, storage,
// embedder, indexes (caught up on open), and the ingest and query services built on them.
#pragma once

#include <memory>
#include <string>

#include "core/config.hpp"
#include "core/error.hpp"
#include "pipeline/change_follower.hpp"
#include "pipeline/index_maintainer.hpp"
#include "pipeline/ingest_service.hpp"
#include "pipeline/query_service.hpp"
#include "storage/passage_cache.hpp"

namespace ragd::pipeline {

struct IndexStats {
    std::size_t vectors = 0;
    std::size_t bm25_chunks = 0;
    std::int64_t vectors_applied_seq = 0;
    std::int64_t bm25_applied_seq = 0;
    std::uint64_t vector_memory_bytes = 0;
    std::uint64_t bm25_disk_bytes = 0;
};

struct EngineOpenOptions {
    /// true: catch the indexes up with storage (rebuilding a missing or stale one) before
    /// returning. false: leave them exactly as found on disk, for `ragd check`, which reports
    /// their state before it changes anything (default true).
    bool catch_up = true;
};

class Engine {
public:
    /// Opens (creating if needed) config.storage.data_dir, takes its lock (kConflict when another
    /// process holds it), and catches the indexes up with storage. `notes` (optional) receives
    /// human-readable lines about recovery (rebuilt or caught-up indexes).
    static core::Result<std::unique_ptr<Engine>> open(const core::Config& config,
                                                      std::string* notes = nullptr,
                                                      const EngineOpenOptions& options = {});
    ~Engine();  ///< flushes indexes (commit + save) and releases the lock

    IngestService& ingest() { return *ingest_; }
    const QueryService& query() const { return *query_; }
    IndexMaintainer& maintainer() { return *maintainer_; }
    storage::Storage& storage() { return *storage_; }
    /// The passage cache's counters; all zero when storage.passage_cache_bytes is 0.
    storage::PassageCacheStats passage_cache_stats() const;
    const embed::Embedder& embedder() const { return *embedder_; }
    const retrieval::VectorIndex& vectors() const { return *vectors_; }
    const retrieval::Bm25Index& bm25() const { return *bm25_; }
    IndexStats index_stats() const;
    /// The change sequence both indexes reflect (the lower of the two): answers computed from
    /// the indexes are current as of it, so caches key on it and never serve a stale answer.
    std::int64_t indexed_seq() const;
    const core::Config& config() const { return config_; }
    /// Starts applying changes other processes write to storage every
    /// config.storage.follow_interval (a replica on shared PostgreSQL). Does nothing when the
    /// interval is 0 or already following. Stopped by the destructor.
    void follow_changes();
    /// The follower, or null when not following.
    const ChangeFollower* follower() const { return follower_.get(); }

private:
    Engine() = default;

    core::Config config_;
    int lock_fd_ = -1;
    std::unique_ptr<storage::Storage> storage_;
    storage::PassageCachingStorage* passages_ = nullptr;  ///< storage_ itself, when caching
    std::unique_ptr<embed::Embedder> embedder_;
    std::unique_ptr<retrieval::VectorIndex> vectors_;
    std::unique_ptr<retrieval::Bm25Index> bm25_;
    std::unique_ptr<llm::Generator> generator_;
    std::unique_ptr<IndexMaintainer> maintainer_;
    std::unique_ptr<IngestService> ingest_;
    std::unique_ptr<QueryService> query_;
    std::unique_ptr<ChangeFollower> follower_;  ///< uses maintainer_; stopped first
};

}  // namespace ragd::pipeline
