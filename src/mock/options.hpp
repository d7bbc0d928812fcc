// Options of `ragd mock-llm` and of one request (x-mock-* headers), with their parsing and
// validation. Beast-free so the CLI and unit tests include it without compiling Asio.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace ragd::mock {

/// The failures the mock can inject into a request.
enum class ErrorKind {
    kServerError,  ///< "500": a provider-shaped JSON error body with status 500
    kRateLimited,  ///< "429": status 429 with Retry-After: 1 and retry-after-ms: 1000
    kReset,        ///< "reset": a few tokens (or half a body), then an abrupt close (TCP RST)
    kStall,  ///< "stall": a few tokens (stream) or nothing, then silence until the client leaves
};

/// "500", "429", "reset" or "stall".
const char* error_kind_name(ErrorKind kind);
/// Parses one kind name (as error_kind_name prints it).
core::Result<ErrorKind> parse_error_kind(std::string_view text);
/// Parses a comma-separated list such as "500,429,reset"; duplicates are kept (they weigh more).
core::Result<std::vector<ErrorKind>> parse_error_kinds(std::string_view text);

/// Largest --output-tokens / x-mock-output-tokens accepted, so one request cannot exhaust memory.
inline constexpr std::size_t kMaxOutputTokens = 100'000;
/// Largest --tokens-per-second / x-mock-tokens-per-second accepted.
inline constexpr double kMaxTokensPerSecond = 1'000'000.0;
/// Largest --latency-ms / x-mock-latency-ms accepted (one hour).
inline constexpr std::int64_t kMaxLatencyMs = 3'600'000;

struct MockLlmOptions {
    /// HOST:PORT to listen on; port 0 picks a free port (default 127.0.0.1:8089).
    std::string listen = "127.0.0.1:8089";
    /// Time to first token, in ms (default 0).
    std::int64_t latency_ms = 0;
    /// Streaming pace in tokens per second; 0 sends every token right after the latency
    /// (default 0).
    double tokens_per_second = 0.0;
    /// Fraction of LLM requests, 0..1, that get an injected error (default 0).
    double error_rate = 0.0;
    /// Kinds drawn from (uniformly) when an error is injected (default 500,429).
    std::vector<ErrorKind> error_kinds = {ErrorKind::kServerError, ErrorKind::kRateLimited};
    /// I/O threads; 0 means one per core (default 0).
    unsigned threads = 0;
    /// Seeds the generated text and the error sequence (default 0).
    std::uint64_t seed = 0;
    /// Words (≈ tokens) per answer, before any max_tokens cap (default 64).
    std::size_t output_tokens = 64;
    /// Bedrock: check SigV4 signatures with this secret key; "" checks their shape only
    /// (`ragd mock-llm --verify-sigv4` reads it from AWS_SECRET_ACCESS_KEY).
    std::string aws_secret_access_key;
};

/// Every problem with `options` in one message (kInvalidArgument), or success.
core::Result<void> validate_options(const MockLlmOptions& options);

/// "HOST:PORT" or "[V6]:PORT" split into host (brackets removed) and port.
struct HostPort {
    std::string host;
    unsigned short port = 0;
};
core::Result<HostPort> split_host_port(std::string_view text);

/// What one request's x-mock-* headers ask for; unset fields fall back to the options.
struct RequestOverrides {
    std::optional<std::int64_t> latency_ms;
    std::optional<double> tokens_per_second;
    /// Set by x-mock-error; `force_no_error` ("none") disables injection for this request.
    std::optional<ErrorKind> error;
    bool force_no_error = false;
    std::optional<std::size_t> output_tokens;
};

/// Raw header values (nullopt when absent) of x-mock-latency-ms, x-mock-tokens-per-second,
/// x-mock-error and x-mock-output-tokens.
struct OverrideHeaders {
    std::optional<std::string_view> latency_ms;
    std::optional<std::string_view> tokens_per_second;
    std::optional<std::string_view> error;
    std::optional<std::string_view> output_tokens;
};

/// Parses the headers; kInvalidArgument names the header and the bad value.
core::Result<RequestOverrides> parse_overrides(const OverrideHeaders& headers);

/// The effective timing and size of one request.
struct RequestPlan {
    std::chrono::milliseconds latency{0};
    double tokens_per_second = 0.0;
    std::size_t output_tokens = 64;
    std::optional<ErrorKind> error;
};

/// Decides which requests fail: request number `index` (0, 1, 2, ... in arrival order) fails
/// when a hash of (seed, index) falls below the rate, so a seed always yields the same sequence.
class ErrorSchedule {
public:
    ErrorSchedule(std::uint64_t seed, double rate, std::vector<ErrorKind> kinds);

    /// The error for request `index`, or nullopt.
    std::optional<ErrorKind> pick(std::uint64_t index) const;

private:
    std::uint64_t seed_;
    double rate_;
    std::vector<ErrorKind> kinds_;
};

/// Combines the options, the request's overrides and the schedule's pick for `request_index`.
/// The schedule is consulted only when the request names no error of its own.
RequestPlan plan_request(const MockLlmOptions& options,
                         const RequestOverrides& overrides,
                         const ErrorSchedule& schedule,
                         std::uint64_t request_index);

/// A well-mixed 64-bit hash step (splitmix64), shared by the schedule and the text generator.
std::uint64_t mix64(std::uint64_t value);

}  // namespace ragd::mock
