// Runs one load level: N I/O threads, each an io_context with its own users (closed loop) or
// arrival schedule and connection pool (open loop), raw HTTP/1.1 over keep-alive TCP.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "loadgen/level_stats.hpp"
#include "loadgen/options.hpp"
#include "loadgen/request_builder.hpp"

namespace ragd::loadgen {

struct RunSettings {
    std::string address;  ///< numeric IPv4 or IPv6 address of the target
    std::uint16_t port = 0;
    std::chrono::nanoseconds duration{std::chrono::seconds(30)};
    std::optional<std::chrono::nanoseconds> ramp_up;  ///< nullopt: default_ramp_up(users)
    std::chrono::nanoseconds think_time{0};
    std::chrono::nanoseconds timeout{std::chrono::seconds(30)};
    unsigned threads = 1;
    bool head_request = false;  ///< HEAD: responses carry no body
    bool stream = false;        ///< success also needs an SSE `data:` line
};

/// Runs `level` to completion: ramp-up (unmeasured), the measured window, then the requests
/// still in flight (measured, each bounded by the timeout). Setting `stop` ends the level
/// early; requests cut short by it are not counted. Never throws for network errors: they are
/// counted in the result.
LevelResult run_level(const RunSettings& settings,
                      const LevelSpec& level,
                      RequestSource& source,
                      const std::atomic<bool>& stop);

/// How many loopback source addresses (127.0.0.1, 127.0.0.2, ...) `users` connections to a
/// 127.x target are spread over: one per 1,000, so no address runs short of ephemeral ports.
unsigned loopback_source_count(unsigned users);

}  // namespace ragd::loadgen
