#include "storage/passage_cache.hpp"

#include <bit>
#include <list>
#include <mutex>
#include <unordered_map>
#include <utility>

namespace ragd::storage {

namespace {

/// Enough shards that the I/O threads and the compute pool rarely meet on one lock.
constexpr std::size_t kShards = 16;
static_assert(std::has_single_bit(kShards));

using Passage = std::shared_ptr<const IndexableChunk>;

}  // namespace

std::size_t passage_bytes(const IndexableChunk& passage) {
    std::size_t bytes = PassageCachingStorage::kEntryOverheadBytes;
    bytes += passage.chunk.document_id.size() + passage.chunk.text.size();
    for (const std::string& heading : passage.chunk.heading_path) {
        bytes += heading.size() + sizeof(std::string);
    }
    bytes += passage.title.size() + passage.source.size() + passage.collection.size();
    for (const auto& [key, value] : passage.metadata) {
        bytes += key.size() + value.size() + 2 * sizeof(std::string);
    }
    bytes += passage.embedding.size() * sizeof(float);
    return bytes;
}

struct PassageCachingStorage::Shard {
    struct Node {
        std::int64_t id;
        Passage passage;
        std::size_t bytes;
    };

    mutable std::mutex mutex;
    std::list<Node> lru;  ///< most recently used first
    std::unordered_map<std::int64_t, std::list<Node>::iterator> by_id;
    std::size_t bytes = 0;

    Passage get(std::int64_t id) {
        std::lock_guard lock(mutex);
        auto found = by_id.find(id);
        if (found == by_id.end()) {
            return nullptr;
        }
        lru.splice(lru.begin(), lru, found->second);
        return found->second->passage;
    }

    void put(std::int64_t id, Passage passage, std::size_t size, std::size_t budget) {
        if (size > budget) {
            return;
        }
        std::lock_guard lock(mutex);
        if (by_id.contains(id)) {
            return;  // another thread loaded it meanwhile: the same passage
        }
        while (bytes + size > budget && !lru.empty()) {
            bytes -= lru.back().bytes;
            by_id.erase(lru.back().id);
            lru.pop_back();
        }
        lru.push_front(Node{id, std::move(passage), size});
        by_id.emplace(id, lru.begin());
        bytes += size;
    }

    void erase(std::int64_t id) {
        std::lock_guard lock(mutex);
        auto found = by_id.find(id);
        if (found == by_id.end()) {
            return;
        }
        bytes -= found->second->bytes;
        lru.erase(found->second);
        by_id.erase(found);
    }
};

PassageCachingStorage::PassageCachingStorage(std::unique_ptr<Storage> inner, std::size_t max_bytes)
    : inner_(std::move(inner)), shard_budget_bytes_(max_bytes / kShards) {
    shards_.reserve(kShards);
    for (std::size_t idx = 0; idx < kShards; ++idx) {
        shards_.push_back(std::make_unique<Shard>());
    }
}

PassageCachingStorage::~PassageCachingStorage() = default;

PassageCachingStorage::Shard& PassageCachingStorage::shard_for(std::int64_t chunk_id) const {
    // Chunk ids are handed out in sequence, so their low bits spread them evenly.
    return *shards_[static_cast<std::uint64_t>(chunk_id) & (kShards - 1)];
}

void PassageCachingStorage::forget(std::span<const std::int64_t> chunk_ids) {
    for (const std::int64_t id : chunk_ids) {
        shard_for(id).erase(id);
    }
}

PassageCacheStats PassageCachingStorage::passage_stats() const {
    PassageCacheStats stats;
    stats.hits = hits_.load(std::memory_order_relaxed);
    stats.misses = misses_.load(std::memory_order_relaxed);
    for (const auto& shard : shards_) {
        std::lock_guard lock(shard->mutex);
        stats.entries += shard->by_id.size();
        stats.bytes += shard->bytes;
    }
    return stats;
}

core::Result<std::vector<IndexableChunk>> PassageCachingStorage::get_chunks(
    std::span<const std::int64_t> ids, const std::string& model_id) {
    if (!model_id.empty() || shard_budget_bytes_ == 0) {
        return inner_->get_chunks(ids, model_id);
    }
    std::vector<Passage> found(ids.size());
    std::vector<std::int64_t> missing;
    for (std::size_t idx = 0; idx < ids.size(); ++idx) {
        found[idx] = shard_for(ids[idx]).get(ids[idx]);
        if (!found[idx]) {
            missing.push_back(ids[idx]);
        }
    }
    hits_.fetch_add(ids.size() - missing.size(), std::memory_order_relaxed);
    if (!missing.empty()) {
        misses_.fetch_add(missing.size(), std::memory_order_relaxed);
        auto loaded = inner_->get_chunks(missing, model_id);
        if (!loaded) {
            return loaded.error();
        }
        std::unordered_map<std::int64_t, Passage> by_id;
        by_id.reserve(loaded->size());
        for (IndexableChunk& chunk : *loaded) {
            const std::int64_t id = chunk.chunk.id;
            const std::size_t size = passage_bytes(chunk);
            auto passage = std::make_shared<const IndexableChunk>(std::move(chunk));
            shard_for(id).put(id, passage, size, shard_budget_bytes_);
            by_id.emplace(id, std::move(passage));
        }
        for (std::size_t idx = 0; idx < ids.size(); ++idx) {
            if (!found[idx]) {
                if (auto it = by_id.find(ids[idx]); it != by_id.end()) {
                    found[idx] = it->second;
                }
            }
        }
    }
    // In the order asked, leaving out ids that do not exist: the inner storage's contract.
    std::vector<IndexableChunk> out;
    out.reserve(ids.size());
    for (const Passage& passage : found) {
        if (passage) {
            out.push_back(*passage);
        }
    }
    return out;
}

core::Result<UpsertOutcome> PassageCachingStorage::upsert_document(const DocumentRecord& doc,
                                                                   std::span<const NewChunk> chunks,
                                                                   const std::string& model_id) {
    auto outcome = inner_->upsert_document(doc, chunks, model_id);
    if (outcome) {
        forget(outcome->removed_chunk_ids);
    }
    return outcome;
}

std::vector<core::Result<UpsertOutcome>> PassageCachingStorage::upsert_documents(
    std::span<const DocumentWrite> writes, const std::string& model_id, OnFailure on_failure) {
    auto outcomes = inner_->upsert_documents(writes, model_id, on_failure);
    for (const auto& outcome : outcomes) {
        if (outcome) {
            forget(outcome->removed_chunk_ids);
        }
    }
    return outcomes;
}

core::Result<bool> PassageCachingStorage::delete_document(const std::string& id) {
    // The removed chunk ids arrive with the change, which the index catch-up reads through
    // changes_since() below; until then the indexes still return those ids anyway.
    return inner_->delete_document(id);
}

core::Result<std::vector<Change>> PassageCachingStorage::changes_since(std::int64_t after,
                                                                       std::size_t limit) {
    auto changes = inner_->changes_since(after, limit);
    if (changes) {
        for (const Change& change : *changes) {
            forget(change.removed_chunk_ids);
        }
    }
    return changes;
}

core::Result<std::optional<DocumentRecord>> PassageCachingStorage::get_document(
    const std::string& id) {
    return inner_->get_document(id);
}

core::Result<std::optional<std::string>> PassageCachingStorage::content_hash(
    const std::string& id) {
    return inner_->content_hash(id);
}

core::Result<std::vector<ChunkRecord>> PassageCachingStorage::chunks_of(
    const std::string& document_id) {
    return inner_->chunks_of(document_id);
}

core::Result<std::vector<IndexableChunk>> PassageCachingStorage::indexable_chunks_of(
    const std::string& document_id, const std::string& model_id) {
    return inner_->indexable_chunks_of(document_id, model_id);
}

core::Result<void> PassageCachingStorage::for_each_chunk(
    const std::string& model_id, const std::function<void(const IndexableChunk&)>& visit) {
    return inner_->for_each_chunk(model_id, visit);
}

core::Result<std::int64_t> PassageCachingStorage::last_seq() {
    return inner_->last_seq();
}

core::Result<StorageStats> PassageCachingStorage::stats() {
    return inner_->stats();
}

core::Result<std::vector<DocumentRecord>> PassageCachingStorage::list_documents(std::size_t offset,
                                                                                std::size_t limit) {
    return inner_->list_documents(offset, limit);
}

core::Result<std::vector<std::string>> PassageCachingStorage::verify_integrity(bool full) {
    return inner_->verify_integrity(full);
}

}  // namespace ragd::storage
