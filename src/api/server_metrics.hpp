// Connects ragd's metrics to the layers they watch: the HTTP server's observer hook, the query
// pipeline's stage timings and the engine's index sizes. Here, not in metrics/, so that metrics/
// depends on nothing but core and http/ and pipeline/ stay metrics-free.
#pragma once

#include <string>

#include "cache/answer_cache.hpp"
#include "http/observer.hpp"
#include "llm/answerer.hpp"
#include "metrics/access_log.hpp"
#include "metrics/metrics.hpp"
#include "metrics/upstream_metrics.hpp"
#include "pipeline/engine.hpp"
#include "pipeline/query_service.hpp"

namespace ragd::api {

/// Forwards every server event to `metrics` (which must outlive the server it observes).
class ServerMetrics final : public http::ServerObserver {
public:
    /// With `access_log` (which must outlive the server too), also writes one access-log line
    /// per request. A null `metrics` (server.metrics = false) records nothing but the log.
    explicit ServerMetrics(metrics::Metrics* metrics, metrics::AccessLog* access_log = nullptr)
        : metrics_(metrics), access_log_(access_log) {}

    void on_connection_opened() override;
    void on_connection_closed() override;
    void on_request_started() override;
    void on_request_done(const http::RequestRecord& record) override;
    void on_request_abandoned() override;
    void on_shed() override;

private:
    metrics::Metrics* metrics_;
    metrics::AccessLog* access_log_;
};

/// Feeds the ragd_upstream_* series from the LLM layer's observer hook.
class UpstreamMetricsObserver final : public llm::UpstreamObserver {
public:
    explicit UpstreamMetricsObserver(metrics::Metrics& metrics) : upstream_(metrics) {}
    void on_call(std::string_view upstream, const llm::CallReport& report) override;
    void on_first_token(std::string_view upstream, double seconds) override;
    void on_retry(std::string_view upstream) override;
    void on_tokens(std::string_view upstream, std::size_t prompt, std::size_t completion) override;
    void on_breaker_state(std::string_view upstream, llm::CircuitBreaker::State state) override;
    /// Sets the pool and breaker gauges from `answerer` (call on each scrape).
    void refresh(const llm::Answerer& answerer);

private:
    metrics::UpstreamMetrics upstream_;
};

/// The ragd_cache_* families from the answer cache's counters: requests by tier and result,
/// entries and bytes by tier, evictions, stores, and whether Redis (L2) is reachable.
std::vector<metrics::SampledFamily> cache_families(const cache::AnswerCacheStats& stats);

/// The ragd_passage_cache_* families: passages served from memory or read from storage, and
/// what the cache holds.
std::vector<metrics::SampledFamily> passage_cache_families(const storage::PassageCacheStats& stats);

/// Records the stages a query ran (ms in StageTimings, seconds in the histogram): embed and
/// vector unless BM25-only, bm25 unless vector-only, fuse always, generate when `answered`.
void observe_stages(metrics::Metrics& metrics,
                    const pipeline::StageTimings& timings,
                    pipeline::RetrievalMode mode,
                    bool answered);

/// The access log's "degraded" annotation: what failed and was worked around while serving a
/// query: "embedder" (a hybrid query ran on BM25 alone) and "reranker" (the fused order stood),
/// comma-separated; empty when nothing did.
std::string degraded_annotation(bool embedder_failed, bool reranker_failed);

/// The scrape-time source of the ragd_index_* gauges; `engine` must outlive `metrics`' scrapes.
metrics::IndexSource index_source(pipeline::Engine& engine);

}  // namespace ragd::api
