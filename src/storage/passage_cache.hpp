// An in-memory copy of the passages queries load, in front of the system of record.
//
// Every answer loads its top_k passages (chunk text, heading path, document title, source and
// metadata) by chunk id. From SQLite that is a read transaction per query: two fcntl locks, an
// fstat, an IN-list table and a join, ~10 % of ragd's CPU per uncached query. The passages of a
// corpus are few and hot, so this keeps the recently loaded ones in memory.
//
// Why it is exact: a chunk id is never reused and a chunk never changes while it exists (any
// change to a document replaces all its chunks with new ids, and the document row with them).
// So a cached passage is always the stored one, until its chunk is deleted. Deleted chunks are
// dropped as this process learns of them: from upsert_document's outcome, and from
// changes_since(), which the index catch-up reads (a change lists the chunk ids it removed).
// Queries look passages up only by ids the indexes return, and the indexes drop a deleted
// chunk in that same catch-up, so a deleted passage is never served after it. (A load racing
// a delete can re-insert a passage after it was dropped; nothing asks for that id again, and
// it ages out.) Embeddings (get_chunks with a model id: index rebuilds) always go to the
// inner storage.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "storage/storage.hpp"

namespace ragd::storage {

struct PassageCacheStats {
    std::uint64_t hits = 0;    ///< passages served from memory
    std::uint64_t misses = 0;  ///< passages loaded from the inner storage
    std::uint64_t entries = 0;
    std::uint64_t bytes = 0;  ///< estimated, as counted against the budget
};

/// A Storage that forwards everything to `inner` and answers get_chunks(ids, "") from a
/// bounded, sharded LRU where it can. Thread-safe, as Storage is.
class PassageCachingStorage final : public Storage {
public:
    /// Per-entry bookkeeping counted on top of the strings' sizes (list and map nodes, the
    /// shared_ptr control block, the IndexableChunk itself).
    static constexpr std::size_t kEntryOverheadBytes = 320;

    /// `max_bytes` is split evenly over the shards; an entry larger than a shard's share is
    /// served but not kept.
    PassageCachingStorage(std::unique_ptr<Storage> inner, std::size_t max_bytes);
    ~PassageCachingStorage() override;

    PassageCacheStats passage_stats() const;
    Storage& inner() { return *inner_; }

    core::Result<UpsertOutcome> upsert_document(const DocumentRecord& doc,
                                                std::span<const NewChunk> chunks,
                                                const std::string& model_id) override;
    std::vector<core::Result<UpsertOutcome>> upsert_documents(std::span<const DocumentWrite> writes,
                                                              const std::string& model_id,
                                                              OnFailure on_failure) override;
    core::Result<bool> delete_document(const std::string& id) override;
    core::Result<std::optional<DocumentRecord>> get_document(const std::string& id) override;
    core::Result<std::optional<std::string>> content_hash(const std::string& id) override;
    core::Result<std::vector<ChunkRecord>> chunks_of(const std::string& document_id) override;
    core::Result<std::vector<IndexableChunk>> get_chunks(std::span<const std::int64_t> ids,
                                                         const std::string& model_id) override;
    core::Result<std::vector<IndexableChunk>> indexable_chunks_of(
        const std::string& document_id, const std::string& model_id) override;
    core::Result<void> for_each_chunk(
        const std::string& model_id,
        const std::function<void(const IndexableChunk&)>& visit) override;
    core::Result<std::vector<Change>> changes_since(std::int64_t after, std::size_t limit) override;
    core::Result<std::int64_t> last_seq() override;
    core::Result<StorageStats> stats() override;
    core::Result<std::vector<DocumentRecord>> list_documents(std::size_t offset,
                                                             std::size_t limit) override;
    core::Result<std::vector<std::string>> verify_integrity(bool full) override;
    core::Result<std::string> identity() override { return inner_->identity(); }
    std::size_t useful_write_concurrency() const override {
        return inner_->useful_write_concurrency();
    }

private:
    struct Shard;

    Shard& shard_for(std::int64_t chunk_id) const;
    void forget(std::span<const std::int64_t> chunk_ids);

    std::unique_ptr<Storage> inner_;
    std::vector<std::unique_ptr<Shard>> shards_;
    std::size_t shard_budget_bytes_ = 0;
    std::atomic<std::uint64_t> hits_{0};
    std::atomic<std::uint64_t> misses_{0};
};

/// Estimated bytes a cached passage holds, as counted against the budget.
std::size_t passage_bytes(const IndexableChunk& passage);

}  // namespace ragd::storage
