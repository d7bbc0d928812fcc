// Orchestration of `ragd bench`; the load itself is runner.cpp's. Name resolution uses
// getaddrinfo once, before any load, so no resolver sits on the hot path.
#include "loadgen/bench_command.hpp"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "loadgen/query_mix.hpp"
#include "loadgen/report.hpp"
#include "loadgen/request_builder.hpp"
#include "loadgen/runner.hpp"

namespace ragd::loadgen {

namespace {

std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

void on_stop_signal(int /*signal*/) {
    g_stop.store(true);
}

// Raises the soft open-file limit to the hard one and returns the resulting limit: each
// connection is a descriptor, and the usual soft limit of 1024 would cap the load.
rlim_t raise_file_limit() {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
        return 0;
    }
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
        getrlimit(RLIMIT_NOFILE, &limit);
    }
    return limit.rlim_cur;
}

// The numeric address for `host`, preferring IPv4 (ragd listens on 127.0.0.1 by default,
// while "localhost" often resolves to ::1 first).
core::Result<std::string> resolve(const std::string& host) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &found);
    if (rc != 0) {
        return core::fail(core::ErrorCode::kInvalidArgument,
                          "cannot resolve host '" + host + "': " + gai_strerror(rc));
    }
    const addrinfo* chosen = found;
    for (const addrinfo* item = found; item != nullptr; item = item->ai_next) {
        if (item->ai_family == AF_INET) {
            chosen = item;
            break;
        }
    }
    char text[INET6_ADDRSTRLEN] = {};
    const void* address =
        chosen->ai_family == AF_INET
            ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(chosen->ai_addr)->sin_addr)
            : static_cast<const void*>(
                  &reinterpret_cast<sockaddr_in6*>(chosen->ai_addr)->sin6_addr);
    inet_ntop(chosen->ai_family, address, text, sizeof(text));
    freeaddrinfo(found);
    return std::string(text);
}

core::Result<std::vector<std::string>> read_lines(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        return core::fail(core::ErrorCode::kIo, "cannot open query file '" + path + "'");
    }
    std::vector<std::string> lines;
    std::string line;
    while (std::getline(in, line)) {
        lines.push_back(line);
    }
    if (in.bad()) {
        return core::fail(core::ErrorCode::kIo, "cannot read query file '" + path + "'");
    }
    return lines;
}

bool write_file(const std::string& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    out.close();
    if (!out) {
        std::cerr << "ragd bench: cannot write '" << path << "'\n";
        return false;
    }
    return true;
}

std::string describe_level(const LevelSpec& level, bool open_loop) {
    std::ostringstream out;
    if (open_loop) {
        out << level.rate_per_s << " requests/s over at most " << level.users << " connections";
    } else {
        out << level.users << " users";
    }
    return out.str();
}

}  // namespace

int run_bench(const BenchArgs& args) {
    auto parsed = parse_bench_args(args, std::thread::hardware_concurrency());
    if (!parsed) {
        std::cerr << "ragd bench: " << parsed.error().detail << "\n";
        return 1;
    }
    const BenchOptions& options = *parsed;

    std::vector<std::string> lines;
    if (!options.queries_file.empty()) {
        auto read = read_lines(options.queries_file);
        if (!read) {
            std::cerr << "ragd bench: " << read.error().detail << "\n";
            return 1;
        }
        lines = std::move(*read);
    }
    auto address = resolve(options.url.host);
    if (!address) {
        std::cerr << "ragd bench: " << address.error().detail << "\n";
        return 1;
    }

    const rlim_t file_limit = raise_file_limit();
    unsigned most_users = 0;
    for (const auto& level : options.levels) {
        most_users = std::max(most_users, level.users);
    }
    if (file_limit != 0 && file_limit != RLIM_INFINITY && most_users + 64 > file_limit) {
        std::cerr << "ragd bench: warning: the open-file limit is " << file_limit << ", below "
                  << most_users << " connections; connections beyond it fail as 'connect' "
                  << "errors (raise it with ulimit -Hn)\n";
    }

    RunSettings settings;
    settings.address = *address;
    settings.port = options.url.port;
    settings.duration = options.duration;
    settings.ramp_up = options.ramp_up;
    settings.think_time = options.think_time;
    settings.timeout = options.timeout;
    settings.threads = options.threads;
    settings.head_request = options.method == "HEAD";
    settings.stream = options.stream;
    RequestSource source(options, QueryMix(std::move(lines), options.repeat_fraction));

    g_stop.store(false);
    auto* previous_int = std::signal(SIGINT, on_stop_signal);
    auto* previous_term = std::signal(SIGTERM, on_stop_signal);
    auto* previous_pipe = std::signal(SIGPIPE, SIG_IGN);

    std::cout << "ragd bench: " << options.method << " http://" << options.url.host_header
              << options.url.target << " (" << *address << "), "
              << (options.open_loop ? "open" : "closed") << " loop, "
              << std::chrono::duration<double>(options.duration).count() << " s per level, "
              << options.threads << (options.threads == 1 ? " thread" : " threads")
              << "; latency in ms, successful requests only\n"
              << table_header(options.open_loop, options.stream) << std::endl;

    std::vector<LevelResult> results;
    for (std::size_t idx = 0; idx < options.levels.size(); ++idx) {
        const auto& level = options.levels[idx];
        const auto ramp = options.ramp_up.value_or(default_ramp_up(level.users));
        std::cerr << "level " << idx + 1 << "/" << options.levels.size() << ": "
                  << describe_level(level, options.open_loop) << ", "
                  << std::chrono::duration<double>(ramp).count() << " s ramp-up + "
                  << std::chrono::duration<double>(options.duration).count() << " s\n";
        results.push_back(run_level(settings, level, source, g_stop));
        const auto& result = results.back();
        std::cout << table_row(result, options.stream) << std::endl;
        if (result.interrupted) {
            break;
        }
        if (result.stats.success_pct() < options.min_success_pct &&
            idx + 1 < options.levels.size()) {
            std::cout << "stopping: " << result.stats.success_pct() << "% successful is below "
                      << "--min-success " << options.min_success_pct << "%" << std::endl;
            break;
        }
    }

    std::signal(SIGINT, previous_int);
    std::signal(SIGTERM, previous_term);
    std::signal(SIGPIPE, previous_pipe);

    bool written = true;
    if (!options.json_path.empty()) {
        written = write_file(options.json_path, report_json(options, results)) && written;
    }
    if (!options.html_path.empty()) {
        written = write_file(options.html_path, report_html(options, results)) && written;
    }
    if (!written) {
        return 1;
    }
    const bool healthy = !results.empty() &&
                         results.front().stats.success_pct() >= options.min_success_pct &&
                         results.front().stats.requests > 0;
    return healthy ? 0 : 2;
}

}  // namespace ragd::loadgen
