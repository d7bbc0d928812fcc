// ragd's Prometheus metrics: one registry (prometheus-cpp core) holding the HTTP, pipeline-stage,
// index, build and process series, rendered in the text exposition format for GET /metrics.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace prometheus {
class Registry;
}

namespace ragd::metrics {

/// The pipeline stages timed per query (label `stage`). kGenerate is the whole answer step,
/// kLlmFirstToken and kLlmTotal the upstream call (first delta, whole call), kCache a lookup.
enum class Stage {
    kEmbed,
    kVector,
    kBm25,
    kFuse,
    kGenerate,
    kLlmFirstToken,
    kLlmTotal,
    kCache,
    kRerank
};

/// Index sizes, read at scrape time.
struct IndexSnapshot {
    std::int64_t documents = 0;
    std::int64_t chunks = 0;
    std::int64_t vectors = 0;
    /// Storage change sequence minus the lowest sequence the indexes have applied.
    std::int64_t change_seq_lag = 0;
    /// The lowest sequence the indexes have applied: whether they move at all, when lagging.
    std::int64_t applied_seq = 0;
};

/// Called on each scrape; nullopt (e.g. storage unreadable) keeps the previous values.
using IndexSource = std::function<std::optional<IndexSnapshot>()>;

/// Version from CMake's PROJECT_VERSION; commit from `git rev-parse --short HEAD` at configure
/// time, or "unknown" when the source tree is not a git checkout.
struct BuildInfo {
    std::string version;
    std::string commit;
};
BuildInfo build_info();

/// Process figures from /proc/self, for the standard process_* series.
struct ProcessSnapshot {
    double cpu_seconds = 0;  ///< user + system
    double resident_memory_bytes = 0;
    double virtual_memory_bytes = 0;
    double open_fds = 0;
    double max_fds = 0;             ///< soft RLIMIT_NOFILE
    double start_time_seconds = 0;  ///< since the Unix epoch
};
/// nullopt when /proc is unavailable or unreadable (then no process_* series are exported).
std::optional<ProcessSnapshot> read_process_snapshot();

/// Content type of serialize()'s output.
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

/// A series family whose values are read at scrape time from elsewhere (cache statistics):
/// counters must come from a monotonic source.
struct SampledFamily {
    std::string name;
    std::string help;
    bool counter = false;  ///< else a gauge
    struct Sample {
        std::vector<std::pair<std::string, std::string>> labels;
        double value = 0;
    };
    std::vector<Sample> samples;
};

/// Every method is thread-safe; the recording methods are meant for hot paths (a mutex-guarded
/// lookup of a cached series, then atomic updates).
class Metrics {
public:
    Metrics();
    ~Metrics();
    Metrics(const Metrics&) = delete;
    Metrics& operator=(const Metrics&) = delete;

    /// One response: ragd_http_requests_total{route,method,code} and
    /// ragd_http_request_duration_seconds{route}. `route` must be a route pattern or
    /// "unmatched" (never a raw path: each distinct value is a new series).
    void observe_request(std::string_view route,
                         std::string_view method,
                         int status,
                         double seconds);
    /// ragd_inflight_requests.
    void request_started();
    void request_finished();
    /// ragd_open_connections.
    void connection_opened();
    void connection_closed();
    /// ragd_shed_total{reason="queue_full"}.
    void shed();
    /// ragd_shed_total{reason="query_limit"}: a query refused by query admission.
    void count_shed_queries();
    /// One rerank call's outcome: applied, or failed (the fused order was kept).
    void count_rerank(bool applied);
    /// One question embedded by a remote embedder: ok, or failed (BM25 alone, or an error for
    /// a vector-only query).
    void count_question_embedding(bool ok);
    /// ragd_stage_duration_seconds{stage}.
    void observe_stage(Stage stage, double seconds);

    /// Sets the callback behind the ragd_index_* gauges; call before serving scrapes.
    void set_index_source(IndexSource source);
    /// Sets the callback behind ragd_ready (1 when GET /ready would answer 200, else 0), called
    /// on each scrape; until one is set, ragd_ready is not exported.
    void set_ready_source(std::function<bool()> source);
    /// Sets the callback behind ragd_log_dropped_lines_total (lines the asynchronous log queue
    /// overwrote because it was full), called on each scrape; until set, not exported.
    void set_log_dropped_source(std::function<std::uint64_t()> source);

    /// Runs `hook` at the start of every serialize(), to refresh gauges whose values live
    /// elsewhere (upstream pools, cache sizes). Call before serving scrapes.
    void add_scrape_hook(std::function<void()> hook);
    /// Adds families built at each scrape by `source`. Call before serving scrapes.
    void add_sampled_source(std::function<std::vector<SampledFamily>()> source);
    /// The registry, for metric groups defined in their own files (upstream_metrics.hpp).
    prometheus::Registry& registry();

    /// Refreshes the scrape-time gauges (index, process) and renders every series in the
    /// Prometheus text format (kContentType).
    std::string serialize();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// The label value of a stage ("embed", "vector", "bm25", "fuse", "generate", "llm_ttfb",
/// "llm_total", "cache").
const char* stage_name(Stage stage);

}  // namespace ragd::metrics
