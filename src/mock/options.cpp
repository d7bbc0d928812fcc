// Parsing and validation of the mock's options and x-mock-* overrides, and the seeded error
// schedule.
#include "mock/options.hpp"

#include <charconv>
#include <cmath>
#include <limits>

#include "core/text.hpp"

namespace ragd::mock {

namespace {

core::Error invalid(std::string detail) {
    return core::fail(core::ErrorCode::kInvalidArgument, std::move(detail));
}

template <class T>
std::optional<T> parse_number(std::string_view text) {
    text = core::trim_ows(text);
    T value{};
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
        return std::nullopt;
    }
    return value;
}

}  // namespace

const char* error_kind_name(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::kServerError:
            return "500";
        case ErrorKind::kRateLimited:
            return "429";
        case ErrorKind::kReset:
            return "reset";
        case ErrorKind::kStall:
            return "stall";
    }
    return "unknown";
}

core::Result<ErrorKind> parse_error_kind(std::string_view text) {
    const std::string_view name = core::trim_ows(text);
    for (const ErrorKind kind :
         {ErrorKind::kServerError, ErrorKind::kRateLimited, ErrorKind::kReset, ErrorKind::kStall}) {
        if (name == error_kind_name(kind)) {
            return kind;
        }
    }
    return invalid("error kind \"" + std::string(name) + "\" is not one of 500, 429, reset, stall");
}

core::Result<std::vector<ErrorKind>> parse_error_kinds(std::string_view text) {
    std::vector<ErrorKind> kinds;
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t comma = std::min(text.find(',', start), text.size());
        auto kind = parse_error_kind(text.substr(start, comma - start));
        if (!kind) {
            return kind.error();
        }
        kinds.push_back(*kind);
        start = comma + 1;
    }
    return kinds;
}

core::Result<void> validate_options(const MockLlmOptions& options) {
    std::string problems;
    const auto add = [&problems](const std::string& problem) {
        problems += problems.empty() ? problem : "; " + problem;
    };
    if (auto address = split_host_port(options.listen); !address) {
        add(address.error().detail);
    }
    if (options.latency_ms < 0 || options.latency_ms > kMaxLatencyMs) {
        add("--latency-ms " + std::to_string(options.latency_ms) + " is not in 0.." +
            std::to_string(kMaxLatencyMs));
    }
    if (!(options.tokens_per_second >= 0.0 && options.tokens_per_second <= kMaxTokensPerSecond)) {
        add("--tokens-per-second " + std::to_string(options.tokens_per_second) +
            " is not in 0..1000000 (0 sends every token at once)");
    }
    if (!(options.error_rate >= 0.0 && options.error_rate <= 1.0)) {
        add("--error-rate " + std::to_string(options.error_rate) + " is not in 0..1");
    }
    if (options.error_rate > 0.0 && options.error_kinds.empty()) {
        add("--error-rate is above 0 but --error-kinds is empty");
    }
    if (options.threads > 256) {
        add("--threads " + std::to_string(options.threads) + " is above 256");
    }
    if (options.output_tokens == 0 || options.output_tokens > kMaxOutputTokens) {
        add("--output-tokens " + std::to_string(options.output_tokens) + " is not in 1.." +
            std::to_string(kMaxOutputTokens));
    }
    if (!problems.empty()) {
        return invalid(problems);
    }
    return {};
}

core::Result<HostPort> split_host_port(std::string_view text) {
    HostPort result;
    std::string_view port_text;
    if (!text.empty() && text.front() == '[') {
        const std::size_t close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            return invalid("listen address \"" + std::string(text) + "\" is not [IPV6]:PORT");
        }
        result.host = std::string(text.substr(1, close - 1));
        port_text = text.substr(close + 2);
    } else {
        const std::size_t colon = text.rfind(':');
        if (colon == std::string_view::npos || text.find(':') != colon) {
            return invalid("listen address \"" + std::string(text) +
                           "\" is not HOST:PORT (write IPv6 hosts as [::1]:PORT)");
        }
        result.host = std::string(text.substr(0, colon));
        port_text = text.substr(colon + 1);
    }
    const auto port = parse_number<unsigned>(port_text);
    if (!port || *port > 65535 || port_text != core::trim_ows(port_text)) {
        return invalid("listen address \"" + std::string(text) + "\": port \"" +
                       std::string(port_text) + "\" is not a number from 0 to 65535");
    }
    result.port = static_cast<unsigned short>(*port);
    if (result.host.empty()) {
        result.host = "0.0.0.0";
    } else if (result.host == "localhost") {
        result.host = "127.0.0.1";
    }
    return result;
}

core::Result<RequestOverrides> parse_overrides(const OverrideHeaders& headers) {
    RequestOverrides overrides;
    if (headers.latency_ms) {
        const auto value = parse_number<std::int64_t>(*headers.latency_ms);
        if (!value || *value < 0 || *value > kMaxLatencyMs) {
            return invalid("x-mock-latency-ms \"" + std::string(*headers.latency_ms) +
                           "\" is not an integer in 0.." + std::to_string(kMaxLatencyMs));
        }
        overrides.latency_ms = *value;
    }
    if (headers.tokens_per_second) {
        const auto value = parse_number<double>(*headers.tokens_per_second);
        if (!value || !(*value >= 0.0 && *value <= kMaxTokensPerSecond)) {
            return invalid("x-mock-tokens-per-second \"" + std::string(*headers.tokens_per_second) +
                           "\" is not a number in 0..1000000");
        }
        overrides.tokens_per_second = *value;
    }
    if (headers.error) {
        if (core::trim_ows(*headers.error) == "none") {
            overrides.force_no_error = true;
        } else {
            auto kind = parse_error_kind(*headers.error);
            if (!kind) {
                return invalid("x-mock-error \"" + std::string(*headers.error) +
                               "\" is not one of 500, 429, reset, stall, none");
            }
            overrides.error = *kind;
        }
    }
    if (headers.output_tokens) {
        const auto value = parse_number<std::size_t>(*headers.output_tokens);
        if (!value || *value == 0 || *value > kMaxOutputTokens) {
            return invalid("x-mock-output-tokens \"" + std::string(*headers.output_tokens) +
                           "\" is not an integer in 1.." + std::to_string(kMaxOutputTokens));
        }
        overrides.output_tokens = *value;
    }
    return overrides;
}

std::uint64_t mix64(std::uint64_t value) {
    value += 0x9e3779b97f4a7c15ULL;
    value = (value ^ (value >> 30U)) * 0xbf58476d1ce4e5b9ULL;
    value = (value ^ (value >> 27U)) * 0x94d049bb133111ebULL;
    return value ^ (value >> 31U);
}

ErrorSchedule::ErrorSchedule(std::uint64_t seed, double rate, std::vector<ErrorKind> kinds)
    : seed_(seed), rate_(rate), kinds_(std::move(kinds)) {}

std::optional<ErrorKind> ErrorSchedule::pick(std::uint64_t index) const {
    if (rate_ <= 0.0 || kinds_.empty()) {
        return std::nullopt;
    }
    const std::uint64_t draw = mix64(mix64(seed_ ^ 0x6d6f636b2d657272ULL) + index);
    // The top 53 bits as a double in [0, 1).
    const double unit = static_cast<double>(draw >> 11U) * 0x1.0p-53;
    if (unit >= rate_) {
        return std::nullopt;
    }
    return kinds_[mix64(draw) % kinds_.size()];
}

RequestPlan plan_request(const MockLlmOptions& options,
                         const RequestOverrides& overrides,
                         const ErrorSchedule& schedule,
                         std::uint64_t request_index) {
    RequestPlan plan;
    plan.latency = std::chrono::milliseconds(overrides.latency_ms.value_or(options.latency_ms));
    plan.tokens_per_second = overrides.tokens_per_second.value_or(options.tokens_per_second);
    plan.output_tokens = overrides.output_tokens.value_or(options.output_tokens);
    if (overrides.error) {
        plan.error = overrides.error;
    } else if (!overrides.force_no_error) {
        plan.error = schedule.pick(request_index);
    }
    return plan;
}

}  // namespace ragd::mock
