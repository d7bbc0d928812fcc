// The runner end to end against a tiny canned-response server on 127.0.0.1 port 0: successes,
// SSE first events, status codes, refused connections, timeouts, the open-loop schedule and
// the stop flag.
#include "loadgen/runner.hpp"

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include "loadgen/query_mix.hpp"

namespace ragd::loadgen {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;
constexpr auto kNoThrow = net::as_tuple(net::use_awaitable);

// Answers every request on a connection with `response`, or never answers when it is empty.
class CannedServer {
public:
    explicit CannedServer(std::string response)
        : response_(std::move(response)),
          acceptor_(io_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {
        net::co_spawn(io_, accept_loop(), net::detached);
        thread_ = std::thread([this] { io_.run(); });
    }
    ~CannedServer() {
        io_.stop();
        thread_.join();
    }
    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
    int requests() const { return requests_.load(); }
    std::size_t connections() const {
        std::lock_guard lock(peers_mutex_);
        return connections_;
    }
    std::set<std::string> peer_addresses() const {
        std::lock_guard lock(peers_mutex_);
        return peers_;
    }

private:
    net::awaitable<void> accept_loop() {
        while (true) {
            auto [ec, socket] = co_await acceptor_.async_accept(kNoThrow);
            if (ec) {
                co_return;
            }
            {
                std::lock_guard lock(peers_mutex_);
                boost::system::error_code peer_ec;
                peers_.insert(socket.remote_endpoint(peer_ec).address().to_string());
                ++connections_;
            }
            net::co_spawn(io_, serve(std::move(socket)), net::detached);
        }
    }

    net::awaitable<void> serve(tcp::socket socket) {
        std::string buffer;
        while (true) {
            auto [ec, head_size] = co_await net::async_read_until(
                socket, net::dynamic_buffer(buffer), "\r\n\r\n", kNoThrow);
            if (ec) {
                co_return;
            }
            std::size_t body_size = 0;
            const auto length_at = buffer.find("Content-Length: ");
            if (length_at != std::string::npos && length_at < head_size) {
                body_size = std::stoul(buffer.substr(length_at + 16));
            }
            if (buffer.size() < head_size + body_size) {
                auto [read_ec, n] = co_await net::async_read(
                    socket,
                    net::dynamic_buffer(buffer),
                    net::transfer_exactly(head_size + body_size - buffer.size()),
                    kNoThrow);
                if (read_ec) {
                    co_return;
                }
            }
            buffer.erase(0, head_size + body_size);
            ++requests_;
            if (response_.empty()) {
                continue;  // silent: the client must time out
            }
            auto [write_ec, n] =
                co_await net::async_write(socket, net::buffer(response_), kNoThrow);
            if (write_ec || response_.find("Connection: close") != std::string::npos) {
                co_return;
            }
        }
    }

    std::string response_;
    net::io_context io_;
    tcp::acceptor acceptor_;
    std::thread thread_;
    std::atomic<int> requests_{0};
    mutable std::mutex peers_mutex_;
    std::set<std::string> peers_;
    std::size_t connections_ = 0;
};

BenchOptions get_options(std::uint16_t port) {
    BenchArgs args;
    args.url = "http://127.0.0.1:" + std::to_string(port) + "/health";
    return *parse_bench_args(args, 2);
}

RunSettings quick_settings(std::uint16_t port) {
    RunSettings settings;
    settings.address = "127.0.0.1";
    settings.port = port;
    settings.duration = 300ms;
    settings.ramp_up = 0ns;
    settings.timeout = 2s;
    settings.threads = 2;
    return settings;
}

LevelResult run(const RunSettings& settings, LevelSpec level) {
    RequestSource source(get_options(settings.port), QueryMix({}, 0.0));
    std::atomic<bool> stop{false};
    return run_level(settings, level, source, stop);
}

constexpr const char* kOk = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

TEST(Runner, ClosedLoopCountsSuccesses) {
    CannedServer server(kOk);
    const auto result = run(quick_settings(server.port()), LevelSpec{4, 0});
    const auto& stats = result.stats;
    EXPECT_GT(stats.requests, 10U);
    EXPECT_EQ(stats.successes, stats.requests) << stats.error_summary();
    EXPECT_EQ(stats.latency_ns.count(), stats.successes);
    EXPECT_EQ(stats.ttfb_ns.count(), stats.successes);
    EXPECT_EQ(stats.body_bytes, 2 * stats.successes);
    EXPECT_LE(stats.requests, static_cast<std::uint64_t>(server.requests()));
    EXPECT_EQ(result.measured, 300ms);
    EXPECT_GT(result.rps(), 0.0);
    EXPECT_FALSE(result.interrupted);
}

TEST(Runner, SseStreamsRecordTheFirstEvent) {
    CannedServer server(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        "d\r\ndata: token\n\n\r\n"
        "e\r\ndata: [DONE]\n\n\r\n"
        "0\r\n\r\n");
    auto settings = quick_settings(server.port());
    settings.stream = true;
    const auto result = run(settings, LevelSpec{3, 0});
    EXPECT_GT(result.stats.successes, 0U);
    EXPECT_EQ(result.stats.successes, result.stats.requests) << result.stats.error_summary();
    EXPECT_EQ(result.stats.first_event_ns.count(), result.stats.successes);
}

TEST(Runner, StreamsWithoutEventsAreErrors) {
    CannedServer server(kOk);
    auto settings = quick_settings(server.port());
    settings.stream = true;
    const auto result = run(settings, LevelSpec{2, 0});
    EXPECT_GT(result.stats.requests, 0U);
    EXPECT_EQ(result.stats.errors[static_cast<std::size_t>(ErrorKind::kNoEvents)],
              result.stats.requests);
}

TEST(Runner, LargeBodiesAreReadToTheEnd) {
    // Bigger than the per-thread read buffer and the socket buffers: several reads per wake-up.
    const std::string body(std::size_t{256} * 1024, 'x');
    CannedServer server("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
                        "\r\n\r\n" + body);
    const auto result = run(quick_settings(server.port()), LevelSpec{2, 0});
    EXPECT_GT(result.stats.successes, 0U);
    EXPECT_EQ(result.stats.successes, result.stats.requests) << result.stats.error_summary();
    EXPECT_EQ(result.stats.body_bytes, body.size() * result.stats.successes);
}

TEST(Runner, StatusCodesAreCountedByCode) {
    CannedServer server(
        "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    const auto result = run(quick_settings(server.port()), LevelSpec{4, 0});
    EXPECT_GT(result.stats.requests, 0U);
    EXPECT_EQ(result.stats.successes, 0U);
    EXPECT_EQ(result.stats.http_errors[503], result.stats.requests) << result.stats.error_summary();
    EXPECT_EQ(result.stats.latency_ns.count(), 0U);
}

TEST(Runner, RefusedConnectionsAreCounted) {
    std::uint16_t closed_port = 0;
    {
        net::io_context io;
        tcp::acceptor probe(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
        closed_port = probe.local_endpoint().port();
    }
    const auto result = run(quick_settings(closed_port), LevelSpec{3, 0});
    EXPECT_GT(result.stats.requests, 0U);
    EXPECT_EQ(result.stats.errors[static_cast<std::size_t>(ErrorKind::kRefused)],
              result.stats.requests);
    // The 10 ms back-off keeps a closed port from being hammered: ~30 per user per 300 ms.
    EXPECT_LT(result.stats.requests, 3U * 60U);
}

TEST(Runner, TimeoutsAreCounted) {
    CannedServer server("");
    auto settings = quick_settings(server.port());
    settings.timeout = 100ms;
    const auto result = run(settings, LevelSpec{2, 0});
    EXPECT_GT(result.stats.errors[static_cast<std::size_t>(ErrorKind::kTimeout)], 0U);
    EXPECT_EQ(result.stats.errors[static_cast<std::size_t>(ErrorKind::kTimeout)],
              result.stats.requests);
}

TEST(Runner, OpenLoopFollowsTheSchedule) {
    CannedServer server(kOk);
    auto settings = quick_settings(server.port());
    settings.duration = 500ms;
    const auto result = run(settings, LevelSpec{8, 200});
    // 200/s for 0.5 s is 100 arrivals in the window, whatever the server's speed.
    EXPECT_GE(result.stats.requests, 99U);
    EXPECT_LE(result.stats.requests, 101U);
    EXPECT_EQ(result.stats.successes, result.stats.requests) << result.stats.error_summary();
    EXPECT_TRUE(result.open_loop);
}

TEST(Runner, OpenLoopMeasuresFromTheScheduleWhenConnectionsRunOut) {
    // One connection and a server that cannot keep up (the client times out each request):
    // queued arrivals are still all accounted for, none silently dropped.
    CannedServer server("");
    auto settings = quick_settings(server.port());
    settings.duration = 300ms;
    settings.timeout = 50ms;
    settings.threads = 2;  // more threads than connections: one must do all the work
    const auto result = run(settings, LevelSpec{1, 100});
    EXPECT_GE(result.stats.requests, 29U);
    EXPECT_LE(result.stats.requests, 31U);
    EXPECT_EQ(result.stats.errors[static_cast<std::size_t>(ErrorKind::kTimeout)],
              result.stats.requests);
}

TEST(Runner, StopFlagEndsTheLevelEarly) {
    CannedServer server(kOk);
    auto settings = quick_settings(server.port());
    settings.duration = 60s;
    RequestSource source(get_options(server.port()), QueryMix({}, 0.0));
    std::atomic<bool> stop{false};
    // Stop once the level is visibly under way (or after 5 s, when the test fails anyway).
    std::thread stopper([&] {
        const auto give_up = std::chrono::steady_clock::now() + 5s;
        while (server.requests() < 20 && std::chrono::steady_clock::now() < give_up) {
            std::this_thread::sleep_for(1ms);
        }
        stop.store(true);
    });
    const auto started = std::chrono::steady_clock::now();
    const auto result = run_level(settings, LevelSpec{4, 0}, source, stop);
    stopper.join();
    EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
    EXPECT_TRUE(result.interrupted);
    EXPECT_LT(result.measured, 5s);
    EXPECT_GT(result.stats.successes, 0U);
    EXPECT_EQ(result.stats.successes, result.stats.requests);
}

TEST(Runner, LoopbackSourceAddresses) {
    EXPECT_EQ(loopback_source_count(256), 1U);
    EXPECT_EQ(loopback_source_count(10'000), 11U);
    EXPECT_EQ(loopback_source_count(1'000'000), 250U);
}

TEST(Runner, ManyConnectionsOverSeveralSourceAddresses) {
    // Both ends of 2,000 connections live in this process.
    rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    if (limit.rlim_cur < 4200) {
        GTEST_SKIP() << "needs 4,200 file descriptors, the hard limit is " << limit.rlim_max;
    }
    CannedServer server(kOk);
    auto settings = quick_settings(server.port());
    settings.ramp_up = 200ms;
    settings.duration = 1s;
    const auto result = run(settings, LevelSpec{2000, 0});
    EXPECT_GT(result.stats.requests, 0U);
    EXPECT_EQ(result.stats.successes, result.stats.requests) << result.stats.error_summary();
    EXPECT_EQ(server.connections(), 2000U) << "one keep-alive connection per user";
    EXPECT_EQ(server.peer_addresses(),
              (std::set<std::string>{"127.0.0.1", "127.0.0.2", "127.0.0.3"}));
}

}  // namespace
}  // namespace ragd::loadgen
