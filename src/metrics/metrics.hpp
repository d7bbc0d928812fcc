// ragd's Prometheus metrics: one registry (prometheus-cpp core) holding the HTTP, pipeline-stage,
// index, build and process series, rendered in the text exposition format for GET /metrics.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace ragd::metrics {

/// The pipeline stages timed per query (label `stage`).
enum class Stage { kEmbed, kVector, kBm25, kFuse, kGenerate };

/// Index sizes, read at scrape time.
struct IndexSnapshot {
    std::int64_t documents = 0;
    std::int64_t chunks = 0;
    std::int64_t vectors = 0;
    /// Storage change sequence minus the lowest sequence the indexes have applied.
    std::int64_t change_seq_lag = 0;
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
    double cpu_seconds = 0;          ///< user + system
    double resident_memory_bytes = 0;
    double virtual_memory_bytes = 0;
    double open_fds = 0;
    double max_fds = 0;              ///< soft RLIMIT_NOFILE
    double start_time_seconds = 0;   ///< since the Unix epoch
};
/// nullopt when /proc is unavailable or unreadable (then no process_* series are exported).
std::optional<ProcessSnapshot> read_process_snapshot();

/// Content type of serialize()'s output.
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

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
    void observe_request(std::string_view route, std::string_view method, int status,
                         double seconds);
    /// ragd_inflight_requests.
    void request_started();
    void request_finished();
    /// ragd_open_connections.
    void connection_opened();
    void connection_closed();
    /// ragd_shed_total{reason="queue_full"}.
    void shed();
    /// ragd_stage_duration_seconds{stage}.
    void observe_stage(Stage stage, double seconds);

    /// Sets the callback behind the ragd_index_* gauges; call before serving scrapes.
    void set_index_source(IndexSource source);

    /// Refreshes the scrape-time gauges (index, process) and renders every series in the
    /// Prometheus text format (kContentType).
    std::string serialize();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// The label value of a stage ("embed", "vector", "bm25", "fuse", "generate").
const char* stage_name(Stage stage);

}  // namespace ragd::metrics
