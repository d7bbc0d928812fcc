// Async (coroutine) routes over real loopback sockets: one-shot and streamed responses, compute
// offload and shedding, client-disconnect cancellation, exceptions, and draining on stop().
#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "http/server.hpp"
#include "raw_http_client.hpp"

namespace ragd::http {
namespace {

using namespace std::chrono_literals;
using test::Client;
using test::dechunk;
using test::get;
using test::pause;
using test::small_config;
using test::TestServer;
using test::wait_for_release;
namespace net = boost::asio;

TEST(AsyncHandler, SendsOneResponseAndKeepsTheConnection) {
    Router router;
    router.add_async(
        Method::kGet,
        "/async",
        [](Request request, ResponseWriter& writer, RequestContext&) -> net::awaitable<void> {
            co_await writer.send(Response::json(200, "\"" + request.path + "\""));
        });
    TestServer server(small_config(), std::move(router));
    Client client(server.port());
    for (int round = 0; round < 3; ++round) {
        ASSERT_TRUE(client.send(get("/async")));
        const auto response = client.read_response();
        ASSERT_TRUE(response);
        EXPECT_EQ(response->status, 200);
        EXPECT_EQ(response->body, "\"/async\"");
        EXPECT_FALSE(response->headers.at("x-request-id").empty());
    }
}

TEST(AsyncHandler, StreamsChunksAsTheyAreWritten) {
    std::promise<void> release_promise;
    std::shared_future<void> release = release_promise.get_future().share();
    Router router;
    router.add_async(
        Method::kGet,
        "/stream",
        [release](
            Request, ResponseWriter& writer, RequestContext& context) -> net::awaitable<void> {
            std::vector<Header> headers;
            headers.push_back(Header{"X-Accel-Buffering", "no"});
            co_await writer.begin_stream(200, "text/event-stream", std::move(headers));
            co_await writer.write("data: first\n\n");
            // The client must see the first event before the second exists.
            if (!co_await wait_for_release(release, context)) {
                co_return;
            }
            co_await writer.write("data: second\n\n");
            co_await writer.end();
        });
    TestServer server(small_config(), std::move(router));
    Client client(server.port());
    ASSERT_TRUE(client.send(get("/stream")));
    ASSERT_TRUE(client.read_until("data: first"));
    EXPECT_NE(client.buffered().find("Transfer-Encoding: chunked"), std::string::npos);
    EXPECT_NE(client.buffered().find("X-Accel-Buffering: no"), std::string::npos);
    EXPECT_EQ(client.buffered().find("data: second"), std::string::npos);
    release_promise.set_value();
    ASSERT_TRUE(client.read_until("0\r\n\r\n"));
    EXPECT_NE(client.buffered().find("data: second"), std::string::npos);
    // The connection is reusable after the last chunk.
    client.buffered().clear();
    ASSERT_TRUE(client.send(get("/stream")));
    EXPECT_TRUE(client.read_until("data: second"));
}

TEST(AsyncHandler, StreamToASlowReaderArrivesWholeAndInOrder) {
    // Pieces far larger than the socket buffers while the client is not reading: writes then
    // go out in part (the rest on the timed async path) or not at all (would block), and the
    // framing must survive every split.
    constexpr int kPieces = 200;
    constexpr std::size_t kPieceBytes = 65000;
    std::string expected;
    for (int piece = 0; piece < kPieces; ++piece) {
        expected += std::string(kPieceBytes, static_cast<char>('a' + piece % 26)) + "\n";
    }
    Router router;
    router.add_async(Method::kGet,
                     "/big",
                     [](Request, ResponseWriter& writer, RequestContext&) -> net::awaitable<void> {
                         co_await writer.begin_stream(200, "text/plain", {});
                         for (int piece = 0; piece < kPieces; ++piece) {
                             std::string text(kPieceBytes, static_cast<char>('a' + piece % 26));
                             text += "\n";
                             if (!co_await writer.write(text)) {
                                 co_return;
                             }
                         }
                         co_await writer.end();
                     });
    TestServer server(small_config(), std::move(router));
    Client client(server.port());
    ASSERT_TRUE(client.send(get("/big")));
    std::this_thread::sleep_for(200ms);  // let the server fill the socket buffers
    ASSERT_TRUE(client.read_until("\r\n0\r\n\r\n", 10000ms));
    const std::string& wire = client.buffered();
    const std::size_t body_start = wire.find("\r\n\r\n");
    ASSERT_NE(body_start, std::string::npos);
    auto body = dechunk(std::string_view(wire).substr(body_start + 4));
    ASSERT_TRUE(body.has_value());
    EXPECT_EQ(body->size(), expected.size());
    EXPECT_TRUE(*body == expected);
}

TEST(AsyncHandler, ClientDisconnectCancelsTheRequest) {
    std::promise<bool> outcome;
    auto outcome_future = outcome.get_future();
    Router router;
    router.add_async(
        Method::kGet,
        "/slow",
        [&outcome](
            Request, ResponseWriter& writer, RequestContext& context) -> net::awaitable<void> {
            const bool finished = co_await pause(context, 10s);
            outcome.set_value(context.cancel()->cancelled());
            if (finished) {
                co_await writer.send(Response::json(200, "{}"));
            }
        });
    TestServer server(small_config(), std::move(router));
    {
        Client client(server.port());
        ASSERT_TRUE(client.send(get("/slow")));
        std::this_thread::sleep_for(50ms);  // let the request reach the handler
    }
    ASSERT_EQ(outcome_future.wait_for(3s), std::future_status::ready);
    EXPECT_TRUE(outcome_future.get());
}

TEST(AsyncHandler, RunsComputeWorkOffTheIoThreadAndRethrows) {
    Router router;
    router.add_async(
        Method::kGet,
        "/compute",
        [](Request, ResponseWriter& writer, RequestContext& context) -> net::awaitable<void> {
            const auto io_thread = std::this_thread::get_id();
            std::thread::id work_thread;
            const bool ran = co_await context.run_compute(
                [&work_thread] { work_thread = std::this_thread::get_id(); });
            const bool different = ran && work_thread != io_thread;
            co_await writer.send(Response::json(200, different ? "true" : "false"));
        });
    router.add_async(Method::kGet,
                     "/compute-throws",
                     [](Request, ResponseWriter&, RequestContext& context) -> net::awaitable<void> {
                         co_await context.run_compute([] { throw std::runtime_error("boom"); });
                     });
    TestServer server(small_config(), std::move(router));
    Client client(server.port());
    ASSERT_TRUE(client.send(get("/compute")));
    auto response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->body, "true");
    ASSERT_TRUE(client.send(get("/compute-throws")));
    response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 500);
    EXPECT_EQ(response->error_type(), "internal");
}

/// Answers "same" when run_quick ran its work on the handler's own (I/O) thread, else "other";
/// "shed" when it refused to run it.
Router quick_router() {
    Router router;
    router.add_async(
        Method::kGet,
        "/quick",
        [](Request, ResponseWriter& writer, RequestContext& context) -> net::awaitable<void> {
            const auto io_thread = std::this_thread::get_id();
            std::thread::id work_thread;
            std::function<void()> work = [&work_thread] {
                work_thread = std::this_thread::get_id();
            };
            const bool ran = co_await context.run_quick(std::move(work));
            const char* where = !ran                       ? "\"shed\""
                                : work_thread == io_thread ? "\"same\""
                                                           : "\"other\"";
            co_await writer.send(Response::json(200, where));
        });
    return router;
}

/// GET /busy: a compute job that counts itself in `started`, then holds its compute thread until
/// `unblocked` is ready; answers 200, or 503 when the compute queue refused it.
void add_busy_route(Router& router,
                    std::atomic<int>& started,
                    const std::shared_future<void>& unblocked) {
    router.add_async(
        Method::kGet,
        "/busy",
        [&started, unblocked](
            Request, ResponseWriter& writer, RequestContext& context) -> net::awaitable<void> {
            // Named, not built inside the co_await: GCC 12 destroys a closure made in a co_await
            // expression twice, which released one reference to `unblocked`'s shared state per
            // request (STYLE.md: no capturing lambda inside a co_await expression).
            std::function<void()> work = [&started, unblocked] {
                ++started;
                unblocked.wait();
            };
            const bool ran = co_await context.run_compute(std::move(work));
            co_await writer.send(Response::json(ran ? 200 : 503, "{}"));
        });
}

// A query's retrieval is quicker than the two thread wake-ups of a trip to the compute pool and
// back: with server.inline_queries it runs on the I/O thread; with both inline settings off, on
// the pool; and either way it counts against max_queued_requests.
TEST(AsyncHandler, QuickWorkRunsOnTheIoThreadUnlessInlineQueriesIsOff) {
    for (const bool inline_queries : {true, false}) {
        auto config = small_config();
        config.inline_queries = inline_queries;
        config.inline_idle_queries = false;
        TestServer server(config, quick_router());
        Client client(server.port());
        ASSERT_TRUE(client.send(get("/quick")));
        const auto response = client.read_response();
        ASSERT_TRUE(response);
        EXPECT_EQ(response->body, inline_queries ? "\"same\"" : "\"other\"");
    }
    auto config = small_config();
    config.max_queued_requests = 0;  // over the limit before it starts
    TestServer server(config, quick_router());
    Client client(server.port());
    ASSERT_TRUE(client.send(get("/quick")));
    const auto response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->body, "\"shed\"");
}

// server.inline_idle_queries (the default): quick work runs on the I/O thread when it is the
// only compute work in flight, and goes to the pool (where the queue bounds it) while other
// work runs there.
TEST(AsyncHandler, QuickWorkRunsOnTheIoThreadOnlyWhenNothingElseComputes) {
    auto config = small_config();
    ASSERT_TRUE(config.inline_idle_queries);
    ASSERT_FALSE(config.inline_queries);
    config.compute_threads = 2;
    std::promise<void> unblock;
    std::shared_future<void> unblocked = unblock.get_future().share();
    std::atomic<int> started{0};
    Router router = quick_router();
    add_busy_route(router, started, unblocked);
    TestServer server(config, std::move(router));
    Client client(server.port());
    ASSERT_TRUE(client.send(get("/quick")));
    auto response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->body, "\"same\"");

    Client busy(server.port());
    ASSERT_TRUE(busy.send(get("/busy")));
    for (int wait_idx = 0; wait_idx < 200 && started.load() == 0; ++wait_idx) {
        std::this_thread::sleep_for(5ms);
    }
    ASSERT_EQ(started.load(), 1);
    ASSERT_TRUE(client.send(get("/quick")));
    response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->body, "\"other\"");

    unblock.set_value();
    response = busy.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200);
    ASSERT_TRUE(client.send(get("/quick")));
    response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->body, "\"same\"");
}

TEST(AsyncHandler, ComputeQueueFullIsReportedNotQueued) {
    auto config = small_config();
    config.max_queued_requests = 1;
    config.compute_threads = 1;
    std::promise<void> unblock;
    std::shared_future<void> unblocked = unblock.get_future().share();
    std::atomic<int> started{0};
    Router router;
    add_busy_route(router, started, unblocked);
    TestServer server(config, std::move(router));
    Client first(server.port());
    ASSERT_TRUE(first.send(get("/busy")));
    for (int wait_idx = 0; wait_idx < 200 && started.load() == 0; ++wait_idx) {
        std::this_thread::sleep_for(5ms);
    }
    ASSERT_EQ(started.load(), 1);
    Client second(server.port());
    ASSERT_TRUE(second.send(get("/busy")));
    const auto shed = second.read_response();
    ASSERT_TRUE(shed);
    EXPECT_EQ(shed->status, 503);
    unblock.set_value();
    const auto served = first.read_response();
    ASSERT_TRUE(served);
    EXPECT_EQ(served->status, 200);
}

// stop() while one request's compute work runs and another's waits in the pool queue: the drain
// deadline closes both connections, run() waits for the pool, and the frames the work refers to
// (the handler's locals, the session) must outlive it. Under ASan a frame destroyed first shows
// up as a use-after-free.
TEST(AsyncHandler, StopWhileComputeRunsAndIsQueuedIsSafe) {
    auto config = small_config();
    config.max_queued_requests = 4;
    config.compute_threads = 1;
    config.drain_timeout = 100ms;
    std::promise<void> unblock;
    std::shared_future<void> unblocked = unblock.get_future().share();
    std::atomic<int> entered{0};
    std::atomic<int> started{0};
    Router router;
    router.add_async(
        Method::kGet,
        "/busy",
        [&entered, &started, unblocked](
            Request, ResponseWriter& writer, RequestContext& context) -> net::awaitable<void> {
            std::string frame_local = "frame";
            std::function<void()> work = [&started, &frame_local, unblocked] {
                ++started;
                unblocked.wait();
                frame_local += " outlived the work";
            };
            ++entered;
            const bool ran = co_await context.run_compute(std::move(work));
            co_await writer.send(Response::json(ran ? 200 : 503, "{}"));
        });
    auto server = std::make_unique<TestServer>(config, std::move(router));
    Client running(server->port());
    ASSERT_TRUE(running.send(get("/busy")));
    for (int wait_idx = 0; wait_idx < 400 && started.load() == 0; ++wait_idx) {
        std::this_thread::sleep_for(5ms);
    }
    ASSERT_EQ(started.load(), 1);
    Client queued(server->port());
    ASSERT_TRUE(queued.send(get("/busy")));
    for (int wait_idx = 0; wait_idx < 400 && entered.load() < 2; ++wait_idx) {
        std::this_thread::sleep_for(5ms);
    }
    ASSERT_EQ(entered.load(), 2);
    server->server().stop();
    EXPECT_TRUE(running.closed_within(5s));
    EXPECT_TRUE(queued.closed_within(5s));
    // Past the force grace and run()'s last io run (500 ms each, server.cpp): the work then
    // completes into a stopped io_context, and its frames go with ~Server. Nothing outside
    // run() shows that moment; finishing earlier is correct too, just the gentler path.
    std::this_thread::sleep_for(1200ms);
    EXPECT_FALSE(server->returned()) << "run() returned while compute work was running";
    unblock.set_value();
    server.reset();  // run() returns once the pool is idle; then the Server goes
}

TEST(AsyncHandler, ThrowingOrSilentHandlersAnswer500) {
    Router router;
    router.add_async(Method::kGet,
                     "/throws",
                     [](Request, ResponseWriter&, RequestContext&) -> net::awaitable<void> {
                         throw std::runtime_error("secret");
                         co_return;
                     });
    router.add_async(
        Method::kGet,
        "/silent",
        [](Request, ResponseWriter&, RequestContext&) -> net::awaitable<void> { co_return; });
    TestServer server(small_config(), std::move(router));
    Client client(server.port());
    for (const char* path : {"/throws", "/silent"}) {
        ASSERT_TRUE(client.send(get(path)));
        const auto response = client.read_response();
        ASSERT_TRUE(response) << path;
        EXPECT_EQ(response->status, 500) << path;
        EXPECT_EQ(response->body.find("secret"), std::string::npos);
    }
}

TEST(AsyncHandler, StopLetsInFlightRequestsFinishAndClosesIdleConnections) {
    auto config = small_config();
    config.drain_timeout = 5000ms;
    std::atomic<bool> in_handler{false};
    Router router;
    router.add_async(
        Method::kGet,
        "/slow",
        [&in_handler](
            Request, ResponseWriter& writer, RequestContext& context) -> net::awaitable<void> {
            in_handler = true;
            co_await pause(context, 300ms);
            co_await writer.send(Response::json(200, "\"done\""));
        });
    TestServer server(config, std::move(router));
    Client idle(server.port());
    Client busy(server.port());
    ASSERT_TRUE(busy.send(get("/slow")));
    for (int wait_idx = 0; wait_idx < 200 && !in_handler.load(); ++wait_idx) {
        std::this_thread::sleep_for(5ms);
    }
    ASSERT_TRUE(in_handler.load());
    server.server().stop();
    EXPECT_TRUE(idle.closed_within(2s));
    const auto response = busy.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, "\"done\"");
    EXPECT_EQ(response->headers.at("connection"), "close");
    server.thread().join();
    EXPECT_TRUE(server.returned());
}

TEST(AsyncHandler, DrainDeadlineCancelsRequestsThatDoNotFinish) {
    auto config = small_config();
    config.drain_timeout = 200ms;
    std::promise<bool> cancelled;
    auto cancelled_future = cancelled.get_future();
    std::atomic<bool> in_handler{false};
    Router router;
    router.add_async(
        Method::kGet,
        "/forever",
        [&](Request, ResponseWriter&, RequestContext& context) -> net::awaitable<void> {
            in_handler = true;
            co_await pause(context, 60s);
            cancelled.set_value(context.cancel()->cancelled());
        });
    TestServer server(config, std::move(router));
    Client busy(server.port());
    ASSERT_TRUE(busy.send(get("/forever")));
    for (int wait_idx = 0; wait_idx < 200 && !in_handler.load(); ++wait_idx) {
        std::this_thread::sleep_for(5ms);
    }
    const auto stop_started = test::Clock::now();
    server.server().stop();
    server.thread().join();
    EXPECT_LT(test::Clock::now() - stop_started, 3s);
    ASSERT_EQ(cancelled_future.wait_for(1s), std::future_status::ready);
    EXPECT_TRUE(cancelled_future.get());
}

}  // namespace
}  // namespace ragd::http
