#include "pipeline/index_maintainer.hpp"

#include <algorithm>
#include <iterator>
#include <map>
#include <thread>
#include <utility>

namespace ragd::pipeline {
namespace {

constexpr std::size_t kChangeBatch = 1000;

}  // namespace

IndexMaintainer::IndexMaintainer(storage::Storage& storage,
                                 retrieval::VectorIndex& vectors,
                                 retrieval::Bm25Index& bm25,
                                 std::string model_id)
    : storage_(storage), vectors_(vectors), bm25_(bm25), model_id_(std::move(model_id)) {}

std::int64_t IndexMaintainer::applied_seq() const {
    std::lock_guard lock(mutex_);
    return std::min(vectors_.applied_seq(), bm25_.applied_seq());
}

void IndexMaintainer::offer(std::int64_t seq,
                            const std::string& document_id,
                            std::vector<storage::IndexableChunk> chunks) {
    std::lock_guard lock(offers_mutex_);
    auto found = offers_.find(document_id);
    if (found != offers_.end()) {
        if (found->second.seq >= seq) {
            return;  // a later write's offer is already here
        }
        offered_chunks_ -= found->second.chunks.size();
        offers_.erase(found);
    }
    if (offered_chunks_ + chunks.size() > kMaxOfferedChunks) {
        return;
    }
    offered_chunks_ += chunks.size();
    offers_.emplace(document_id, Offer{seq, std::move(chunks)});
}

std::optional<std::vector<storage::IndexableChunk>> IndexMaintainer::take_offer(
    const std::string& document_id, std::int64_t seq) {
    std::lock_guard lock(offers_mutex_);
    auto found = offers_.find(document_id);
    if (found == offers_.end() || found->second.seq != seq) {
        return std::nullopt;
    }
    std::vector<storage::IndexableChunk> chunks = std::move(found->second.chunks);
    offered_chunks_ -= chunks.size();
    offers_.erase(found);
    return chunks;
}

void IndexMaintainer::drop_offers_upto(std::int64_t seq) {
    std::lock_guard lock(offers_mutex_);
    for (auto it = offers_.begin(); it != offers_.end();) {
        if (it->second.seq <= seq) {
            offered_chunks_ -= it->second.chunks.size();
            it = offers_.erase(it);
        } else {
            ++it;
        }
    }
}

core::Result<void> IndexMaintainer::index_chunks(std::vector<storage::IndexableChunk>& chunks,
                                                 bool vectors,
                                                 bool bm25,
                                                 CatchUpReport& report) {
    std::size_t vectors_added = 0;
    auto add_vectors = [&]() -> core::Result<void> {
        for (const auto& chunk : chunks) {
            if (chunk.embedding.empty()) {
                continue;
            }
            if (auto added = vectors_.add(chunk.chunk.id, chunk.embedding); !added) {
                return added.error();
            }
            ++vectors_added;
        }
        return {};
    };
    auto add_bm25 = [&]() -> core::Result<void> {
        for (const auto& chunk : chunks) {
            if (auto added = bm25_.add(chunk); !added) {
                return added.error();
            }
        }
        return {};
    };
    core::Result<void> vectors_done;
    core::Result<void> bm25_done;
    if (vectors && bm25 && chunks.size() >= kParallelMinChunks) {
        std::thread vector_thread([&] { vectors_done = add_vectors(); });
        bm25_done = add_bm25();
        vector_thread.join();
    } else {
        vectors_done = vectors ? add_vectors() : core::Result<void>{};
        bm25_done = bm25 ? add_bm25() : core::Result<void>{};
    }
    unsaved_changes_ += vectors_added;
    report.chunks_added += chunks.size();
    chunks.clear();
    if (!vectors_done) {
        return vectors_done.error();
    }
    return bm25_done;
}

core::Result<void> IndexMaintainer::rebuild(bool vectors,
                                            bool bm25,
                                            std::int64_t upto,
                                            CatchUpReport& report) {
    if (bm25) {
        if (auto cleared = bm25_.clear(); !cleared) {
            return cleared.error();
        }
    }
    core::Result<void> failure;
    std::vector<storage::IndexableChunk> group;
    auto scanned = storage_.for_each_chunk(model_id_, [&](const storage::IndexableChunk& chunk) {
        if (!failure) {
            return;
        }
        group.push_back(chunk);
        if (group.size() >= kIndexGroupChunks) {
            failure = index_chunks(group, vectors, bm25, report);
        }
    });
    if (!scanned) {
        return scanned.error();
    }
    if (failure) {
        failure = index_chunks(group, vectors, bm25, report);
    }
    if (!failure) {
        return failure.error();
    }
    if (vectors) {
        vectors_.set_applied_seq(upto);
        vectors_seq_changed_ = true;
        report.rebuilt_vectors = true;
    }
    if (bm25) {
        if (auto committed = bm25_.commit(upto); !committed) {
            return committed.error();
        }
        report.rebuilt_bm25 = true;
    }
    return {};
}

core::Result<CatchUpReport> IndexMaintainer::catch_up() {
    std::lock_guard lock(mutex_);
    CatchUpReport report;
    auto last = storage_.last_seq();
    if (!last) {
        return last.error();
    }
    report.to_seq = *last;

    // An index that is empty at sequence 0 while storage has history was lost or never built;
    // one ahead of storage belongs to other data. Either way, scan storage instead of replaying.
    // Except in a data directory that started empty under this process (a first `ragd ingest`):
    // its indexes are at 0 only because they have not caught up yet, the change log holds the
    // whole history (it is never truncated), and replaying it uses the chunks the writers
    // offered instead of reading back what was just written.
    if (*last == 0) {
        saw_empty_storage_ = true;
    }
    auto needs_rebuild = [&](std::int64_t applied, std::size_t size) {
        return applied > *last || (applied == 0 && size == 0 && *last > 0 && !saw_empty_storage_);
    };
    bool rebuild_vectors = needs_rebuild(vectors_.applied_seq(), vectors_.size());
    bool rebuild_bm25 = needs_rebuild(bm25_.applied_seq(), bm25_.size());
    if (rebuild_vectors && vectors_.size() > 0) {
        // Stale vectors from other data cannot be cleared label by label cheaply; the caller
        // opened it, so treat this as corrupt: start from an empty index next time.
        return core::fail(core::ErrorCode::kCorrupt,
                          "vector index is ahead of storage (applied seq " +
                              std::to_string(vectors_.applied_seq()) + " > " +
                              std::to_string(*last) + "); delete vectors.hnsw to rebuild it");
    }
    if (rebuild_vectors || rebuild_bm25) {
        if (auto rebuilt = rebuild(rebuild_vectors, rebuild_bm25, *last, report); !rebuilt) {
            return rebuilt.error();
        }
    }

    std::int64_t applied = std::min(vectors_.applied_seq(), bm25_.applied_seq());
    report.from_seq = applied;
    drop_offers_upto(applied);
    while (applied < *last) {
        auto changes = storage_.changes_since(applied, kChangeBatch);
        if (!changes) {
            return changes.error();
        }
        if (changes->empty()) {
            break;
        }
        // Collapse the batch per document: drop every chunk any change removed, then add each
        // touched document's current chunks once. `touched` keeps each document's last change.
        std::map<std::string, const storage::Change*> touched;
        for (const auto& change : *changes) {
            for (std::int64_t chunk_id : change.removed_chunk_ids) {
                vectors_.remove(chunk_id);
                ++unsaved_changes_;
                if (auto removed = bm25_.remove(chunk_id); !removed) {
                    return removed.error();
                }
                ++report.chunks_removed;
            }
            touched[change.document_id] = &change;
        }
        std::vector<storage::IndexableChunk> group;
        for (const auto& [document_id, last_change] : touched) {
            // The chunks that change stored, if its writer offered them: a later change of the
            // document (past this batch) removes them again when its own batch is applied.
            std::optional<std::vector<storage::IndexableChunk>> offered;
            if (last_change->kind == storage::ChangeKind::kUpsert) {
                offered = take_offer(document_id, last_change->seq);
            }
            auto chunks =
                offered ? core::Result<std::vector<storage::IndexableChunk>>(std::move(*offered))
                        : storage_.indexable_chunks_of(document_id, model_id_);
            if (!chunks) {
                return chunks.error();
            }
            std::move(chunks->begin(), chunks->end(), std::back_inserter(group));
            if (group.size() >= kIndexGroupChunks) {
                if (auto indexed = index_chunks(group, true, true, report); !indexed) {
                    return indexed.error();
                }
            }
        }
        if (auto indexed = index_chunks(group, true, true, report); !indexed) {
            return indexed.error();
        }
        applied = changes->back().seq;
        drop_offers_upto(applied);
        report.changes += changes->size();
        vectors_.set_applied_seq(applied);
        vectors_seq_changed_ = true;
        if (auto committed = bm25_.commit(applied); !committed) {
            return committed.error();
        }
        if (unsaved_changes_ >= kSaveAfterChunks &&
            std::chrono::steady_clock::now() - last_save_ >= kSaveInterval) {
            if (auto saved = save_indexes_locked(); !saved) {
                return saved.error();
            }
        }
    }
    return report;
}

core::Result<CatchUpReport> IndexMaintainer::rebuild_from_storage(bool vectors, bool bm25) {
    CatchUpReport report;
    {
        std::lock_guard lock(mutex_);
        auto last = storage_.last_seq();
        if (!last) {
            return last.error();
        }
        if (vectors) {
            vectors_.clear();
        }
        report.from_seq = 0;
        report.to_seq = *last;
        if (auto rebuilt = rebuild(vectors, bm25, *last, report); !rebuilt) {
            return rebuilt.error();
        }
    }
    // A writer in this process may have logged changes during the scan; replaying them is
    // harmless (catch_up's contract), and it brings the other index along if it lagged.
    auto caught_up = catch_up();
    if (!caught_up) {
        return caught_up.error();
    }
    report.changes += caught_up->changes;
    report.chunks_added += caught_up->chunks_added;
    report.chunks_removed += caught_up->chunks_removed;
    report.to_seq = caught_up->to_seq;
    std::lock_guard lock(mutex_);
    if (auto saved = save_indexes_locked(); !saved) {
        return saved.error();
    }
    return report;
}

std::function<core::Result<void>()> IndexMaintainer::catch_up_task() {
    return [this]() -> core::Result<void> {
        if (auto caught_up = catch_up(); !caught_up) {
            return caught_up.error();
        }
        return {};
    };
}

core::Result<void> IndexMaintainer::save_indexes_locked() {
    if (auto saved = vectors_.save(); !saved) {
        return saved.error();
    }
    if (auto persisted = bm25_.persist(); !persisted) {
        return persisted.error();
    }
    unsaved_changes_ = 0;
    vectors_seq_changed_ = false;
    last_save_ = std::chrono::steady_clock::now();
    return {};
}

core::Result<void> IndexMaintainer::flush() {
    std::lock_guard lock(mutex_);
    if (unsaved_changes_ == 0 && !vectors_seq_changed_) {
        return bm25_.persist();  // a BM25-only rebuild leaves the vectors as saved
    }
    return save_indexes_locked();
}

}  // namespace ragd::pipeline
