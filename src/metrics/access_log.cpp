// Access lines are ordinary log lines with a fixed set of fields, so they share the renderer
// (and its escaping) with every other message.
#include "metrics/access_log.hpp"

#include <array>
#include <cmath>
#include <optional>

namespace ragd::metrics {
namespace {

core::LogField optional_text(std::string_view key, std::string_view text) {
    if (text.empty()) {
        return {key, std::monostate{}};
    }
    return {key, text};
}

/// The path without its query string (which may carry secrets) and at most kMaxLoggedPathBytes.
std::string_view loggable_path(std::string_view target, std::string& cut) {
    target = target.substr(0, target.find('?'));
    if (target.size() <= kMaxLoggedPathBytes) {
        return target;
    }
    // A cut inside a UTF-8 sequence is harmless: the renderer replaces the broken tail.
    cut.assign(target.substr(0, kMaxLoggedPathBytes)).append("...");
    return cut;
}

}  // namespace

std::string format_access_line(LogFormat format,
                               std::chrono::system_clock::time_point time,
                               const AccessLogEntry& entry) {
    std::string cut_path;
    // Microsecond resolution is plenty, and a fixed precision keeps lines short and sortable.
    const double duration_ms = std::isfinite(entry.duration_ms)
                                   ? std::round(entry.duration_ms * 1000.0) / 1000.0
                                   : entry.duration_ms;
    const std::array<core::LogField, 14> fields = {
        optional_text("request_id", entry.request_id),
        optional_text("trace_id", entry.trace_id),
        optional_text("method", entry.method),
        optional_text("route", entry.route),
        optional_text("path", loggable_path(entry.target_path, cut_path)),
        core::LogField("status", entry.status),
        core::LogField("duration_ms", duration_ms),
        core::LogField("bytes_in", entry.bytes_in),
        core::LogField("bytes_out", entry.bytes_out),
        optional_text("remote", entry.remote_address),
        optional_text("cache", entry.cache_tier),
        optional_text("generator", entry.generator),
        core::LogField("upstream_attempts", entry.upstream_attempts),
        optional_text("degraded", entry.degraded),
    };
    return format_log_line(format, time, core::LogLevel::kInfo, "request", fields);
}

void AccessLog::record(const AccessLogEntry& entry) {
    if (!enabled()) {
        return;
    }
    try {
        logger_.write_line(core::LogLevel::kInfo,
                           format_access_line(logger_.options().format, logger_.now(), entry));
    } catch (...) {  // NOLINT(bugprone-empty-catch): bad_alloc here must not fail the request
    }
}

}  // namespace ragd::metrics
