// Validation of `ragd bench` arguments: every problem is collected and reported in one message,
// as the config loader does, so a user fixes a command line in one go.
#include "loadgen/options.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>

#include "core/text.hpp"

namespace ragd::loadgen {

namespace {

using std::chrono::nanoseconds;

std::optional<double> parse_number(std::string_view text) {
    text = core::trim_whitespace(text);
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
        !std::isfinite(value)) {
        return std::nullopt;
    }
    return value;
}

bool is_token_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool method_has_body(std::string_view method) {
    return method != "GET" && method != "HEAD";
}

bool is_query_route(std::string_view target) {
    const auto path = target.substr(0, target.find('?'));
    return path.ends_with("/v1/query") || path.ends_with("/v1/search");
}

// Adds "flag: reason" to `problems` when `result` failed, else stores the value.
template <class T>
void take(core::Result<T> result,
          std::string_view flag,
          T& out,
          std::vector<std::string>& problems) {
    if (result) {
        out = std::move(*result);
    } else {
        problems.push_back(std::string(flag) + ": " + result.error().detail);
    }
}

}  // namespace

core::Result<nanoseconds> parse_duration(std::string_view text) {
    text = core::trim_whitespace(text);
    std::size_t unit_at = 0;
    while (unit_at < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[unit_at])) || text[unit_at] == '.')) {
        ++unit_at;
    }
    const auto number = parse_number(text.substr(0, unit_at));
    const std::string_view unit = text.substr(unit_at);
    double scale_ns = 0;
    if (unit.empty() || unit == "s") {
        scale_ns = 1e9;
    } else if (unit == "ms") {
        scale_ns = 1e6;
    } else if (unit == "us") {
        scale_ns = 1e3;
    } else if (unit == "ns") {
        scale_ns = 1;
    } else if (unit == "m" || unit == "min") {
        scale_ns = 60e9;
    } else if (unit == "h") {
        scale_ns = 3600e9;
    }
    if (!number || scale_ns == 0) {
        return core::fail(
            core::ErrorCode::kInvalidArgument,
            "'" + std::string(text) + "' is not a duration (a number with ns, us, ms, s, m or h)");
    }
    const double ns = *number * scale_ns;
    if (ns > static_cast<double>(std::numeric_limits<std::int64_t>::max()) / 2) {
        return core::fail(core::ErrorCode::kInvalidArgument,
                          "duration '" + std::string(text) + "' is too long");
    }
    return nanoseconds(static_cast<std::int64_t>(std::llround(ns)));
}

core::Result<std::vector<double>> parse_number_list(std::string_view text) {
    std::vector<double> values;
    std::string_view rest = text;
    while (true) {
        const auto comma = rest.find(',');
        const auto item = rest.substr(0, comma);
        const auto value = parse_number(item);
        if (!value || *value <= 0) {
            return core::fail(core::ErrorCode::kInvalidArgument,
                              "'" + std::string(core::trim_whitespace(item)) + "' in '" +
                                  std::string(text) + "' is not a positive number");
        }
        values.push_back(*value);
        if (comma == std::string_view::npos) {
            break;
        }
        rest.remove_prefix(comma + 1);
    }
    return values;
}

core::Result<Url> parse_url(std::string_view text) {
    const std::string shown(text);
    text = core::trim_whitespace(text);
    constexpr std::string_view kScheme = "http://";
    if (text.starts_with("https://")) {
        return core::fail(core::ErrorCode::kUnsupported,
                          "'" + shown +
                              "': https is not supported; point ragd bench at the "
                              "plain HTTP listener");
    }
    if (!text.starts_with(kScheme)) {
        return core::fail(core::ErrorCode::kInvalidArgument,
                          "'" + shown + "' does not start with http://");
    }
    text.remove_prefix(kScheme.size());
    const auto path_at = text.find_first_of("/?");
    std::string_view authority = text.substr(0, path_at);
    Url url;
    url.target = path_at == std::string_view::npos ? "/" : std::string(text.substr(path_at));
    if (url.target.front() == '?') {
        url.target.insert(0, "/");
    }
    if (authority.find('@') != std::string_view::npos) {
        return core::fail(core::ErrorCode::kUnsupported,
                          "'" + shown + "': user information in URLs is not supported");
    }
    std::string_view port_text;
    if (authority.starts_with("[")) {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) {
            return core::fail(core::ErrorCode::kInvalidArgument,
                              "'" + shown + "': unterminated IPv6 address");
        }
        url.host = std::string(authority.substr(1, close - 1));
        const auto after = authority.substr(close + 1);
        if (!after.empty() && !after.starts_with(":")) {
            return core::fail(core::ErrorCode::kInvalidArgument,
                              "'" + shown + "': unexpected text after the IPv6 address");
        }
        port_text = after.empty() ? after : after.substr(1);
    } else {
        const auto colon = authority.rfind(':');
        url.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) {
            port_text = authority.substr(colon + 1);
        }
    }
    if (url.host.empty()) {
        return core::fail(core::ErrorCode::kInvalidArgument, "'" + shown + "' has no host");
    }
    if (!port_text.empty()) {
        unsigned port = 0;
        const auto [end, ec] =
            std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
        if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
            port > 65535) {
            return core::fail(core::ErrorCode::kInvalidArgument,
                              "'" + shown + "': port '" + std::string(port_text) +
                                  "' is not a number from 1 to 65535");
        }
        url.port = static_cast<std::uint16_t>(port);
    }
    url.host_header = std::string(authority);
    if (url.target.find_first_of(" \r\n\t") != std::string::npos) {
        return core::fail(core::ErrorCode::kInvalidArgument,
                          "'" + shown + "': the path contains whitespace; percent-encode it");
    }
    return url;
}

core::Result<Header> parse_header(std::string_view text) {
    const auto colon = text.find(':');
    const std::string shown(text);
    if (colon == std::string_view::npos) {
        return core::fail(core::ErrorCode::kInvalidArgument,
                          "'" + shown + "' is not 'Name: value'");
    }
    const std::string_view name = text.substr(0, colon);
    const std::string_view value = core::trim_whitespace(text.substr(colon + 1));
    if (name.empty() || !std::all_of(name.begin(), name.end(), is_token_char)) {
        return core::fail(core::ErrorCode::kInvalidArgument,
                          "'" + shown + "': the header name is not an HTTP token");
    }
    if (value.find_first_of("\r\n") != std::string_view::npos) {
        return core::fail(core::ErrorCode::kInvalidArgument,
                          "'" + shown + "': the header value contains a line break");
    }
    return Header{std::string(name), std::string(value)};
}

nanoseconds default_ramp_up(unsigned users) {
    return std::min<nanoseconds>(std::chrono::milliseconds(users), std::chrono::seconds(5));
}

core::Result<BenchOptions> parse_bench_args(const BenchArgs& args, unsigned hardware_threads) {
    BenchOptions options;
    std::vector<std::string> problems;

    if (args.url.empty()) {
        problems.emplace_back("--url is required");
    } else {
        take(parse_url(args.url), "--url", options.url, problems);
    }
    if (!args.duration.empty()) {
        take(parse_duration(args.duration), "--duration", options.duration, problems);
    }
    if (options.duration <= nanoseconds::zero()) {
        problems.emplace_back("--duration: must be more than 0");
    }
    if (!args.ramp_up.empty()) {
        nanoseconds ramp{0};
        take(parse_duration(args.ramp_up), "--ramp-up", ramp, problems);
        options.ramp_up = ramp;
    }
    if (!args.think_time.empty()) {
        take(parse_duration(args.think_time), "--think-time", options.think_time, problems);
    }
    if (!args.timeout.empty()) {
        take(parse_duration(args.timeout), "--timeout", options.timeout, problems);
    }
    if (options.timeout <= nanoseconds::zero()) {
        problems.emplace_back("--timeout: must be more than 0");
    }

    std::vector<double> rates;
    if (!args.rate.empty()) {
        take(parse_number_list(args.rate), "--rate", rates, problems);
        options.open_loop = true;
    }
    std::vector<double> sweep;
    if (!args.sweep.empty()) {
        take(parse_number_list(args.sweep), "--sweep", sweep, problems);
        if (!args.users.empty()) {
            problems.emplace_back("--users and --sweep: give one of them");
        }
        if (rates.size() > 1) {
            problems.emplace_back("--sweep and a list of --rate values: sweep one or the other");
        }
    }
    unsigned users = options.open_loop ? kDefaultOpenLoopConnections : kDefaultUsers;
    if (!args.users.empty()) {
        std::vector<double> one;
        take(parse_number_list(args.users), "--users", one, problems);
        if (one.size() > 1) {
            problems.emplace_back("--users: one number; use --sweep for several levels");
        } else if (one.size() == 1) {
            sweep.clear();
            users = static_cast<unsigned>(std::min(one[0], 1e9));
            if (static_cast<double>(users) != one[0]) {
                problems.emplace_back("--users: '" + args.users + "' is not a whole number");
            }
        }
    }
    for (const double level_users : sweep) {
        if (level_users != std::floor(level_users) || level_users > 1e9) {
            problems.emplace_back("--sweep: '" + args.sweep + "' holds a non-whole number");
            break;
        }
    }
    const double fixed_rate = rates.empty() ? 0.0 : rates.front();
    if (!sweep.empty()) {
        for (const double level_users : sweep) {
            options.levels.push_back(LevelSpec{static_cast<unsigned>(level_users), fixed_rate});
        }
    } else if (rates.size() > 1) {
        for (const double rate : rates) {
            options.levels.push_back(LevelSpec{users, rate});
        }
    } else {
        options.levels.push_back(LevelSpec{users, fixed_rate});
    }

    if (!args.method.empty()) {
        options.method = args.method;
        std::transform(options.method.begin(),
                       options.method.end(),
                       options.method.begin(),
                       [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
        if (!std::all_of(options.method.begin(), options.method.end(), is_token_char)) {
            problems.push_back("--method: '" + args.method + "' is not an HTTP method");
        }
    } else {
        // POST where ragd expects a JSON question, GET for everything else (/health, /ready).
        const bool wants_body = !args.body_template.empty() || !args.queries_file.empty() ||
                                is_query_route(options.url.target);
        options.method = wants_body ? "POST" : "GET";
    }
    options.stream = args.stream;
    if (method_has_body(options.method)) {
        options.body_template = !args.body_template.empty() ? args.body_template
                                : args.stream ? R"({"query": "{query}", "stream": true})"
                                              : R"({"query": "{query}"})";
    } else if (!args.body_template.empty()) {
        problems.push_back("--body-template: " + options.method + " requests carry no body");
    }
    for (const auto& text : args.headers) {
        auto header = parse_header(text);
        if (header) {
            options.headers.push_back(std::move(*header));
        } else {
            problems.push_back("--header: " + header.error().detail);
        }
    }
    options.queries_file = args.queries_file;
    if (!args.repeat_fraction.empty()) {
        const auto fraction = parse_number(args.repeat_fraction);
        if (!fraction || *fraction < 0 || *fraction > 1) {
            problems.push_back("--repeat-fraction: '" + args.repeat_fraction +
                               "' is not a number from 0 to 1");
        } else {
            options.repeat_fraction = *fraction;
        }
    }
    if (!args.min_success.empty()) {
        const auto percent = parse_number(args.min_success);
        if (!percent || *percent < 0 || *percent > 100) {
            problems.push_back("--min-success: '" + args.min_success +
                               "' is not a percentage from 0 to 100");
        } else {
            options.min_success_pct = *percent;
        }
    }
    options.threads = hardware_threads >= 4 ? 2 : 1;
    if (!args.threads.empty()) {
        const auto threads = parse_number(args.threads);
        if (!threads || *threads < 1 || *threads > 256 || *threads != std::floor(*threads)) {
            problems.push_back("--threads: '" + args.threads +
                               "' is not a whole number from 1 to 256");
        } else {
            options.threads = static_cast<unsigned>(*threads);
        }
    }
    options.json_path = args.json_path;
    options.html_path = args.html_path;

    if (!problems.empty()) {
        std::string message = "invalid bench arguments: ";
        for (std::size_t idx = 0; idx < problems.size(); ++idx) {
            message += (idx == 0 ? "" : "; ") + problems[idx];
        }
        return core::fail(core::ErrorCode::kInvalidArgument, std::move(message));
    }
    return options;
}

}  // namespace ragd::loadgen
