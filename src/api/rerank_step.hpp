// Reranking between retrieval and the answer, shared by POST /v1/query and /v1/search: how deep
// to retrieve so the reranker has its candidates, and the reorder itself. A reranker may only
// improve the order: when it fails, the fused order stands and the query goes on.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "api/request_decoding.hpp"
#include "core/cancel_token.hpp"
#include "llm/reranker.hpp"
#include "metrics/metrics.hpp"
#include "pipeline/query_service.hpp"

namespace ragd::api {

/// True when `reranker` is configured and the request did not turn it off.
bool rerank_requested(const llm::Reranker* reranker, const QueryRequest& request);

/// The top_k retrieval should use: the reranker's candidate count when it will run (never
/// below the request's top_k, never above `max_top_k`), else the request's own.
std::size_t retrieval_depth(const llm::Reranker* reranker,
                            const QueryRequest& request,
                            std::size_t max_top_k);

enum class RerankOutcome {
    kApplied,    ///< the hits are in the reranker's order
    kNotNeeded,  ///< one hit or none: nothing to reorder, no call made
    kFailed,     ///< the reranker failed (or the client left): the fused order stands
};

/// Orders `searched.hits` by the reranker's scores (each hit then carries its rerank_score),
/// keeps the best `top_k` and renumbers them 1..top_k; sets searched.reranked. On failure keeps
/// the first `top_k` in fused order and logs why. Sets searched.timings.rerank whenever the
/// reranker was called, and counts the outcome in `metrics` (may be null) unless the client
/// left.
boost::asio::awaitable<RerankOutcome> rerank_hits(llm::Reranker& reranker,
                                                  metrics::Metrics* metrics,
                                                  std::string query,
                                                  pipeline::SearchOutcome& searched,
                                                  std::size_t top_k,
                                                  std::shared_ptr<core::CancelToken> cancel);

}  // namespace ragd::api
