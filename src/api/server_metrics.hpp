// Connects ragd's metrics to the layers they watch: the HTTP server's observer hook, the query
// pipeline's stage timings and the engine's index sizes. Here, not in metrics/, so that metrics/
// depends on nothing but core and http/ and pipeline/ stay metrics-free.
#pragma once

#include "http/observer.hpp"
#include "metrics/metrics.hpp"
#include "pipeline/engine.hpp"
#include "pipeline/query_service.hpp"

namespace ragd::api {

/// Forwards every server event to `metrics` (which must outlive the server it observes).
class ServerMetrics final : public http::ServerObserver {
public:
    explicit ServerMetrics(metrics::Metrics& metrics) : metrics_(metrics) {}

    void on_connection_opened() override;
    void on_connection_closed() override;
    void on_request_started() override;
    void on_request_done(std::string_view route_pattern, http::Method method, int status,
                         double seconds) override;
    void on_request_abandoned() override;
    void on_shed() override;

private:
    metrics::Metrics& metrics_;
};

/// Records the stages a query ran (ms in StageTimings, seconds in the histogram): embed and
/// vector unless BM25-only, bm25 unless vector-only, fuse always, generate when `answered`.
void observe_stages(metrics::Metrics& metrics, const pipeline::StageTimings& timings,
                    pipeline::RetrievalMode mode, bool answered);

/// The scrape-time source of the ragd_index_* gauges; `engine` must outlive `metrics`' scrapes.
metrics::IndexSource index_source(pipeline::Engine& engine);

}  // namespace ragd::api
