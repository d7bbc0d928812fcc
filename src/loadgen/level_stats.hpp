// What one load level measured: outcome counts by kind and latency histograms. Each I/O thread
// fills its own LevelStats without locks; they are merged when the level ends.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>

#include "loadgen/histogram.hpp"
#include "loadgen/options.hpp"

namespace ragd::loadgen {

/// Why a request failed, other than a non-2xx status.
enum class ErrorKind {
    kRefused,   ///< connect: nothing listens (ECONNREFUSED)
    kReset,     ///< the peer reset the connection (ECONNRESET, EPIPE)
    kTimeout,   ///< no complete response within --timeout (connect included)
    kClosed,    ///< the server closed the connection before the response was complete
    kProtocol,  ///< the response could not be parsed
    kConnect,   ///< connect failed otherwise (no route, no free port, no file descriptor)
    kNoEvents,  ///< --stream: a 2xx response held no SSE `data:` line
    kOther,     ///< any other I/O error
};
inline constexpr std::size_t kErrorKindCount = 8;
/// Stable lower-case name used in the table and JSON ("refused", "timeout", ...).
const char* error_kind_name(ErrorKind kind);

struct LevelStats {
    Histogram latency_ns;         ///< request sent (closed) or scheduled (open) to response end
    Histogram ttfb_ns;            ///< same start to the first response byte
    Histogram first_event_ns;     ///< same start to the first SSE `data:` line
    std::uint64_t requests = 0;   ///< measured requests, successful or not
    std::uint64_t successes = 0;  ///< 2xx with a complete body
    std::uint64_t body_bytes = 0;
    std::array<std::uint64_t, kErrorKindCount> errors{};
    std::array<std::uint64_t, 1000> http_errors{};  ///< non-2xx responses by status code

    void add_error(ErrorKind kind) { ++errors[static_cast<std::size_t>(kind)]; }
    void merge(const LevelStats& other);
    /// "refused:12 429:3 503:1", in ErrorKind order then by status; empty when none.
    std::string error_summary() const;
    double success_pct() const {
        return requests == 0
                   ? 0.0
                   : 100.0 * static_cast<double>(successes) / static_cast<double>(requests);
    }
};

struct LevelResult {
    LevelSpec spec;
    bool open_loop = false;
    std::chrono::nanoseconds measured{0};  ///< length of the measurement window
    double cpu_seconds = 0;                ///< user + system CPU of ragd bench during the level
    double wall_seconds = 0;               ///< whole level, ramp-up and drain included
    bool interrupted = false;              ///< stopped early by SIGINT/SIGTERM
    LevelStats stats;

    double rps() const;
    /// CPU use of the bench process over the level, percent of one core.
    double cpu_pct() const { return wall_seconds <= 0 ? 0.0 : 100.0 * cpu_seconds / wall_seconds; }
};

}  // namespace ragd::loadgen
