// Reciprocal rank fusion of ranked lists from several retrievers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace ragd::retrieval {

struct RankedList {
    std::vector<std::int64_t> ids;  ///< best first
    double weight = 1.0;
};

struct FusedHit {
    std::int64_t chunk_id = 0;
    double score = 0;                 ///< sum over lists of weight / (k + rank)
    std::vector<std::uint32_t> ranks; ///< 1-based rank in each input list, 0 where absent
};

/// Fuses `lists` with RRF constant `k`, returns the top `limit` by score (ties: better best rank,
/// then lower id, so results are deterministic).
std::vector<FusedHit> reciprocal_rank_fusion(std::span<const RankedList> lists, double k,
                                             std::size_t limit);

}  // namespace ragd::retrieval
