// `ragd bench` arguments: the strings as typed (BenchArgs, filled by CLI11 in main.cpp) and
// their validated form (BenchOptions). Parsing lives here, not in main.cpp, so tests reach it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace ragd::loadgen {

/// The command line as typed; empty strings mean "not given".
struct BenchArgs {
    std::string url;
    std::string users;       ///< closed loop: concurrent users; open loop: connection cap
    std::string sweep;       ///< users per level, "100,500,1000"
    std::string duration;    ///< measured time per level (default 30s)
    std::string ramp_up;     ///< default: 1 ms per user, at most 5 s
    std::string think_time;  ///< closed loop pause between a response and the next request
    std::string rate;        ///< open loop arrivals per second; a list sweeps rates
    std::string queries_file;
    std::string repeat_fraction;
    std::string body_template;
    std::string method;
    std::vector<std::string> headers;  ///< "Name: value"
    bool stream = false;
    std::string timeout;  ///< per request (default 30s)
    std::string json_path;
    std::string html_path;
    std::string min_success;  ///< percent (default 95)
    std::string threads;      ///< default: 1 on up to 3 cores, else 2
};

struct Url {
    std::string host;  ///< name or address, without IPv6 brackets
    std::uint16_t port = 80;
    std::string target;       ///< path and query, "/" at least
    std::string host_header;  ///< Host header value ("host:port", brackets kept)
};

struct Header {
    std::string name;
    std::string value;
};

/// One load level: closed loop when rate_per_s is 0.
struct LevelSpec {
    unsigned users = 0;     ///< concurrent users (closed) or connection cap (open)
    double rate_per_s = 0;  ///< open loop arrival rate
};

struct BenchOptions {
    Url url;
    std::string method;  ///< upper case
    std::vector<Header> headers;
    std::optional<std::string> body_template;  ///< nullopt: no body
    bool stream = false;
    std::string queries_file;  ///< empty: built-in questions
    double repeat_fraction = 0.0;
    std::vector<LevelSpec> levels;
    bool open_loop = false;
    std::chrono::nanoseconds duration{std::chrono::seconds(30)};
    std::optional<std::chrono::nanoseconds> ramp_up;  ///< nullopt: default_ramp_up(users)
    std::chrono::nanoseconds think_time{0};
    std::chrono::nanoseconds timeout{std::chrono::seconds(30)};
    std::string json_path;
    std::string html_path;
    double min_success_pct = 95.0;
    unsigned threads = 1;
};

/// Default users without --users or --sweep: 10 closed loop, 1000 connections open loop.
inline constexpr unsigned kDefaultUsers = 10;
inline constexpr unsigned kDefaultOpenLoopConnections = 1000;

/// "30s", "250ms", "1.5s", "2m", "1h", "500us", "100ns"; a bare number is seconds.
core::Result<std::chrono::nanoseconds> parse_duration(std::string_view text);
/// Comma-separated positive numbers: "100,500,1000".
core::Result<std::vector<double>> parse_number_list(std::string_view text);
/// http://host[:port][/path[?query]]; https is refused (terminate TLS in front of ragd bench).
core::Result<Url> parse_url(std::string_view text);
/// "Name: value"; refuses CR/LF and names that are not HTTP tokens.
core::Result<Header> parse_header(std::string_view text);
/// Validates everything at once; the error lists every problem. `hardware_threads` picks the
/// default --threads.
core::Result<BenchOptions> parse_bench_args(const BenchArgs& args, unsigned hardware_threads);
/// Ramp-up when none is given: 1 ms per user, at most 5 s, so 10,000 connections do not
/// arrive as one burst of SYNs that overflows the server's listen backlog.
std::chrono::nanoseconds default_ramp_up(unsigned users);

}  // namespace ragd::loadgen
