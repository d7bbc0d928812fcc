// The adapters between metrics/ and the layers it watches; see server_metrics.hpp.
#include "api/server_metrics.hpp"

#include <algorithm>

namespace ragd::api {

void ServerMetrics::on_connection_opened() {
    metrics_.connection_opened();
}

void ServerMetrics::on_connection_closed() {
    metrics_.connection_closed();
}

void ServerMetrics::on_request_started() {
    metrics_.request_started();
}

void ServerMetrics::on_request_done(std::string_view route_pattern, http::Method method,
                                    int status, double seconds) {
    metrics_.observe_request(route_pattern, http::method_name(method), status, seconds);
    metrics_.request_finished();
}

void ServerMetrics::on_request_abandoned() {
    metrics_.request_finished();
}

void ServerMetrics::on_shed() {
    metrics_.shed();
}

void observe_stages(metrics::Metrics& metrics, const pipeline::StageTimings& timings,
                    pipeline::RetrievalMode mode, bool answered) {
    constexpr double kSecondsPerMs = 1e-3;
    if (mode != pipeline::RetrievalMode::kBm25) {
        metrics.observe_stage(metrics::Stage::kEmbed, timings.embed * kSecondsPerMs);
        metrics.observe_stage(metrics::Stage::kVector, timings.vector * kSecondsPerMs);
    }
    if (mode != pipeline::RetrievalMode::kVector) {
        metrics.observe_stage(metrics::Stage::kBm25, timings.bm25 * kSecondsPerMs);
    }
    metrics.observe_stage(metrics::Stage::kFuse, timings.fuse * kSecondsPerMs);
    if (answered) {
        metrics.observe_stage(metrics::Stage::kGenerate, timings.generate * kSecondsPerMs);
    }
}

metrics::IndexSource index_source(pipeline::Engine& engine) {
    return [&engine]() -> std::optional<metrics::IndexSnapshot> {
        auto stats = engine.storage().stats();
        if (!stats) {
            return std::nullopt;
        }
        const pipeline::IndexStats index = engine.index_stats();
        metrics::IndexSnapshot snapshot;
        snapshot.documents = stats->documents;
        snapshot.chunks = stats->chunks;
        snapshot.vectors = static_cast<std::int64_t>(index.vectors);
        const std::int64_t applied = std::min(index.vectors_applied_seq, index.bm25_applied_seq);
        snapshot.change_seq_lag = std::max<std::int64_t>(0, stats->last_seq - applied);
        return snapshot;
    };
}

}  // namespace ragd::api
