// POST /v1/query as a coroutine: retrieval on the compute pool, then the answer from the LLM
// chain (awaited on the I/O thread, so thousands of waiting requests cost no threads), sent as
// JSON or streamed as Server-Sent Events.
#pragma once

#include "api/auth.hpp"
#include "api/request_decoding.hpp"
#include "cache/answer_cache.hpp"
#include "cache/singleflight.hpp"
#include "core/config.hpp"
#include "http/router.hpp"
#include "llm/answerer.hpp"
#include "llm/reranker.hpp"
#include "metrics/metrics.hpp"
#include "pipeline/engine.hpp"

namespace ragd::api {

struct QueryRouteDeps {
    pipeline::Engine* engine = nullptr;
    /// Null: answers come from the engine's extractive generator only.
    llm::Answerer* answerer = nullptr;
    metrics::Metrics* metrics = nullptr;  ///< may be null
    Limits limits;
    /// Admission for whole queries (llm::Bulkhead semantics: slots, bounded FIFO wait queue
    /// with a deadline); shared by every request of the route.
    std::shared_ptr<llm::Bulkhead> admission;
    std::size_t default_max_tokens = 512;
    double default_temperature = 0.2;
    /// Answer cache (L1 → L2 → semantic); null turns caching off.
    cache::AnswerCache* cache = nullptr;
    /// Coalesces identical non-streamed queries in flight into one pipeline run.
    std::shared_ptr<cache::Singleflight<std::string>> flights;
    /// What answers: the generator chain and models, part of every cache key.
    std::string generator_id;
    /// Reorders retrieval's candidates before the answer; null: off.
    llm::Reranker* reranker = nullptr;
};

/// The handler for POST /v1/query, to be wrapped by guard_async(): the caller's tenant filter
/// restricts retrieval and its LLM tokens are charged to its budgets. `deps` is copied in.
GuardedAsyncHandler make_query_handler(QueryRouteDeps deps);

/// One Server-Sent Event: "event: NAME\ndata: JSON\n\n" (JSON has no raw newlines).
std::string sse_event(std::string_view name, std::string_view json);

}  // namespace ragd::api
