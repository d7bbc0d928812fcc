// Reciprocal rank fusion: scores depend only on ranks, so retrievers with incomparable scores
// (cosine vs BM25) combine without calibration.
#include "retrieval/fusion.hpp"

#include <algorithm>
#include <limits>
#include <unordered_map>

namespace ragd::retrieval {

std::vector<FusedHit> reciprocal_rank_fusion(std::span<const RankedList> lists, double k,
                                             std::size_t limit) {
    std::unordered_map<std::int64_t, std::size_t> position;  // chunk id -> index in fused
    std::vector<FusedHit> fused;
    for (std::size_t list_idx = 0; list_idx < lists.size(); ++list_idx) {
        const RankedList& list = lists[list_idx];
        for (std::size_t rank_idx = 0; rank_idx < list.ids.size(); ++rank_idx) {
            std::int64_t id = list.ids[rank_idx];
            auto [it, inserted] = position.try_emplace(id, fused.size());
            if (inserted) {
                FusedHit hit;
                hit.chunk_id = id;
                hit.ranks.assign(lists.size(), 0);
                fused.push_back(std::move(hit));
            }
            FusedHit& hit = fused[it->second];
            if (hit.ranks[list_idx] != 0) {
                continue;  // a duplicate within one list counts at its best rank only
            }
            auto rank = static_cast<std::uint32_t>(rank_idx + 1);
            hit.ranks[list_idx] = rank;
            hit.score += list.weight / (k + static_cast<double>(rank));
        }
    }
    auto best_rank = [](const FusedHit& hit) {
        std::uint32_t best = std::numeric_limits<std::uint32_t>::max();
        for (std::uint32_t rank : hit.ranks) {
            if (rank != 0) {
                best = std::min(best, rank);
            }
        }
        return best;
    };
    auto better = [&](const FusedHit& a, const FusedHit& b) {
        if (a.score != b.score) {
            return a.score > b.score;
        }
        std::uint32_t rank_a = best_rank(a);
        std::uint32_t rank_b = best_rank(b);
        if (rank_a != rank_b) {
            return rank_a < rank_b;
        }
        return a.chunk_id < b.chunk_id;
    };
    std::size_t keep = std::min(limit, fused.size());
    std::partial_sort(fused.begin(), fused.begin() + static_cast<std::ptrdiff_t>(keep),
                      fused.end(), better);
    fused.resize(keep);
    return fused;
}

}  // namespace ragd::retrieval
