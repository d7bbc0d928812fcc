// The load generator's I/O. Each thread owns an io_context and everything its coroutines touch
// (connections, stats, a shared read buffer), so the hot path takes no locks. Sockets are
// non-blocking and driven reactor-style: wait for readiness, then read or write synchronously
// into one per-thread buffer, so 15,000 idle connections hold no read buffers, and a request
// that fits the socket buffer is written without suspending the coroutine.
#include "loadgen/runner.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <exception>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "loadgen/response_parser.hpp"

namespace ragd::loadgen {

namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::nanoseconds;

constexpr auto kNoThrow = net::as_tuple(net::use_awaitable);
/// Read buffer shared by all connections of a thread.
constexpr std::size_t kReadBufferBytes = std::size_t{64} * 1024;
/// Pause after a failed connect (closed loop), so a server that is down is probed, not flooded.
constexpr nanoseconds kConnectBackoff = std::chrono::milliseconds(10);
/// Gap between setting up a level and its first request, so every thread starts on time.
constexpr nanoseconds kStartDelay = std::chrono::milliseconds(20);

void rethrow_unexpected(const std::exception_ptr& error) {
    if (error) {
        std::rethrow_exception(error);
    }
}

double cpu_seconds_now() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    auto seconds = [](const timeval& tv) {
        return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
    };
    return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

ErrorKind classify(const boost::system::error_code& ec, bool connecting) {
    namespace error = net::error;
    if (ec == error::connection_refused) {
        return ErrorKind::kRefused;
    }
    if (ec == error::connection_reset || ec == error::broken_pipe ||
        ec == error::connection_aborted) {
        return ErrorKind::kReset;
    }
    if (ec == error::timed_out) {
        return ErrorKind::kTimeout;
    }
    if (ec == error::eof) {
        return ErrorKind::kClosed;
    }
    return connecting ? ErrorKind::kConnect : ErrorKind::kOther;
}

/// Fixed for the whole level; read by every thread.
struct LevelPlan {
    const RunSettings* settings = nullptr;
    LevelSpec level;
    RequestSource* source = nullptr;
    const std::atomic<bool>* stop = nullptr;
    tcp::endpoint target;
    unsigned threads = 1;       // I/O threads: never more than users, so each has work
    unsigned source_count = 1;  // loopback source addresses; 1 means no bind
    Clock::time_point start;
    Clock::time_point measure_start;
    Clock::time_point measure_end;
    nanoseconds ramp_up{0};

    /// Open loop: when global arrival `k` is due. The rate climbs linearly from 0 to R during
    /// the ramp-up (R*T/2 arrivals, unmeasured), then stays at R.
    Clock::time_point arrival_time(std::uint64_t k) const {
        const double rate = level.rate_per_s;
        const double ramp_s = std::chrono::duration<double>(ramp_up).count();
        const double ramp_arrivals = rate * ramp_s / 2;
        const double kd = static_cast<double>(k);
        const double at_s = kd < ramp_arrivals ? std::sqrt(2 * ramp_s * kd / rate)
                                               : ramp_s + (kd - ramp_arrivals) / rate;
        return start + std::chrono::duration_cast<nanoseconds>(std::chrono::duration<double>(at_s));
    }
};

/// One user (closed loop) or one pooled connection (open loop).
struct Connection {
    Connection(const net::any_io_executor& executor, unsigned index_in)
        : socket(executor), timer(executor), index(index_in) {}

    tcp::socket socket;
    net::steady_timer timer;  // ramp-up, think time, idle wait in the open-loop pool
    ResponseParser parser;
    std::string scratch;  // request bytes when they vary
    unsigned index;       // global connection number: picks the source address
    Clock::time_point deadline = Clock::time_point::max();
    bool timed_out = false;
    std::optional<Clock::time_point> arrival;  // open loop: the request this worker owes
};

/// What one request/response exchange produced.
struct Exchange {
    std::optional<ErrorKind> error;
    Clock::time_point first_byte{};
    std::optional<Clock::time_point> first_event;
    Clock::time_point end{};
};

class ThreadRunner {
public:
    ThreadRunner(const LevelPlan& plan, unsigned thread_idx)
        : plan_(plan),
          settings_(*plan.settings),
          thread_idx_(thread_idx),
          read_buffer_(std::make_unique<char[]>(kReadBufferBytes)),
          dispatch_timer_(io_) {}

    void run() {
        const unsigned threads = plan_.threads;
        const unsigned users = plan_.level.users;
        if (plan_.level.rate_per_s > 0) {
            connection_cap_ = users / threads + (thread_idx_ < users % threads ? 1 : 0);
            ++live_;
            net::co_spawn(io_, open_dispatcher(), rethrow_unexpected);
        } else {
            for (unsigned user = thread_idx_; user < users; user += threads) {
                const auto offset = users <= 1 ? nanoseconds(0) : plan_.ramp_up * user / users;
                auto& conn = add_connection(user);
                ++live_;
                net::co_spawn(io_, closed_user(conn, plan_.start + offset), rethrow_unexpected);
            }
        }
        net::co_spawn(io_, watchdog(), rethrow_unexpected);
        io_.run();
    }

    const LevelStats& stats() const { return stats_; }
    bool interrupted() const { return stopping_; }
    Clock::time_point stop_time() const { return stop_time_; }

private:
    Connection& add_connection(unsigned index) {
        connections_.push_back(std::make_unique<Connection>(io_.get_executor(), index));
        return *connections_.back();
    }

    bool level_over(Clock::time_point now) const { return stopping_ || now >= plan_.measure_end; }

    net::awaitable<void> sleep_until(net::steady_timer& timer, Clock::time_point when) {
        if (when <= Clock::now()) {
            co_return;
        }
        timer.expires_at(when);
        co_await timer.async_wait(kNoThrow);
    }

    net::awaitable<void> closed_user(Connection& conn, Clock::time_point start_at) {
        co_await sleep_until(conn.timer, start_at);
        while (true) {
            const auto start = Clock::now();
            if (level_over(start)) {
                break;
            }
            const Exchange result = co_await exchange(conn);
            if (stopping_) {
                break;  // cut short by SIGINT: not a server error, not counted
            }
            record(conn, result, start, start >= plan_.measure_start);
            nanoseconds pause = settings_.think_time;
            if (result.error == ErrorKind::kRefused || result.error == ErrorKind::kConnect ||
                result.error == ErrorKind::kReset) {
                pause = std::max(pause, kConnectBackoff);
            }
            if (pause > nanoseconds::zero()) {
                co_await sleep_until(conn.timer, std::min(Clock::now() + pause, plan_.measure_end));
            }
        }
        finish(conn);
    }

    // Open loop: arrivals follow a fixed schedule whatever the server does. Each is handed to
    // the most recently idle connection (so a low rate keeps reusing a few warm ones), else to
    // a new connection while under the cap, else queued. Latency is measured from the
    // scheduled time, so time spent queued behind a slow server counts: no coordinated omission.
    net::awaitable<void> open_dispatcher() {
        const std::uint64_t threads = plan_.threads;
        for (std::uint64_t k = thread_idx_;; k += threads) {
            const auto due = plan_.arrival_time(k);
            if (due >= plan_.measure_end || stopping_) {
                break;
            }
            co_await sleep_until(dispatch_timer_, due);
            if (stopping_) {
                break;
            }
            if (!idle_.empty()) {
                Connection* conn = idle_.back();
                idle_.pop_back();
                conn->arrival = due;
                conn->timer.cancel();
            } else if (spawned_ < connection_cap_) {
                const unsigned index = spawned_++ * plan_.threads + thread_idx_;
                auto& conn = add_connection(index);
                conn.arrival = due;
                ++live_;
                net::co_spawn(io_, open_worker(conn), rethrow_unexpected);
            } else {
                backlog_.push_back(due);
            }
        }
        schedule_done_ = true;
        for (Connection* conn : idle_) {
            conn->timer.cancel();
        }
        idle_.clear();
        --live_;
    }

    net::awaitable<void> open_worker(Connection& conn) {
        while (!stopping_) {
            if (!conn.arrival) {
                if (!backlog_.empty()) {
                    conn.arrival = backlog_.front();
                    backlog_.pop_front();
                } else if (schedule_done_) {
                    break;
                } else {
                    // Parked until the dispatcher hands over an arrival (it cancels the wait).
                    idle_.push_back(&conn);
                    conn.timer.expires_at(Clock::time_point::max());
                    co_await conn.timer.async_wait(kNoThrow);
                    continue;
                }
            }
            const auto scheduled = *conn.arrival;
            conn.arrival.reset();
            const Exchange result = co_await exchange(conn);
            if (stopping_) {
                break;
            }
            record(conn, result, scheduled, scheduled >= plan_.measure_start);
        }
        finish(conn);
    }

    void finish(Connection& conn) {
        close(conn);
        --live_;
    }

    // Cancels the I/O of requests past their deadline, and everything when `stop` is set;
    // ends once every user is done. One sweep over the connections per tick is far cheaper
    // than arming a timer per request.
    net::awaitable<void> watchdog() {
        const nanoseconds tick = std::clamp<nanoseconds>(
            settings_.timeout / 20, std::chrono::milliseconds(5), std::chrono::milliseconds(100));
        net::steady_timer timer(io_);
        while (live_ > 0) {
            timer.expires_after(tick);
            co_await timer.async_wait(kNoThrow);
            const auto now = Clock::now();
            if (!stopping_ && plan_.stop->load(std::memory_order_relaxed)) {
                stopping_ = true;
                stop_time_ = now;
                dispatch_timer_.cancel();
                for (auto& conn : connections_) {
                    boost::system::error_code ignored;
                    conn->socket.cancel(ignored);
                    conn->timer.cancel();
                }
                continue;
            }
            for (auto& conn : connections_) {
                if (conn->deadline <= now) {
                    conn->deadline = Clock::time_point::max();
                    conn->timed_out = true;
                    boost::system::error_code ignored;
                    conn->socket.cancel(ignored);
                }
            }
        }
    }

    boost::system::error_code open_socket(Connection& conn) {
        boost::system::error_code ec;
        conn.socket.open(plan_.target.protocol(), ec);
        if (ec || plan_.source_count <= 1) {
            return ec;
        }
        // Spread loopback connections over 127.0.0.1..N: each source address has its own
        // ephemeral port range. IP_BIND_ADDRESS_NO_PORT defers the port choice to connect(),
        // so the port need only be unique per (source, destination) pair.
        const int one = 1;
        ::setsockopt(
            conn.socket.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        const auto host = static_cast<net::ip::address_v4::uint_type>(
            0x7f000001U + conn.index % plan_.source_count);
        conn.socket.bind(tcp::endpoint(net::ip::address_v4(host), 0), ec);
        return ec;
    }

    // One request and its response on the connection's socket, connecting first when needed.
    net::awaitable<Exchange> exchange(Connection& conn) {
        Exchange result;
        const std::string_view request = plan_.source->next(conn.scratch);
        conn.timed_out = false;
        conn.deadline = Clock::now() + settings_.timeout;
        auto fail = [&](ErrorKind kind) {
            result.error = conn.timed_out ? ErrorKind::kTimeout : kind;
            close(conn);
        };

        if (!conn.socket.is_open()) {
            if (auto ec = open_socket(conn)) {
                fail(classify(ec, true));
                co_return finish_exchange(conn, result);
            }
            auto [ec] = co_await conn.socket.async_connect(plan_.target, kNoThrow);
            if (ec) {
                fail(classify(ec, true));
                co_return finish_exchange(conn, result);
            }
            boost::system::error_code ignored;
            conn.socket.set_option(tcp::no_delay(true), ignored);
            conn.socket.non_blocking(true, ignored);
        }

        std::size_t sent = 0;
        while (sent < request.size()) {
            boost::system::error_code ec;
            sent += conn.socket.write_some(net::buffer(request.substr(sent)), ec);
            if (ec == net::error::would_block) {
                auto [wait_ec] = co_await conn.socket.async_wait(tcp::socket::wait_write, kNoThrow);
                ec = wait_ec;
            }
            if (ec) {
                fail(classify(ec, false));
                co_return finish_exchange(conn, result);
            }
        }

        conn.parser.reset(settings_.head_request);
        bool got_bytes = false;
        while (true) {
            auto [wait_ec] = co_await conn.socket.async_wait(tcp::socket::wait_read, kNoThrow);
            if (wait_ec) {
                fail(classify(wait_ec, false));
                break;
            }
            if (drain_response(conn, result, got_bytes)) {
                break;
            }
        }
        co_return finish_exchange(conn, result);
    }

    // Reads what the socket holds into the parser, until it would block: bytes already queued
    // (a body larger than the read buffer) are taken now rather than after another trip
    // through the reactor. Returns true when the exchange is over (response complete, or an
    // error recorded in `result`).
    bool drain_response(Connection& conn, Exchange& result, bool& got_bytes) {
        while (true) {
            boost::system::error_code ec;
            const std::size_t n =
                conn.socket.read_some(net::buffer(read_buffer_.get(), kReadBufferBytes), ec);
            if (ec == net::error::would_block) {
                return false;
            }
            if (ec == net::error::eof) {
                conn.parser.finish_on_eof();
                if (!conn.parser.complete()) {
                    result.error = ErrorKind::kClosed;
                }
                close(conn);
                return true;
            }
            if (ec) {
                result.error = classify(ec, false);
                close(conn);
                return true;
            }
            const auto now = Clock::now();
            if (!got_bytes) {
                got_bytes = true;
                result.first_byte = now;
            }
            const std::size_t used = conn.parser.feed(std::string_view(read_buffer_.get(), n));
            if (!result.first_event && conn.parser.saw_sse_data()) {
                result.first_event = now;
            }
            if (conn.parser.failed()) {
                result.error = ErrorKind::kProtocol;
                close(conn);
                return true;
            }
            if (conn.parser.complete()) {
                // Bytes past the response answer no request: the connection is not reusable.
                if (used < n || !conn.parser.keep_alive()) {
                    close(conn);
                }
                return true;
            }
        }
    }

    static void close(Connection& conn) {
        boost::system::error_code ignored;
        conn.socket.close(ignored);
    }

    static Exchange& finish_exchange(Connection& conn, Exchange& result) {
        conn.deadline = Clock::time_point::max();
        result.end = Clock::now();
        return result;
    }

    void record(const Connection& conn,
                const Exchange& result,
                Clock::time_point start,
                bool measured) {
        if (!measured) {
            return;
        }
        ++stats_.requests;
        if (result.error) {
            stats_.add_error(*result.error);
            return;
        }
        const int status = conn.parser.status();
        if (status < 200 || status > 299) {
            ++stats_.http_errors[static_cast<std::size_t>(status)];
            return;
        }
        if (settings_.stream && !conn.parser.saw_sse_data()) {
            stats_.add_error(ErrorKind::kNoEvents);
            return;
        }
        ++stats_.successes;
        stats_.body_bytes += conn.parser.body_bytes();
        auto since_start = [&](Clock::time_point at) {
            return static_cast<std::uint64_t>(std::max<std::int64_t>(0, (at - start).count()));
        };
        stats_.latency_ns.record(since_start(result.end));
        stats_.ttfb_ns.record(since_start(result.first_byte));
        if (result.first_event) {
            stats_.first_event_ns.record(since_start(*result.first_event));
        }
    }

    const LevelPlan& plan_;
    const RunSettings& settings_;
    const unsigned thread_idx_;
    // Declared before every socket and timer: destroyed after them.
    net::io_context io_{1};
    std::unique_ptr<char[]> read_buffer_;
    net::steady_timer dispatch_timer_;
    std::vector<std::unique_ptr<Connection>> connections_;
    LevelStats stats_;
    unsigned live_ = 0;
    bool stopping_ = false;
    Clock::time_point stop_time_{};
    // Open loop.
    unsigned connection_cap_ = 0;
    unsigned spawned_ = 0;
    std::vector<Connection*> idle_;
    std::deque<Clock::time_point> backlog_;
    bool schedule_done_ = false;
};

}  // namespace

unsigned loopback_source_count(unsigned users) {
    return std::min(250U, 1 + users / 1000);
}

LevelResult run_level(const RunSettings& settings,
                      const LevelSpec& level,
                      RequestSource& source,
                      const std::atomic<bool>& stop) {
    LevelPlan plan;
    plan.settings = &settings;
    plan.level = level;
    plan.source = &source;
    plan.stop = &stop;
    plan.target = tcp::endpoint(net::ip::make_address(settings.address), settings.port);
    const auto target_address = plan.target.address();
    if (target_address.is_v4() && target_address.is_loopback()) {
        plan.source_count = loopback_source_count(level.users);
    }
    plan.ramp_up = settings.ramp_up.value_or(default_ramp_up(level.users));
    const auto wall_start = Clock::now();
    const double cpu_start = cpu_seconds_now();
    plan.start = wall_start + kStartDelay;
    plan.measure_start = plan.start + plan.ramp_up;
    plan.measure_end = plan.measure_start + settings.duration;

    plan.threads = std::clamp(settings.threads, 1U, std::max(1U, level.users));
    const unsigned threads = plan.threads;
    std::vector<std::unique_ptr<ThreadRunner>> runners;
    for (unsigned idx = 0; idx < threads; ++idx) {
        runners.push_back(std::make_unique<ThreadRunner>(plan, idx));
    }
    {
        std::vector<std::jthread> workers;
        workers.reserve(runners.size());
        for (auto& runner : runners) {
            workers.emplace_back([&runner] { runner->run(); });
        }
    }

    LevelResult result;
    result.spec = level;
    result.open_loop = level.rate_per_s > 0;
    auto window_end = plan.measure_end;
    for (const auto& runner : runners) {
        result.stats.merge(runner->stats());
        if (runner->interrupted()) {
            result.interrupted = true;
            window_end = std::min(window_end, runner->stop_time());
        }
    }
    result.measured = std::max(nanoseconds(0), window_end - plan.measure_start);
    result.wall_seconds = std::chrono::duration<double>(Clock::now() - wall_start).count();
    result.cpu_seconds = cpu_seconds_now() - cpu_start;
    return result;
}

}  // namespace ragd::loadgen
