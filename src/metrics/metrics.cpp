// Metrics::Impl: the prometheus-cpp registry and a cache of the series the hot paths touch, so a
// request costs one small map lookup plus atomic updates rather than a Family::Add (which builds
// a label map and, for histograms, a throwaway Histogram on every call).
#include "metrics/metrics.hpp"

#include <array>
#include <charconv>
#include <mutex>
#include <sstream>
#include <unordered_map>
#include <utility>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace ragd::metrics {
namespace {

/// A gauge family with one unlabelled series, which is what most of ragd's gauges are.
prometheus::Gauge& unlabelled_gauge(prometheus::Registry& registry,
                                    const std::string& name,
                                    const std::string& help) {
    return prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({});
}

// Request latency: from 1 ms (an inline /health) to 60 s (a slow generation).
const prometheus::Histogram::BucketBoundaries kRequestBuckets = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
// Stages: fusion and lexical embedding take tens of microseconds, so start lower.
const prometheus::Histogram::BucketBoundaries kStageBuckets = {0.0001,
                                                               0.00025,
                                                               0.0005,
                                                               0.001,
                                                               0.0025,
                                                               0.005,
                                                               0.01,
                                                               0.025,
                                                               0.05,
                                                               0.1,
                                                               0.25,
                                                               0.5,
                                                               1,
                                                               2.5,
                                                               5,
                                                               10,
                                                               30,
                                                               60};

constexpr std::array<Stage, 9> kStages = {Stage::kEmbed,
                                          Stage::kVector,
                                          Stage::kBm25,
                                          Stage::kFuse,
                                          Stage::kGenerate,
                                          Stage::kLlmFirstToken,
                                          Stage::kLlmTotal,
                                          Stage::kCache,
                                          Stage::kRerank};

/// Lets the series cache be searched with a string_view key, without building a std::string.
struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view key) const {
        return std::hash<std::string_view>{}(key);
    }
};

struct RequestSeries {
    prometheus::Counter* requests = nullptr;
    prometheus::Histogram* duration = nullptr;
};

prometheus::MetricFamily single_value_family(std::string name,
                                             std::string help,
                                             prometheus::MetricType type,
                                             double value) {
    prometheus::MetricFamily family;
    family.name = std::move(name);
    family.help = std::move(help);
    family.type = type;
    prometheus::ClientMetric metric;
    if (type == prometheus::MetricType::Counter) {
        metric.counter.value = value;
    } else {
        metric.gauge.value = value;
    }
    family.metric.push_back(std::move(metric));
    return family;
}

/// process_* families. Built per scrape rather than registered, because prometheus-cpp's
/// Counter only goes up by increments and process_cpu_seconds_total must be a counter whose
/// value is read from the kernel.
std::vector<prometheus::MetricFamily> process_families() {
    std::vector<prometheus::MetricFamily> families;
    const auto snapshot = read_process_snapshot();
    if (!snapshot) {
        return families;
    }
    using prometheus::MetricType;
    families.push_back(single_value_family("process_cpu_seconds_total",
                                           "Total user and system CPU time spent in seconds.",
                                           MetricType::Counter,
                                           snapshot->cpu_seconds));
    families.push_back(single_value_family("process_resident_memory_bytes",
                                           "Resident memory size in bytes.",
                                           MetricType::Gauge,
                                           snapshot->resident_memory_bytes));
    families.push_back(single_value_family("process_virtual_memory_bytes",
                                           "Virtual memory size in bytes.",
                                           MetricType::Gauge,
                                           snapshot->virtual_memory_bytes));
    families.push_back(single_value_family("process_open_fds",
                                           "Number of open file descriptors.",
                                           MetricType::Gauge,
                                           snapshot->open_fds));
    families.push_back(single_value_family("process_max_fds",
                                           "Maximum number of open file descriptors.",
                                           MetricType::Gauge,
                                           snapshot->max_fds));
    families.push_back(single_value_family("process_start_time_seconds",
                                           "Start time of the process since unix epoch in seconds.",
                                           MetricType::Gauge,
                                           snapshot->start_time_seconds));
    return families;
}

}  // namespace

const char* stage_name(Stage stage) {
    switch (stage) {
        case Stage::kEmbed:
            return "embed";
        case Stage::kVector:
            return "vector";
        case Stage::kBm25:
            return "bm25";
        case Stage::kFuse:
            return "fuse";
        case Stage::kGenerate:
            return "generate";
        case Stage::kLlmFirstToken:
            return "llm_ttfb";
        case Stage::kLlmTotal:
            return "llm_total";
        case Stage::kCache:
            return "cache";
        case Stage::kRerank:
            return "rerank";
    }
    return "unknown";
}

struct Metrics::Impl {
    Impl()
        : requests(prometheus::BuildCounter()
                       .Name("ragd_http_requests_total")
                       .Help("HTTP responses sent, by route pattern, method and status code.")
                       .Register(registry)),
          request_duration(prometheus::BuildHistogram()
                               .Name("ragd_http_request_duration_seconds")
                               .Help("Time from a request head being read to its response "
                                     "being written, by route pattern.")
                               .Register(registry)),
          inflight(unlabelled_gauge(registry,
                                    "ragd_inflight_requests",
                                    "Requests whose head was read and whose response is not yet "
                                    "written.")),
          open_connections(
              unlabelled_gauge(registry, "ragd_open_connections", "Open client connections.")),
          shed_family(prometheus::BuildCounter()
                          .Name("ragd_shed_total")
                          .Help("Requests refused with 503 instead of being run, by reason.")
                          .Register(registry)),
          shed_queue_full(shed_family.Add({{"reason", "queue_full"}})),
          shed_query_limit(shed_family.Add({{"reason", "query_limit"}})),
          rerank_family(prometheus::BuildCounter()
                            .Name("ragd_rerank_total")
                            .Help("Rerank calls, by outcome: applied, or failed (the fused "
                                  "order was kept).")
                            .Register(registry)),
          rerank_applied(rerank_family.Add({{"outcome", "applied"}})),
          rerank_failed(rerank_family.Add({{"outcome", "failed"}})),
          question_embedding_family(
              prometheus::BuildCounter()
                  .Name("ragd_question_embeddings_total")
                  .Help("Questions embedded by a remote embedder, by outcome: ok, or failed "
                        "(hybrid retrieval went on with BM25 alone).")
                  .Register(registry)),
          question_embedding_ok(question_embedding_family.Add({{"outcome", "ok"}})),
          question_embedding_failed(question_embedding_family.Add({{"outcome", "failed"}})),
          index_documents(
              unlabelled_gauge(registry, "ragd_index_documents", "Documents in storage.")),
          index_chunks(unlabelled_gauge(registry, "ragd_index_chunks", "Chunks in storage.")),
          index_vectors(
              unlabelled_gauge(registry, "ragd_index_vectors", "Vectors in the HNSW index.")),
          index_lag(
              unlabelled_gauge(registry,
                               "ragd_index_change_seq_lag",
                               "Storage change sequence minus the lowest sequence the indexes "
                               "have applied; 0 when caught up.")),
          index_applied(unlabelled_gauge(registry,
                                         "ragd_index_applied_seq",
                                         "The lowest change sequence the indexes have applied.")) {
        auto& stages = prometheus::BuildHistogram()
                           .Name("ragd_stage_duration_seconds")
                           .Help("Wall time of each query pipeline stage.")
                           .Register(registry);
        for (Stage stage : kStages) {
            stage_duration[static_cast<std::size_t>(stage)] =
                &stages.Add({{"stage", stage_name(stage)}}, kStageBuckets);
        }
        const BuildInfo info = build_info();
        prometheus::BuildGauge()
            .Name("ragd_build_info")
            .Help("Always 1; the labels name the running build.")
            .Register(registry)
            .Add({{"version", info.version}, {"commit", info.commit}})
            .Set(1);
    }

    RequestSeries& request_series(std::string_view route, std::string_view method, int status);

    // The registry first: the families below live in it.
    prometheus::Registry registry;
    prometheus::Family<prometheus::Counter>& requests;
    prometheus::Family<prometheus::Histogram>& request_duration;
    prometheus::Gauge& inflight;
    prometheus::Gauge& open_connections;
    prometheus::Family<prometheus::Counter>& shed_family;
    prometheus::Counter& shed_queue_full;
    prometheus::Counter& shed_query_limit;
    prometheus::Family<prometheus::Counter>& rerank_family;
    prometheus::Counter& rerank_applied;
    prometheus::Counter& rerank_failed;
    prometheus::Family<prometheus::Counter>& question_embedding_family;
    prometheus::Counter& question_embedding_ok;
    prometheus::Counter& question_embedding_failed;
    prometheus::Gauge& index_documents;
    prometheus::Gauge& index_chunks;
    prometheus::Gauge& index_vectors;
    prometheus::Gauge& index_lag;
    prometheus::Gauge& index_applied;
    std::array<prometheus::Histogram*, kStages.size()> stage_duration{};

    std::mutex series_mutex;  // guards series; the metrics themselves are atomic
    /// Key: route '\n' method '\n' code. Entries point into the registry and are never removed.
    std::unordered_map<std::string, RequestSeries, KeyHash, std::equal_to<>> series;

    std::mutex index_source_mutex;  // guards the three scrape-time sources below
    IndexSource index_source;
    std::function<bool()> ready_source;
    std::function<std::uint64_t()> log_dropped_source;
    std::vector<std::function<void()>> scrape_hooks;
    std::vector<std::function<std::vector<SampledFamily>()>> sampled_sources;
};

RequestSeries& Metrics::Impl::request_series(std::string_view route,
                                             std::string_view method,
                                             int status) {
    std::array<char, 16> code_text{};
    const auto [code_end, code_error] =
        std::to_chars(code_text.data(), code_text.data() + code_text.size(), status);
    (void)code_error;  // an int always fits in 16 chars
    const std::string_view code(code_text.data(),
                                static_cast<std::size_t>(code_end - code_text.data()));
    // Reused per thread so that the common case (a known series) does not allocate.
    thread_local std::string key;
    key.assign(route).append(1, '\n').append(method).append(1, '\n').append(code);

    std::lock_guard lock(series_mutex);
    const auto found = series.find(std::string_view(key));
    if (found != series.end()) {
        return found->second;
    }
    RequestSeries created;
    const std::string route_label(route);
    created.requests = &requests.Add(
        {{"route", route_label}, {"method", std::string(method)}, {"code", std::string(code)}});
    // Family::Add returns the existing histogram when the route already has one.
    created.duration = &request_duration.Add({{"route", route_label}}, kRequestBuckets);
    return series.emplace(key, created).first->second;
}

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}

Metrics::~Metrics() = default;

void Metrics::observe_request(std::string_view route,
                              std::string_view method,
                              int status,
                              double seconds) {
    RequestSeries& series = impl_->request_series(route, method, status);
    series.requests->Increment();
    series.duration->Observe(seconds);
}

void Metrics::request_started() {
    impl_->inflight.Increment();
}

void Metrics::request_finished() {
    impl_->inflight.Decrement();
}

void Metrics::connection_opened() {
    impl_->open_connections.Increment();
}

void Metrics::connection_closed() {
    impl_->open_connections.Decrement();
}

void Metrics::shed() {
    impl_->shed_queue_full.Increment();
}

void Metrics::count_shed_queries() {
    impl_->shed_query_limit.Increment();
}

void Metrics::count_rerank(bool applied) {
    (applied ? impl_->rerank_applied : impl_->rerank_failed).Increment();
}

void Metrics::count_question_embedding(bool ok) {
    (ok ? impl_->question_embedding_ok : impl_->question_embedding_failed).Increment();
}

void Metrics::observe_stage(Stage stage, double seconds) {
    impl_->stage_duration[static_cast<std::size_t>(stage)]->Observe(seconds);
}

void Metrics::set_index_source(IndexSource source) {
    std::lock_guard lock(impl_->index_source_mutex);
    impl_->index_source = std::move(source);
}

void Metrics::set_ready_source(std::function<bool()> source) {
    std::lock_guard lock(impl_->index_source_mutex);
    impl_->ready_source = std::move(source);
}

void Metrics::add_scrape_hook(std::function<void()> hook) {
    std::lock_guard lock(impl_->index_source_mutex);
    impl_->scrape_hooks.push_back(std::move(hook));
}

void Metrics::add_sampled_source(std::function<std::vector<SampledFamily>()> source) {
    std::lock_guard lock(impl_->index_source_mutex);
    impl_->sampled_sources.push_back(std::move(source));
}

prometheus::Registry& Metrics::registry() {
    return impl_->registry;
}

void Metrics::set_log_dropped_source(std::function<std::uint64_t()> source) {
    std::lock_guard lock(impl_->index_source_mutex);
    impl_->log_dropped_source = std::move(source);
}

std::string Metrics::serialize() {
    IndexSource source;
    std::function<bool()> ready_source;
    std::function<std::uint64_t()> log_dropped_source;
    std::vector<std::function<void()>> hooks;
    std::vector<std::function<std::vector<SampledFamily>()>> sampled;
    {
        std::lock_guard lock(impl_->index_source_mutex);
        hooks = impl_->scrape_hooks;
        sampled = impl_->sampled_sources;
        source = impl_->index_source;
        ready_source = impl_->ready_source;
        log_dropped_source = impl_->log_dropped_source;
    }
    for (const auto& hook : hooks) {
        hook();
    }
    if (source) {
        if (const auto snapshot = source()) {
            impl_->index_documents.Set(static_cast<double>(snapshot->documents));
            impl_->index_chunks.Set(static_cast<double>(snapshot->chunks));
            impl_->index_vectors.Set(static_cast<double>(snapshot->vectors));
            impl_->index_lag.Set(static_cast<double>(snapshot->change_seq_lag));
            impl_->index_applied.Set(static_cast<double>(snapshot->applied_seq));
        }
    }
    std::vector<prometheus::MetricFamily> families = impl_->registry.Collect();
    // Built per scrape, like the process_* families: their values live elsewhere.
    if (ready_source) {
        families.push_back(single_value_family(
            "ragd_ready",
            "1 when GET /ready answers 200 (every required check ok, not draining), else 0.",
            prometheus::MetricType::Gauge,
            ready_source() ? 1 : 0));
    }
    if (log_dropped_source) {
        families.push_back(
            single_value_family("ragd_log_dropped_lines_total",
                                "Log lines dropped because the asynchronous log queue was full.",
                                prometheus::MetricType::Counter,
                                static_cast<double>(log_dropped_source())));
    }
    for (auto& family : process_families()) {
        families.push_back(std::move(family));
    }
    for (const auto& source : sampled) {
        for (const SampledFamily& sampled_family : source()) {
            prometheus::MetricFamily family;
            family.name = sampled_family.name;
            family.help = sampled_family.help;
            family.type = sampled_family.counter ? prometheus::MetricType::Counter
                                                 : prometheus::MetricType::Gauge;
            for (const auto& sample : sampled_family.samples) {
                prometheus::ClientMetric metric;
                for (const auto& [name, value] : sample.labels) {
                    metric.label.push_back(prometheus::ClientMetric::Label{name, value});
                }
                if (sampled_family.counter) {
                    metric.counter.value = sample.value;
                } else {
                    metric.gauge.value = sample.value;
                }
                family.metric.push_back(std::move(metric));
            }
            families.push_back(std::move(family));
        }
    }
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, families);
    return out.str();
}

}  // namespace ragd::metrics
