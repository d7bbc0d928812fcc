// The access log: one line per finished request (JSON or text, as the Logger is configured),
// written through the Logger's asynchronous queue so that an I/O thread only renders and enqueues.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "metrics/log_line.hpp"
#include "metrics/logger.hpp"

namespace ragd::metrics {

/// What one request did. Views need to live only until AccessLog::record returns. An empty
/// string is written as null (JSON) or '-' (text): "not known" or "not applicable".
struct AccessLogEntry {
    std::string_view request_id;      ///< the X-Request-Id echoed to the client
    std::string_view trace_id;        ///< W3C trace id (32 hex), empty when not traced
    std::string_view method;          ///< "GET", "POST", ... ("OTHER" for an unparsed head)
    std::string_view route;           ///< route pattern or "unmatched"
    std::string_view target_path;     ///< request path; anything from '?' on is not logged
    std::string_view remote_address;  ///< client IP
    std::string_view cache_tier;      ///< "l1", "l2", "semantic", "miss"; empty when uncached
    std::string_view generator;       ///< generator that answered ("extractive", a provider)
    int status = 0;                   ///< HTTP status sent (or attempted)
    double duration_ms = 0;           ///< head read to response written
    std::uint64_t bytes_in = 0;       ///< request body bytes read
    std::uint64_t bytes_out = 0;      ///< response body bytes written
    unsigned upstream_attempts = 0;   ///< LLM/embedding provider calls made, retries included
    /// What failed and was worked around ("embedder", "reranker", comma-separated); empty when
    /// nothing did.
    std::string_view degraded;
};

/// Longest path written; a longer one is cut (and marked with "...") so lines stay bounded.
inline constexpr std::size_t kMaxLoggedPathBytes = 1024;

/// The line for `entry` (no trailing newline): msg "request", level info, then the keys
/// request_id, trace_id, method, route, path, status, duration_ms (3 decimals), bytes_in,
/// bytes_out, remote, cache, generator, upstream_attempts, degraded, in that order.
std::string format_access_line(LogFormat format,
                               std::chrono::system_clock::time_point time,
                               const AccessLogEntry& entry);

class AccessLog {
public:
    /// `logger` must outlive this; when its options say access=false, record() does nothing.
    explicit AccessLog(Logger& logger) : logger_(logger) {}

    bool enabled() const { return logger_.options().access; }
    /// Renders and queues the line. Thread-safe, never blocks on I/O, never throws.
    void record(const AccessLogEntry& entry);

private:
    Logger& logger_;
};

}  // namespace ragd::metrics
