// Reciprocal rank fusion: scores depend only on ranks, so retrievers with incomparable scores
// (cosine vs BM25) combine without calibration.
#include "retrieval/fusion.hpp"

#include <algorithm>
#include <limits>

namespace ragd::retrieval {

std::vector<FusedHit> reciprocal_rank_fusion(std::span<const RankedList> lists,
                                             double k,
                                             std::size_t limit) {
    // Runs once per query over ~2 × candidates ids: a flat sort instead of a hash map and a
    // ranks vector per candidate (those allocations were a visible share of a query's CPU);
    // only the hits returned get their own ranks vector.
    struct Entry {
        std::int64_t id;
        std::uint32_t list;
        std::uint32_t rank;  // 1-based
    };
    std::vector<Entry> entries;
    std::size_t total = 0;
    for (const RankedList& list : lists) {
        total += list.ids.size();
    }
    entries.reserve(total);
    for (std::size_t list_idx = 0; list_idx < lists.size(); ++list_idx) {
        const auto& ids = lists[list_idx].ids;
        for (std::size_t rank_idx = 0; rank_idx < ids.size(); ++rank_idx) {
            entries.push_back(Entry{ids[rank_idx],
                                    static_cast<std::uint32_t>(list_idx),
                                    static_cast<std::uint32_t>(rank_idx + 1)});
        }
    }
    // By id, then list, then rank: a duplicate within one list counts at its best rank only.
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
        if (a.id != b.id) {
            return a.id < b.id;
        }
        return a.list != b.list ? a.list < b.list : a.rank < b.rank;
    });
    struct Candidate {
        std::int64_t id = 0;
        double score = 0;
        std::uint32_t best_rank = std::numeric_limits<std::uint32_t>::max();
        std::size_t first = 0;  // its entries are entries[first, last)
        std::size_t last = 0;
    };
    std::vector<Candidate> candidates;
    candidates.reserve(entries.size());
    for (std::size_t at = 0; at < entries.size();) {
        Candidate candidate;
        candidate.id = entries[at].id;
        candidate.first = at;
        std::uint32_t previous_list = std::numeric_limits<std::uint32_t>::max();
        for (; at < entries.size() && entries[at].id == candidate.id; ++at) {
            const Entry& entry = entries[at];
            if (entry.list == previous_list) {
                continue;  // a worse duplicate in the same list
            }
            previous_list = entry.list;
            candidate.score += lists[entry.list].weight / (k + static_cast<double>(entry.rank));
            candidate.best_rank = std::min(candidate.best_rank, entry.rank);
        }
        candidate.last = at;
        candidates.push_back(candidate);
    }
    auto better = [](const Candidate& a, const Candidate& b) {
        if (a.score != b.score) {
            return a.score > b.score;
        }
        if (a.best_rank != b.best_rank) {
            return a.best_rank < b.best_rank;
        }
        return a.id < b.id;
    };
    std::size_t keep = std::min(limit, candidates.size());
    std::partial_sort(candidates.begin(),
                      candidates.begin() + static_cast<std::ptrdiff_t>(keep),
                      candidates.end(),
                      better);
    std::vector<FusedHit> fused(keep);
    for (std::size_t at = 0; at < keep; ++at) {
        const Candidate& candidate = candidates[at];
        FusedHit& hit = fused[at];
        hit.chunk_id = candidate.id;
        hit.score = candidate.score;
        hit.ranks.assign(lists.size(), 0);
        for (std::size_t entry = candidate.first; entry < candidate.last; ++entry) {
            std::uint32_t& rank = hit.ranks[entries[entry].list];
            if (rank == 0) {
                rank = entries[entry].rank;  // entries of a list come best rank first
            }
        }
    }
    return fused;
}

}  // namespace ragd::retrieval
