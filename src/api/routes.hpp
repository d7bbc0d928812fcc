// The /v1 HTTP API: thin handlers that decode a request, call the pipeline and encode the
// result. Logic lives in pipeline/; these only adapt.
#pragma once

#include <memory>

#include "core/config.hpp"
#include "http/router.hpp"
#include "cache/answer_cache.hpp"
#include "llm/answerer.hpp"
#include "llm/reranker.hpp"
#include "metrics/metrics.hpp"
#include "pipeline/engine.hpp"

namespace ragd::api {

/// HTTP status for an error code (the one place that maps them).
int status_for(core::ErrorCode code);

/// The JSON error response for `error` as the query routes send it: 503s (kOverloaded,
/// kUnavailable) carry Retry-After: 1.
http::Response query_error_response(const core::Error& error);

class ReadinessRegistry;
class Authenticator;

/// Registers every route on `router`; `engine` must outlive the server. With `metrics` (which
/// must also outlive the server) it adds GET /metrics, records each query's stage timings and
/// feeds the index and ragd_ready gauges; without, no route touches metrics. GET /ready reports
/// `readiness` (which must outlive the server; the engine's storage and index checks are added
/// to it), or without one a registry of its own holding only those checks. POST /v1/query answers
/// through `answerer` (its LLM chain; must outlive the server), or the engine's extractive
/// generator when null. With `answer_cache` (which must outlive the server) answers are cached
/// and identical queries in flight coalesced. `auth` guards the /v1 routes; null:
/// make_authenticator(config) (auth.hpp). With `reranker` (which must outlive the server),
/// /v1/query and /v1/search rerank their candidates before answering or returning them.
void register_routes(http::Router& router, pipeline::Engine& engine, const core::Config& config,
                     metrics::Metrics* metrics = nullptr, ReadinessRegistry* readiness = nullptr,
                     llm::Answerer* answerer = nullptr,
                     cache::AnswerCache* answer_cache = nullptr,
                     std::shared_ptr<const Authenticator> auth = nullptr,
                     llm::Reranker* reranker = nullptr);

}  // namespace ragd::api
