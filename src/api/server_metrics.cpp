// The adapters between metrics/ and the layers it watches; see server_metrics.hpp.
#include "api/server_metrics.hpp"

#include <algorithm>
#include <charconv>
#include <memory>

#include "storage/stats_by_seq.hpp"

namespace ragd::api {

void ServerMetrics::on_connection_opened() {
    if (metrics_ != nullptr) {
        metrics_->connection_opened();
    }
}

void ServerMetrics::on_connection_closed() {
    if (metrics_ != nullptr) {
        metrics_->connection_closed();
    }
}

void ServerMetrics::on_request_started() {
    if (metrics_ != nullptr) {
        metrics_->request_started();
    }
}

void ServerMetrics::on_request_done(const http::RequestRecord& record) {
    const char* method = http::method_name(record.method);
    if (metrics_ != nullptr) {
        metrics_->observe_request(record.route_pattern, method, record.status, record.seconds);
        metrics_->request_finished();
    }
    if (access_log_ == nullptr || !access_log_->enabled()) {
        return;
    }
    metrics::AccessLogEntry entry;
    entry.request_id = record.request_id;
    entry.trace_id = record.trace_id;
    entry.method = method;
    entry.route = record.route_pattern;
    entry.target_path = record.path;
    entry.remote_address = record.remote_address;
    entry.cache_tier = record.annotation("cache");
    entry.generator = record.annotation("generator");
    entry.degraded = record.annotation("degraded");
    entry.status = record.status;
    entry.duration_ms = record.seconds * 1000.0;
    entry.bytes_in = record.bytes_in;
    entry.bytes_out = record.bytes_out;
    const std::string_view attempts = record.annotation("upstream_attempts");
    unsigned attempt_count = 0;
    std::from_chars(attempts.data(), attempts.data() + attempts.size(), attempt_count);
    entry.upstream_attempts = attempt_count;
    access_log_->record(entry);
}

void ServerMetrics::on_request_abandoned() {
    if (metrics_ != nullptr) {
        metrics_->request_finished();
    }
}

void ServerMetrics::on_shed() {
    if (metrics_ != nullptr) {
        metrics_->shed();
    }
}

namespace {

int breaker_gauge(llm::CircuitBreaker::State state) {
    switch (state) {
        case llm::CircuitBreaker::State::kClosed:
            return 0;
        case llm::CircuitBreaker::State::kHalfOpen:
            return 1;
        case llm::CircuitBreaker::State::kOpen:
            return 2;
    }
    return 0;
}

}  // namespace

void UpstreamMetricsObserver::on_call(std::string_view upstream, const llm::CallReport& report) {
    upstream_.call(upstream, report.outcome, report.seconds);
}

void UpstreamMetricsObserver::on_first_token(std::string_view upstream, double seconds) {
    upstream_.first_token(upstream, seconds);
}

void UpstreamMetricsObserver::on_retry(std::string_view upstream) {
    upstream_.retry(upstream);
}

void UpstreamMetricsObserver::on_tokens(std::string_view upstream,
                                        std::size_t prompt,
                                        std::size_t completion) {
    upstream_.tokens(upstream, prompt, completion);
}

void UpstreamMetricsObserver::on_breaker_state(std::string_view upstream,
                                               llm::CircuitBreaker::State state) {
    upstream_.breaker_state(upstream, breaker_gauge(state));
}

void UpstreamMetricsObserver::refresh(const llm::Answerer& answerer) {
    for (const llm::UpstreamStatus& status : answerer.upstream_statuses()) {
        upstream_.breaker_state(status.name, breaker_gauge(status.breaker));
        upstream_.pool(status.name, status.pool.in_use, status.pool.idle);
    }
}

std::vector<metrics::SampledFamily> cache_families(const cache::AnswerCacheStats& stats) {
    using Sample = metrics::SampledFamily::Sample;
    std::vector<metrics::SampledFamily> families;
    metrics::SampledFamily requests{
        "ragd_cache_requests_total", "Answer cache lookups by tier and result.", true, {}};
    for (std::size_t tier_idx = 0; tier_idx < cache::kCacheTierCount; ++tier_idx) {
        const auto tier = static_cast<cache::CacheTier>(tier_idx);
        for (std::size_t outcome_idx = 0; outcome_idx < cache::kCacheOutcomeCount; ++outcome_idx) {
            const auto outcome = static_cast<cache::CacheOutcome>(outcome_idx);
            requests.samples.push_back(Sample{{{"tier", cache::cache_tier_name(tier)},
                                               {"result", cache::cache_outcome_name(outcome)}},
                                              static_cast<double>(stats.count(tier, outcome))});
        }
    }
    families.push_back(std::move(requests));
    families.push_back(metrics::SampledFamily{
        "ragd_cache_entries",
        "Answers held by the in-process tiers.",
        false,
        {Sample{{{"tier", "l1"}}, static_cast<double>(stats.l1.entries)},
         Sample{{{"tier", "semantic"}}, static_cast<double>(stats.semantic.entries)}}});
    families.push_back(metrics::SampledFamily{
        "ragd_cache_bytes",
        "Bytes held by the in-process answer cache (L1), keys and overhead included.",
        false,
        {Sample{{{"tier", "l1"}}, static_cast<double>(stats.l1.bytes)}}});
    families.push_back(
        metrics::SampledFamily{"ragd_cache_evictions_total",
                               "L1 answers evicted to stay within cache.l1_max_bytes.",
                               true,
                               {Sample{{}, static_cast<double>(stats.l1.evictions)}}});
    families.push_back(metrics::SampledFamily{"ragd_cache_stores_total",
                                              "Answers stored in the cache.",
                                              true,
                                              {Sample{{}, static_cast<double>(stats.stores)}}});
    if (stats.l2_enabled) {
        families.push_back(metrics::SampledFamily{
            "ragd_cache_l2_up",
            "1 while the Redis L2 cache is reachable, else 0 (lookups then use L1 only).",
            false,
            {Sample{{}, stats.l2_healthy ? 1.0 : 0.0}}});
    }
    return families;
}

std::vector<metrics::SampledFamily> passage_cache_families(
    const storage::PassageCacheStats& stats) {
    using Sample = metrics::SampledFamily::Sample;
    std::vector<metrics::SampledFamily> families;
    families.push_back(metrics::SampledFamily{
        "ragd_passage_cache_requests_total",
        "Passages a query loaded, by whether memory held them (hit) or storage was read (miss).",
        true,
        {Sample{{{"result", "hit"}}, static_cast<double>(stats.hits)},
         Sample{{{"result", "miss"}}, static_cast<double>(stats.misses)}}});
    families.push_back(metrics::SampledFamily{"ragd_passage_cache_entries",
                                              "Passages held in memory.",
                                              false,
                                              {Sample{{}, static_cast<double>(stats.entries)}}});
    families.push_back(metrics::SampledFamily{
        "ragd_passage_cache_bytes",
        "Estimated bytes of the passages held, counted against storage.passage_cache_bytes.",
        false,
        {Sample{{}, static_cast<double>(stats.bytes)}}});
    return families;
}

void observe_stages(metrics::Metrics& metrics,
                    const pipeline::StageTimings& timings,
                    pipeline::RetrievalMode mode,
                    bool answered) {
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

std::string degraded_annotation(bool embedder_failed, bool reranker_failed) {
    std::string degraded;
    if (embedder_failed) {
        degraded = "embedder";
    }
    if (reranker_failed) {
        degraded += degraded.empty() ? "reranker" : ",reranker";
    }
    return degraded;
}

metrics::IndexSource index_source(pipeline::Engine& engine) {
    // Counted again only after a write (stats_by_seq.hpp): scrapes of a server that only
    // answers questions do not count rows.
    auto counts =
        std::make_shared<storage::StatsBySeq>([&engine] { return engine.storage().last_seq(); },
                                              [&engine] { return engine.storage().stats(); });
    return [&engine, counts]() -> std::optional<metrics::IndexSnapshot> {
        auto stats = counts->get();
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
        snapshot.applied_seq = applied;
        return snapshot;
    };
}

}  // namespace ragd::api
