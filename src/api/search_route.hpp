// POST /v1/search when a reranker is configured: the same search as the synchronous route,
// then the reranker's call awaited on the I/O thread (retrieval itself runs on the compute
// pool), so waiting on the rerank service costs no thread.
#pragma once

#include "api/auth.hpp"
#include "api/request_decoding.hpp"
#include "llm/reranker.hpp"
#include "metrics/metrics.hpp"
#include "pipeline/engine.hpp"

namespace ragd::api {

struct SearchRouteDeps {
    pipeline::Engine* engine = nullptr;
    llm::Reranker* reranker = nullptr;    ///< must not be null
    metrics::Metrics* metrics = nullptr;  ///< may be null
    Limits limits;
};

/// The handler for POST /v1/search, to be wrapped by guard_async(). `deps` is copied in.
GuardedAsyncHandler make_reranked_search_handler(SearchRouteDeps deps);

}  // namespace ragd::api
