// Merging and summarising per-thread level statistics.
#include "loadgen/level_stats.hpp"

namespace ragd::loadgen {

const char* error_kind_name(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::kRefused:
            return "refused";
        case ErrorKind::kReset:
            return "reset";
        case ErrorKind::kTimeout:
            return "timeout";
        case ErrorKind::kClosed:
            return "closed";
        case ErrorKind::kProtocol:
            return "protocol";
        case ErrorKind::kConnect:
            return "connect";
        case ErrorKind::kNoEvents:
            return "no_events";
        case ErrorKind::kOther:
            return "other";
    }
    return "other";
}

void LevelStats::merge(const LevelStats& other) {
    latency_ns.merge(other.latency_ns);
    ttfb_ns.merge(other.ttfb_ns);
    first_event_ns.merge(other.first_event_ns);
    requests += other.requests;
    successes += other.successes;
    body_bytes += other.body_bytes;
    for (std::size_t idx = 0; idx < errors.size(); ++idx) {
        errors[idx] += other.errors[idx];
    }
    for (std::size_t idx = 0; idx < http_errors.size(); ++idx) {
        http_errors[idx] += other.http_errors[idx];
    }
}

std::string LevelStats::error_summary() const {
    std::string out;
    auto add = [&](const std::string& name, std::uint64_t count) {
        if (count == 0) {
            return;
        }
        if (!out.empty()) {
            out += ' ';
        }
        out += name + ":" + std::to_string(count);
    };
    for (std::size_t idx = 0; idx < errors.size(); ++idx) {
        add(error_kind_name(static_cast<ErrorKind>(idx)), errors[idx]);
    }
    for (std::size_t code = 0; code < http_errors.size(); ++code) {
        add(std::to_string(code), http_errors[code]);
    }
    return out;
}

double LevelResult::rps() const {
    const double seconds = std::chrono::duration<double>(measured).count();
    return seconds <= 0 ? 0.0 : static_cast<double>(stats.requests) / seconds;
}

}  // namespace ragd::loadgen
