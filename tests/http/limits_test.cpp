// The server's connection and stream limits over real loopback sockets: max_connections (accept
// pauses, nothing is accepted-and-closed), max_connections_per_ip (503 naming the limit),
// max_requests_per_connection (Connection: close on the last), max_stream_ms (the stream ends
// with an SSE error event, the request is cancelled, the connection closes), the accept backoff
// at EMFILE, and the config keys behind them.
#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/config_loader.hpp"
#include "http/observer.hpp"
#include "http/server.hpp"
#include "raw_http_client.hpp"

namespace ragd::http {
namespace {

using namespace std::chrono_literals;
using test::Client;
using test::get;
using test::pause;
using test::small_config;
using test::TestServer;
using Clock = std::chrono::steady_clock;
namespace net = boost::asio;

Router ping_router() {
    Router router;
    router.add(
        Method::kGet,
        "/ping",
        [](const Request& request) {
            return Response::json(200, "\"" + request.remote_address + "\"");
        },
        RouteOptions{Dispatch::kInline});
    router.add_async(Method::kGet,
                     "/async-ping",
                     [](Request, ResponseWriter& writer, RequestContext&) -> net::awaitable<void> {
                         co_await writer.send(Response::json(200, "\"async\""));
                     });
    return router;
}

/// Reads (keeping the bytes) until the server closes the connection; true when it closed
/// within `timeout`.
bool read_to_close(Client& client, std::chrono::milliseconds timeout) {
    const auto start = Clock::now();
    const bool found = client.read_until("\x01never sent\x01", timeout);
    return !found && Clock::now() - start < timeout - 50ms;
}

TEST(ServerLimits, MaxConnectionsPausesAcceptUntilOneCloses) {
    core::ServerConfig config = small_config();
    config.max_connections = 2;
    TestServer server(config, ping_router());
    auto first = std::make_unique<Client>(server.port());
    Client second(server.port());
    for (Client* client : {first.get(), &second}) {
        ASSERT_TRUE(client->send(get("/ping")));
        const auto response = client->read_response();
        ASSERT_TRUE(response);
        EXPECT_EQ(response->status, 200);
    }
    // The third connection completes in the kernel's backlog but is not accepted: it is neither
    // answered nor closed while two are open.
    Client third(server.port());
    ASSERT_TRUE(third.connected());
    ASSERT_TRUE(third.send(get("/ping")));
    EXPECT_FALSE(third.read_response(false, 400ms));
    EXPECT_TRUE(third.buffered().empty());

    first.reset();  // frees a slot: accepting resumes
    const auto start = Clock::now();
    const auto response = third.read_response(false, 3000ms);
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200);
    EXPECT_LT(Clock::now() - start, 1000ms);
    // The connections that were served stay usable.
    ASSERT_TRUE(second.send(get("/ping")));
    EXPECT_TRUE(second.read_response());
}

/// Counts connections the server has started (the only observer call these tests need).
class OpenedCounter : public ServerObserver {
public:
    void on_connection_opened() override { opened.fetch_add(1); }
    void on_connection_closed() override {}
    void on_request_started() override {}
    void on_request_done(const RequestRecord&) override {}
    void on_request_abandoned() override {}
    void on_shed() override {}
    std::atomic<int> opened{0};
};

// Under overload the accept loop's single event loop is busy, and accepting one connection per
// wake-up drained the listen backlog slower than clients arrived: the kernel dropped SYNs and
// those clients waited seconds for a retransmit. One wake-up now takes what is waiting, up to
// max_connections.
TEST(ServerLimits, AcceptTakesTheWaitingBacklogAtOnceUpToMaxConnections) {
    core::ServerConfig config = small_config();
    config.threads = 1;  // one event loop: while /block holds it, connections wait in the backlog
    config.max_connections = 30;
    OpenedCounter counter;
    Router router = ping_router();
    router.add(
        Method::kGet,
        "/block",
        [](const Request&) {
            std::this_thread::sleep_for(300ms);
            return Response::json(200, "{}");
        },
        RouteOptions{Dispatch::kInline});
    router.add_async(
        Method::kGet,
        "/opened",
        [&counter](
            Request, ResponseWriter& writer, RequestContext& context) -> net::awaitable<void> {
            // One trip through the event loop first, so sessions started by the same wake-up
            // as this request's read have started (each start is posted).
            co_await net::post(context.executor(), net::use_awaitable);
            co_await writer.send(Response::json(200, std::to_string(counter.opened.load())));
        });
    TestServer server(config, std::move(router), &counter);
    const unsigned short port = server.port();

    Client blocker(port);
    Client asker(port);
    for (Client* client : {&blocker, &asker}) {
        ASSERT_TRUE(client->send(get("/ping")));
        ASSERT_TRUE(client->read_response());
    }
    ASSERT_TRUE(blocker.send(get("/block")));
    std::this_thread::sleep_for(100ms);  // /block now holds the only I/O thread
    std::vector<std::unique_ptr<Client>> burst;
    for (int i = 0; i < 40; ++i) {
        burst.push_back(std::make_unique<Client>(port));  // completes in the kernel's backlog
        ASSERT_TRUE(burst.back()->connected());
    }
    ASSERT_TRUE(asker.send(get("/opened")));  // readable after the backlog, in the same wake-up

    ASSERT_TRUE(blocker.read_response(false, 3000ms));
    const auto opened = asker.read_response(false, 3000ms);
    ASSERT_TRUE(opened);
    // One accept per wake-up answers 3 to 5 here; all 40 would break max_connections.
    EXPECT_EQ(opened->body, "30");

    // The 28 accepted are served; the 12 still in the backlog (here closed by their clients)
    // are taken as connections close.
    burst.resize(28);
    for (auto& client : burst) {
        ASSERT_TRUE(client->send(get("/ping")));
        ASSERT_TRUE(client->read_response(false, 3000ms));
    }
    burst.clear();
    for (const auto deadline = Clock::now() + 3s;
         Clock::now() < deadline && counter.opened.load() < 42;) {
        std::this_thread::sleep_for(10ms);
    }
    EXPECT_EQ(counter.opened.load(), 42);
}

TEST(ServerLimits, ConnectionPerIpOverTheLimitGets503NamingItAndIsClosed) {
    core::ServerConfig config = small_config();
    config.max_connections_per_ip = 2;
    TestServer server(config, ping_router());
    auto first = std::make_unique<Client>(server.port(), "127.0.0.1");
    Client second(server.port(), "127.0.0.1");
    for (Client* client : {first.get(), &second}) {
        ASSERT_TRUE(client->connected());
        ASSERT_TRUE(client->send(get("/ping")));
        const auto response = client->read_response();
        ASSERT_TRUE(response);
        EXPECT_EQ(response->status, 200);
    }

    Client extra(server.port(), "127.0.0.1");
    ASSERT_TRUE(extra.send(get("/ping")));
    const auto refused = extra.read_response();
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 503);
    EXPECT_EQ(refused->error_type(), "too_many_connections");
    EXPECT_NE(refused->error_message().find("server.max_connections_per_ip"), std::string::npos)
        << refused->error_message();
    EXPECT_NE(refused->error_message().find("127.0.0.1"), std::string::npos);
    EXPECT_EQ(refused->headers.at("connection"), "close");
    EXPECT_EQ(refused->headers.at("retry-after"), "1");
    EXPECT_TRUE(extra.closed_within(3000ms));

    // Another address of the same host is counted on its own (load tests use 127.0.0.x).
    Client other(server.port(), "127.0.0.2");
    ASSERT_TRUE(other.connected());
    ASSERT_TRUE(other.send(get("/ping")));
    const auto other_response = other.read_response();
    ASSERT_TRUE(other_response);
    EXPECT_EQ(other_response->status, 200);
    EXPECT_EQ(other_response->body, "\"127.0.0.2\"");

    // When one of the address's connections ends, the address gets a slot back (the server
    // notices the close asynchronously: retry for a bounded time).
    first.reset();
    int status = 0;
    for (const auto deadline = Clock::now() + 3s; Clock::now() < deadline && status != 200;) {
        Client again(server.port(), "127.0.0.1");
        ASSERT_TRUE(again.send(get("/ping")));
        const auto response = again.read_response();
        ASSERT_TRUE(response);
        status = response->status;
    }
    EXPECT_EQ(status, 200);
}

TEST(ServerLimits, LastRequestOfAConnectionSaysConnectionClose) {
    core::ServerConfig config = small_config();
    config.max_requests_per_connection = 3;
    TestServer server(config, ping_router());
    {
        Client client(server.port());
        for (int round = 1; round <= 3; ++round) {
            ASSERT_TRUE(client.send(get(round == 2 ? "/async-ping" : "/ping")));
            const auto response = client.read_response();
            ASSERT_TRUE(response) << "round " << round;
            EXPECT_EQ(response->status, 200);
            const auto connection = response->headers.find("connection");
            if (round < 3) {
                EXPECT_TRUE(connection == response->headers.end() || connection->second != "close")
                    << "round " << round;
            } else {
                ASSERT_NE(connection, response->headers.end());
                EXPECT_EQ(connection->second, "close");
            }
        }
        EXPECT_TRUE(client.closed_within(3000ms));
    }
    {
        // Pipelined: the fourth request is not served, on an async route as well.
        Client client(server.port());
        std::string burst;
        for (int round = 0; round < 4; ++round) {
            burst += get("/async-ping");
        }
        ASSERT_TRUE(client.send(burst));
        for (int round = 1; round <= 3; ++round) {
            const auto response = client.read_response();
            ASSERT_TRUE(response) << "round " << round;
            EXPECT_EQ(response->status, 200);
        }
        EXPECT_TRUE(client.closed_within(3000ms));
        EXPECT_TRUE(client.buffered().empty());
    }
}

/// What a streaming handler saw when the stream limit ended it.
struct StreamOutcome {
    std::promise<bool> cancelled;  ///< the request's cancel token had fired
    std::promise<bool> write_refused;
};

Router streaming_router(StreamOutcome& outcome) {
    Router router;
    // Writes an SSE event every 20 ms until the writer refuses.
    router.add_async(
        Method::kGet,
        "/events",
        [&outcome](
            Request, ResponseWriter& writer, RequestContext& context) -> net::awaitable<void> {
            co_await writer.begin_stream(200, "text/event-stream", {});
            bool refused = false;
            for (int event = 0; event < 500 && !refused; ++event) {
                refused = !co_await writer.write("event: delta\ndata: {}\n\n");
                if (!refused) {
                    co_await pause(context, 20ms);
                }
            }
            outcome.write_refused.set_value(refused);
            outcome.cancelled.set_value(context.cancel()->cancelled());
        });
    // Sends one event, then waits (as for an upstream's next token) without writing.
    router.add_async(
        Method::kGet,
        "/quiet",
        [&outcome](
            Request, ResponseWriter& writer, RequestContext& context) -> net::awaitable<void> {
            co_await writer.begin_stream(200, "text/event-stream; charset=utf-8", {});
            co_await writer.write("event: sources\ndata: []\n\n");
            const bool waited = co_await pause(context, 10s);
            outcome.write_refused.set_value(!waited);
            outcome.cancelled.set_value(context.cancel()->cancelled());
        });
    // Not SSE: the body is cut, without a last chunk, so the client sees it is incomplete.
    router.add_async(
        Method::kGet,
        "/plain",
        [](Request, ResponseWriter& writer, RequestContext& context) -> net::awaitable<void> {
            co_await writer.begin_stream(200, "text/plain", {});
            for (int piece = 0; piece < 500; ++piece) {
                if (!co_await writer.write("piece\n") || !co_await pause(context, 20ms)) {
                    co_return;
                }
            }
        });
    // A short stream: ends long before the limit.
    router.add_async(Method::kGet,
                     "/short",
                     [](Request, ResponseWriter& writer, RequestContext&) -> net::awaitable<void> {
                         co_await writer.begin_stream(200, "text/event-stream", {});
                         co_await writer.write("event: done\ndata: {}\n\n");
                         co_await writer.end();
                     });
    return router;
}

/// The stream ended with one error event naming the limit, then the last chunk, then a close.
void expect_ended_by_limit(Client& client) {
    ASSERT_TRUE(client.read_until("event: error\n", 3000ms)) << client.buffered();
    ASSERT_TRUE(client.read_until("0\r\n\r\n", 2000ms)) << client.buffered();
    const std::string& body = client.buffered();
    const std::size_t error_at = body.find("event: error\ndata: ");
    const std::size_t data_end = body.find("\n\n", error_at);
    ASSERT_NE(data_end, std::string::npos);
    const std::string data = body.substr(error_at + 19, data_end - error_at - 19);
    const auto json = boost::json::parse(data);
    EXPECT_EQ(json.at("error").at("type").as_string(), "timeout");
    EXPECT_NE(std::string(json.at("error").at("message").as_string()).find("server.max_stream_ms"),
              std::string::npos)
        << data;
    EXPECT_EQ(body.find("event: delta", error_at), std::string::npos) << "events after the error";
    EXPECT_TRUE(client.closed_within(3000ms));
}

TEST(ServerLimits, StreamOlderThanMaxStreamEndsWithErrorEventAndCancels) {
    core::ServerConfig config = small_config();
    config.max_stream = 300ms;
    StreamOutcome outcome;
    auto write_refused = outcome.write_refused.get_future();
    auto cancelled = outcome.cancelled.get_future();
    TestServer server(config, streaming_router(outcome));
    Client client(server.port());
    const auto start = Clock::now();
    ASSERT_TRUE(client.send(get("/events")));
    expect_ended_by_limit(client);
    const auto elapsed = Clock::now() - start;
    EXPECT_GE(elapsed, 250ms);
    EXPECT_LT(elapsed, 2500ms);
    ASSERT_EQ(write_refused.wait_for(3s), std::future_status::ready);
    EXPECT_TRUE(write_refused.get());
    EXPECT_TRUE(cancelled.get());
}

TEST(ServerLimits, QuietStreamIsCancelledAtMaxStreamAndStillGetsTheErrorEvent) {
    core::ServerConfig config = small_config();
    config.max_stream = 300ms;
    StreamOutcome outcome;
    auto write_refused = outcome.write_refused.get_future();
    auto cancelled = outcome.cancelled.get_future();
    TestServer server(config, streaming_router(outcome));
    Client client(server.port());
    const auto start = Clock::now();
    ASSERT_TRUE(client.send(get("/quiet")));
    expect_ended_by_limit(client);
    EXPECT_LT(Clock::now() - start, 2500ms);  // not the handler's 10 s wait
    ASSERT_EQ(cancelled.wait_for(3s), std::future_status::ready);
    EXPECT_TRUE(cancelled.get());
    EXPECT_TRUE(write_refused.get());
}

TEST(ServerLimits, NonEventStreamIsCutWithoutLastChunk) {
    core::ServerConfig config = small_config();
    config.max_stream = 300ms;
    StreamOutcome outcome;
    TestServer server(config, streaming_router(outcome));
    Client client(server.port());
    ASSERT_TRUE(client.send(get("/plain")));
    ASSERT_TRUE(client.read_until("piece\n"));
    EXPECT_TRUE(read_to_close(client, 3000ms));
    EXPECT_EQ(client.buffered().find("\r\n0\r\n\r\n"), std::string::npos) << client.buffered();
    EXPECT_EQ(client.buffered().find("event: error"), std::string::npos);
}

TEST(ServerLimits, StreamThatEndsInTimeKeepsTheConnection) {
    core::ServerConfig config = small_config();
    config.max_stream = 200ms;
    StreamOutcome outcome;
    TestServer server(config, streaming_router(outcome));
    Client client(server.port());
    ASSERT_TRUE(client.send(get("/short")));
    ASSERT_TRUE(client.read_until("0\r\n\r\n"));
    // Past the finished stream's deadline: its timer must not cancel or close anything.
    std::this_thread::sleep_for(400ms);
    client.buffered().clear();
    ASSERT_TRUE(client.send(get("/short")));
    ASSERT_TRUE(client.read_until("0\r\n\r\n"));
    EXPECT_EQ(client.buffered().find("event: error"), std::string::npos);
}

/// Restores the soft fd limit however the test ends.
class SoftFdLimit {
public:
    SoftFdLimit() { ::getrlimit(RLIMIT_NOFILE, &saved_); }
    ~SoftFdLimit() { ::setrlimit(RLIMIT_NOFILE, &saved_); }
    SoftFdLimit(const SoftFdLimit&) = delete;
    SoftFdLimit& operator=(const SoftFdLimit&) = delete;
    bool set(rlim_t soft) {
        rlimit limit = saved_;
        limit.rlim_cur = soft;
        return ::setrlimit(RLIMIT_NOFILE, &limit) == 0;
    }

private:
    rlimit saved_{};
};

TEST(ServerLimits, AcceptBacksOffAtEmfileAndRecovers) {
    const core::ServerConfig config = small_config();
    Router router = ping_router();
    router.add(
        Method::kGet,
        "/compute-ping",
        [](const Request&) { return Response::json(200, "\"compute\""); },
        RouteOptions{Dispatch::kCompute});
    TestServer server(config, std::move(router));
    // Every server thread has started, and a request's steps have all run once, before
    // descriptors run out: a thread's first steps (std::thread's start routine, the scheduler's
    // first reactor run) are UBSan's first checks of those types, which probe memory through
    // pipe(2); with no descriptor free that probe fails and UBSan reports a false "invalid
    // vptr". Connections go to the I/O threads in turn, so one warm-up connection per thread
    // runs each of them, a compute thread and the session code. The second answer shows that
    // the server finished with the first (the client can read a response before the server is
    // done with its write); the connections stay open to the end, since closing one would free
    // a descriptor mid-test.
    std::vector<std::unique_ptr<Client>> warm_ups;
    for (unsigned thread_idx = 0; thread_idx < config.threads; ++thread_idx) {
        warm_ups.push_back(std::make_unique<Client>(server.port()));
        for (int round = 0; round < 2; ++round) {
            ASSERT_TRUE(warm_ups.back()->send(get("/compute-ping")));
            const auto warmed = warm_ups.back()->read_response();
            ASSERT_TRUE(warmed);
            ASSERT_EQ(warmed->status, 200);
        }
    }
    // Sockets made before the limit drops; connected after, so the server's accept() is the
    // call that finds no descriptor free.
    constexpr int kClients = 4;
    std::vector<int> sockets;
    for (int index = 0; index < kClients; ++index) {
        sockets.push_back(::socket(AF_INET, SOCK_STREAM, 0));
        ASSERT_GE(sockets.back(), 0);
    }
    int highest = 0;
    for (int fd = 0; fd < 4096; ++fd) {
        if (::fcntl(fd, F_GETFD) != -1) {
            highest = fd;
        }
    }
    // Fill the holes below the highest descriptor too: accept() takes the lowest free one.
    std::vector<int> fillers;
    for (;;) {
        const int fd = ::open("/dev/null", O_RDONLY);
        ASSERT_GE(fd, 0);
        if (fd > highest) {
            ::close(fd);
            break;
        }
        fillers.push_back(fd);
    }
    struct CloseAll {
        std::vector<int>* fds;
        ~CloseAll() {
            for (const int fd : *fds) {
                ::close(fd);
            }
        }
    } close_fillers{&fillers};
    SoftFdLimit limit;
    ASSERT_TRUE(limit.set(static_cast<rlim_t>(highest) + 1));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(server.port());
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const std::string request = get("/ping");
    for (const int fd : sockets) {
        ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
        ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
                  static_cast<ssize_t>(request.size()));
    }
    // Not answered (accept fails), not closed, and the server neither falls over nor spins: a
    // retry loop without the backoff would burn a core for the whole wait.
    rusage before{};
    ::getrusage(RUSAGE_SELF, &before);
    pollfd waiting{sockets.front(), POLLIN, 0};
    EXPECT_EQ(::poll(&waiting, 1, 400), 0);
    rusage after{};
    ::getrusage(RUSAGE_SELF, &after);
    const auto cpu_us = [](const rusage& usage) {
        return (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1'000'000L +
               usage.ru_utime.tv_usec + usage.ru_stime.tv_usec;
    };
    EXPECT_LT(cpu_us(after) - cpu_us(before), 150'000L) << "CPU time while accept() failed";

    limit.set(static_cast<rlim_t>(highest) + 256);
    for (const int fd : sockets) {
        pollfd ready{fd, POLLIN, 0};
        ASSERT_EQ(::poll(&ready, 1, 3000), 1);
        char reply[512];
        const ssize_t got = ::recv(fd, reply, sizeof(reply), 0);
        ASSERT_GT(got, 12);
        EXPECT_EQ(std::string(reply, 12), "HTTP/1.1 200");
        ::close(fd);
    }
    EXPECT_FALSE(server.returned());
}

core::Result<core::Config> load(std::map<std::string, std::string> overrides) {
    core::ConfigSources sources;
    sources.use_environment = false;
    sources.overrides = std::move(overrides);
    return core::load_config(sources);
}

TEST(ServerLimitsConfig, DefaultsKeysAndValidation) {
    const auto defaults = load({});
    ASSERT_TRUE(defaults);
    EXPECT_EQ(defaults->server.max_connections, 20000U);
    EXPECT_EQ(defaults->server.max_queued_requests, 4096U);
    EXPECT_EQ(defaults->server.max_connections_per_ip, 0U);
    EXPECT_EQ(defaults->server.max_requests_per_connection, 0U);
    EXPECT_EQ(defaults->server.max_stream, 600000ms);

    const auto set = load({{"server.max_connections", "500"},
                           {"server.max_connections_per_ip", "50"},
                           {"server.max_requests_per_connection", "1000"},
                           {"server.max_stream_ms", "120000"}});
    ASSERT_TRUE(set) << set.error().detail;
    EXPECT_EQ(set->server.max_connections, 500U);
    EXPECT_EQ(set->server.max_connections_per_ip, 50U);
    EXPECT_EQ(set->server.max_requests_per_connection, 1000U);
    EXPECT_EQ(set->server.max_stream, 120000ms);

    const auto zero_connections = load({{"server.max_connections", "0"}});
    ASSERT_FALSE(zero_connections);
    EXPECT_NE(zero_connections.error().detail.find("server.max_connections"), std::string::npos);
    const auto per_ip_above =
        load({{"server.max_connections", "10"}, {"server.max_connections_per_ip", "11"}});
    ASSERT_FALSE(per_ip_above);
    EXPECT_NE(per_ip_above.error().detail.find("server.max_connections_per_ip"), std::string::npos);
    const auto zero_stream = load({{"server.max_stream_ms", "0"}});
    ASSERT_FALSE(zero_stream);
    EXPECT_NE(zero_stream.error().detail.find("server.max_stream_ms"), std::string::npos);
    const auto not_a_number = load({{"server.max_requests_per_connection", "-1"}});
    ASSERT_FALSE(not_a_number);
    EXPECT_NE(not_a_number.error().detail.find("server.max_requests_per_connection"),
              std::string::npos);
}

}  // namespace
}  // namespace ragd::http
