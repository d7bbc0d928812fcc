// The /v1 HTTP API: thin handlers that decode a request, call the pipeline and encode the
// result. Logic lives in pipeline/; these only adapt.
#pragma once

#include "core/config.hpp"
#include "http/router.hpp"
#include "metrics/metrics.hpp"
#include "pipeline/engine.hpp"

namespace ragd::api {

/// HTTP status for an error code (the one place that maps them).
int status_for(core::ErrorCode code);

/// Registers every route on `router`; `engine` must outlive the server. With `metrics` (which
/// must also outlive the server) it adds GET /metrics, records each query's stage timings and
/// feeds the index gauges from `engine`; without, no route touches metrics.
void register_routes(http::Router& router, pipeline::Engine& engine, const core::Config& config,
                     metrics::Metrics* metrics = nullptr);

}  // namespace ragd::api
