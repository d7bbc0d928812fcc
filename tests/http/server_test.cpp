// Black-box tests of the HTTP server over real loopback sockets (port 0), with a small blocking
// client on POSIX sockets so that the test does not share code paths with the server.
#include "http/server.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "raw_http_client.hpp"

namespace ragd::http {
namespace {

using namespace std::chrono_literals;
using test::Client;
using test::get;
using test::post;
using test::RawResponse;
using test::small_config;
using test::TestServer;
using Clock = std::chrono::steady_clock;

Response echo_request(const Request& request) {
    boost::json::object out;
    out["path"] = request.path;
    out["target"] = request.target;
    out["query"] = request.query;
    out["body"] = request.body;
    out["remote"] = request.remote_address;
    boost::json::object params;
    for (const auto& [name, value] : request.path_params) {
        params[name] = value;
    }
    out["params"] = std::move(params);
    return Response::json(200, boost::json::serialize(out));
}

Router basic_router() {
    Router router;
    router.add(
        Method::kGet,
        "/health",
        [](const Request&) { return Response::json(200, R"({"status":"ok"})"); },
        RouteOptions{Dispatch::kInline});
    router.add(Method::kGet, "/v1/documents/{id}", echo_request);
    router.add(Method::kDelete, "/v1/documents/{id}", echo_request);
    RouteOptions json_route;
    json_route.json_body = true;
    json_route.max_body_bytes = 64;
    router.add(Method::kPost, "/v1/query", echo_request, json_route);
    router.add(Method::kGet, "/throw", [](const Request&) -> Response {
        throw std::runtime_error("secret detail");
    });
    return router;
}

boost::json::value body_json(const RawResponse& response) {
    return boost::json::parse(response.body);
}

TEST(HttpServer, RoutesWithDecodedParamsAndQuery) {
    TestServer server(small_config(), basic_router());
    Client client(server.port());
    ASSERT_TRUE(client.connected());
    ASSERT_TRUE(client.send(get("/v1/documents/a%2Fb%20c?x=1&y=2")));
    const auto response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->headers.at("server"), "ragd");
    EXPECT_EQ(response->headers.at("content-type"), "application/json");
    const auto json = body_json(*response);
    EXPECT_EQ(json.at("params").at("id").as_string(), "a/b c");
    EXPECT_EQ(json.at("path").as_string(), "/v1/documents/a/b c");
    EXPECT_EQ(json.at("query").as_string(), "x=1&y=2");
    EXPECT_EQ(json.at("target").as_string(), "/v1/documents/a%2Fb%20c?x=1&y=2");
    EXPECT_EQ(json.at("remote").as_string(), "127.0.0.1");
}

TEST(HttpServer, PostsJsonBodyPlainAndChunked) {
    TestServer server(small_config(), basic_router());
    Client client(server.port());
    ASSERT_TRUE(client.send(post("/v1/query", "Application/JSON; charset=utf-8", R"({"q":1})")));
    auto response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(body_json(*response).at("body").as_string(), R"({"q":1})");

    ASSERT_TRUE(
        client.send("POST /v1/query HTTP/1.1\r\nHost: t\r\nContent-Type: application/json"
                    "\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:2}\r\n"
                    "0\r\n\r\n"));
    response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(body_json(*response).at("body").as_string(), R"({"a":2})");
}

TEST(HttpServer, ExpectContinueGets100First) {
    TestServer server(small_config(), basic_router());
    Client client(server.port());
    ASSERT_TRUE(
        client.send("POST /v1/query HTTP/1.1\r\nHost: t\r\nContent-Type: application/json"
                    "\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"));
    const auto interim = client.read_response();
    ASSERT_TRUE(interim);
    EXPECT_EQ(interim->status, 100);
    ASSERT_TRUE(client.send("{}"));
    const auto response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200);
}

TEST(HttpServer, NotFoundAndMethodNotAllowed) {
    TestServer server(small_config(), basic_router());
    Client client(server.port());
    ASSERT_TRUE(client.send(get("/nope")));
    auto response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 404);
    EXPECT_EQ(response->error_type(), "not_found");
    EXPECT_NE(response->error_message().find("/nope"), std::string::npos);

    // Keep-alive survives a 404 without a body.
    ASSERT_TRUE(
        client.send("PUT /v1/documents/x HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"));
    response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 405);
    EXPECT_EQ(response->error_type(), "method_not_allowed");
    EXPECT_EQ(response->headers.at("allow"), "GET, DELETE, HEAD");

    ASSERT_TRUE(client.send(get("/v1/query")));
    response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 405);
    EXPECT_EQ(response->headers.at("allow"), "POST");
}

TEST(HttpServer, LengthRequired) {
    TestServer server(small_config(), basic_router());
    Client client(server.port());
    ASSERT_TRUE(
        client.send("POST /v1/query HTTP/1.1\r\nHost: t\r\n"
                    "Content-Type: application/json\r\n\r\n"));
    const auto response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 411);
    EXPECT_EQ(response->error_type(), "length_required");
}

TEST(HttpServer, PayloadTooLargeByContentLengthAndByChunks) {
    TestServer server(small_config(), basic_router());
    {
        Client client(server.port());
        ASSERT_TRUE(client.send(post("/v1/query", "application/json", std::string(100, 'x'))));
        const auto response = client.read_response();
        ASSERT_TRUE(response);
        EXPECT_EQ(response->status, 413);
        EXPECT_EQ(response->error_type(), "payload_too_large");
        EXPECT_NE(response->error_message().find("64 bytes"), std::string::npos);
        EXPECT_EQ(response->headers.at("connection"), "close");
        EXPECT_TRUE(client.closed_within(2000ms));
    }
    {
        Client client(server.port());
        const std::string chunk = "28\r\n" + std::string(40, 'x') + "\r\n";
        ASSERT_TRUE(
            client.send("POST /v1/query HTTP/1.1\r\nHost: t\r\nContent-Type: "
                        "application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
                        chunk + chunk + "0\r\n\r\n"));
        const auto response = client.read_response();
        ASSERT_TRUE(response);
        EXPECT_EQ(response->status, 413);
        EXPECT_NE(response->error_message().find("64 bytes"), std::string::npos);
    }
}

TEST(HttpServer, UnsupportedMediaType) {
    TestServer server(small_config(), basic_router());
    Client client(server.port());
    ASSERT_TRUE(client.send(post("/v1/query", "text/plain", "{}")));
    const auto response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 415);
    EXPECT_EQ(response->error_type(), "unsupported_media_type");
    EXPECT_NE(response->error_message().find("text/plain"), std::string::npos);

    Client other(server.port());
    ASSERT_TRUE(other.send(post("/v1/query", "application/jsonx", "{}")));
    const auto rejected = other.read_response();
    ASSERT_TRUE(rejected);
    EXPECT_EQ(rejected->status, 415);
}

TEST(HttpServer, HeaderTooLarge) {
    core::ServerConfig config = small_config();
    config.max_header_bytes = 1024;
    TestServer server(config, basic_router());
    Client client(server.port());
    ASSERT_TRUE(client.send(get("/health", "X-Big: " + std::string(4000, 'a') + "\r\n")));
    const auto response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 431);
    EXPECT_EQ(response->error_type(), "request_header_fields_too_large");
    EXPECT_NE(response->error_message().find("1024 bytes"), std::string::npos);
    EXPECT_TRUE(client.closed_within(2000ms));
}

TEST(HttpServer, MalformedRequestsGet400AndClose) {
    TestServer server(small_config(), basic_router());
    const std::vector<std::string> bad_requests = {
        "GARBAGE\r\n\r\n",
        "GET /health HTTP/9.x\r\nHost: t\r\n\r\n",
        "GET /health HTTP/1.1\r\nBad Header\r\n\r\n",
        "GET /v1/documents/%zz HTTP/1.1\r\nHost: t\r\n\r\n",
        "GET http://example.com/health HTTP/1.1\r\nHost: t\r\n\r\n",
        "POST /v1/query HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n",
    };
    for (const std::string& bad : bad_requests) {
        Client client(server.port());
        ASSERT_TRUE(client.send(bad));
        const auto response = client.read_response();
        ASSERT_TRUE(response) << bad;
        EXPECT_EQ(response->status, 400) << bad;
        EXPECT_EQ(response->error_type(), "bad_request") << bad;
        EXPECT_TRUE(client.closed_within(2000ms)) << bad;
    }
    Client healthy(server.port());
    ASSERT_TRUE(healthy.send(get("/health")));
    const auto response = healthy.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 200);
}

TEST(HttpServer, KeepAliveServesSeveralRequests) {
    TestServer server(small_config(), basic_router());
    Client client(server.port());
    for (int request_idx = 0; request_idx < 3; ++request_idx) {
        ASSERT_TRUE(client.send(get("/v1/documents/" + std::to_string(request_idx))));
        const auto response = client.read_response();
        ASSERT_TRUE(response);
        EXPECT_EQ(body_json(*response).at("params").at("id").as_string(),
                  std::to_string(request_idx));
    }
}

TEST(HttpServer, PipelinedRequestsAnsweredInOrder) {
    TestServer server(small_config(), basic_router());
    Client client(server.port());
    ASSERT_TRUE(client.send(get("/v1/documents/first") +
                            post("/v1/query", "application/json", R"({"n":2})") +
                            get("/v1/documents/third")));
    const auto first = client.read_response();
    const auto second = client.read_response();
    const auto third = client.read_response();
    ASSERT_TRUE(first && second && third);
    EXPECT_EQ(body_json(*first).at("params").at("id").as_string(), "first");
    EXPECT_EQ(body_json(*second).at("body").as_string(), R"({"n":2})");
    EXPECT_EQ(body_json(*third).at("params").at("id").as_string(), "third");
}

TEST(HttpServer, HeadHasGetHeadersAndNoBody) {
    TestServer server(small_config(), basic_router());
    Client client(server.port());
    ASSERT_TRUE(client.send(get("/health")));
    const auto get_response = client.read_response();
    ASSERT_TRUE(get_response);
    ASSERT_TRUE(client.send("HEAD /health HTTP/1.1\r\nHost: t\r\n\r\n"));
    const auto head_response = client.read_response(/*head=*/true);
    ASSERT_TRUE(head_response);
    EXPECT_EQ(head_response->status, 200);
    EXPECT_EQ(head_response->headers.at("content-length"),
              std::to_string(get_response->body.size()));
    // Had the server sent a body, it would now sit in front of this response.
    ASSERT_TRUE(client.send(get("/v1/documents/after")));
    const auto after = client.read_response();
    ASSERT_TRUE(after);
    EXPECT_EQ(after->status, 200);
    EXPECT_EQ(body_json(*after).at("params").at("id").as_string(), "after");
}

TEST(HttpServer, Http10AndConnectionCloseClose) {
    TestServer server(small_config(), basic_router());
    {
        Client client(server.port());
        ASSERT_TRUE(client.send("GET /health HTTP/1.0\r\n\r\n"));
        const auto response = client.read_response();
        ASSERT_TRUE(response);
        EXPECT_EQ(response->status, 200);
        EXPECT_TRUE(client.closed_within(2000ms));
    }
    {
        Client client(server.port());
        ASSERT_TRUE(client.send("GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
        ASSERT_TRUE(client.read_response());
        EXPECT_FALSE(client.closed_within(200ms));
    }
    {
        Client client(server.port());
        ASSERT_TRUE(client.send(get("/health", "Connection: close\r\n")));
        const auto response = client.read_response();
        ASSERT_TRUE(response);
        EXPECT_EQ(response->headers.at("connection"), "close");
        EXPECT_TRUE(client.closed_within(2000ms));
    }
}

TEST(HttpServer, IdleTimeoutClosesKeepAliveConnection) {
    core::ServerConfig config = small_config();
    config.idle_timeout = 300ms;
    TestServer server(config, basic_router());
    Client client(server.port());
    ASSERT_TRUE(client.send(get("/health")));
    ASSERT_TRUE(client.read_response());
    const auto start = Clock::now();
    EXPECT_TRUE(client.closed_within(3000ms));
    const auto elapsed = Clock::now() - start;
    EXPECT_GE(elapsed, 250ms);
    EXPECT_LT(elapsed, 2000ms);
}

// The idle timeout is enforced by a periodic sweep of idle connections, not a timer per
// connection: one that keeps sending within the timeout must never be swept, and its requests
// must all be answered (the sweep re-checks on the connection's strand before closing).
TEST(HttpServer, IdleSweepLeavesBusyKeepAliveConnectionsOpen) {
    core::ServerConfig config = small_config();
    config.idle_timeout = 300ms;
    TestServer server(config, basic_router());
    Client steady(server.port());
    Client quiet(server.port());
    ASSERT_TRUE(quiet.send(get("/health")));
    ASSERT_TRUE(quiet.read_response());
    for (int request = 0; request < 12; ++request) {  // 12 x 100 ms: four idle timeouts
        ASSERT_TRUE(steady.send(get("/health"))) << request;
        const auto response = steady.read_response(false, 2000ms);
        ASSERT_TRUE(response) << request;
        EXPECT_EQ(response->status, 200);
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_TRUE(quiet.closed_within(100ms));  // idle all along: swept long ago
    ASSERT_TRUE(steady.send(get("/health")));
    EXPECT_TRUE(steady.read_response());
}

TEST(HttpServer, HeaderTimeoutClosesSlowloris) {
    core::ServerConfig config = small_config();
    config.header_timeout = 300ms;
    TestServer server(config, basic_router());
    Client client(server.port());
    ASSERT_TRUE(client.send("GET /health HTTP/1.1\r\nHost: t\r\nX-Slow: "));
    const auto start = Clock::now();
    EXPECT_TRUE(client.closed_within(3000ms));
    const auto elapsed = Clock::now() - start;
    EXPECT_GE(elapsed, 250ms);
    EXPECT_LT(elapsed, 2000ms);

    // A silent connection is closed by the same deadline.
    Client silent(server.port());
    EXPECT_TRUE(silent.closed_within(3000ms));
}

TEST(HttpServer, BodyTimeoutClosesSlowBody) {
    core::ServerConfig config = small_config();
    config.body_timeout = 300ms;
    TestServer server(config, basic_router());
    Client client(server.port());
    ASSERT_TRUE(
        client.send("POST /v1/query HTTP/1.1\r\nHost: t\r\nContent-Type: "
                    "application/json\r\nContent-Length: 10\r\n\r\n{"));
    EXPECT_TRUE(client.closed_within(3000ms));
}

TEST(HttpServer, ComputeHandlersRunOffTheIoThread) {
    core::ServerConfig config = small_config();
    config.threads = 1;
    config.compute_threads = 1;
    std::mutex ids_mutex;
    std::thread::id inline_id;
    std::thread::id compute_id;
    Router router;
    router.add(
        Method::kGet,
        "/inline",
        [&](const Request&) {
            std::lock_guard lock(ids_mutex);
            inline_id = std::this_thread::get_id();
            return Response::json(200, "{}");
        },
        RouteOptions{Dispatch::kInline});
    router.add(
        Method::kGet,
        "/compute",
        [&](const Request&) {
            std::lock_guard lock(ids_mutex);
            compute_id = std::this_thread::get_id();
            return Response::json(200, "{}");
        },
        RouteOptions{Dispatch::kCompute});
    TestServer server(config, std::move(router));
    Client client(server.port());
    ASSERT_TRUE(client.send(get("/inline") + get("/compute")));
    ASSERT_TRUE(client.read_response());
    ASSERT_TRUE(client.read_response());
    std::lock_guard lock(ids_mutex);
    EXPECT_EQ(inline_id, server.run_thread_id());
    EXPECT_NE(compute_id, server.run_thread_id());
    EXPECT_NE(compute_id, std::thread::id());
}

// Each I/O thread runs an io_context of its own and connections are dealt to them in turn: all
// of a connection's requests run on one thread, and consecutive connections on different ones.
// On one io_context shared by every thread, a connection's requests ran on whichever thread was
// free, and an idle thread was woken to help with each event.
TEST(HttpServer, ConnectionsAreDealtToIoThreadsInTurnAndStayOnTheirs) {
    core::ServerConfig config = small_config();
    config.threads = 2;
    std::mutex ids_mutex;
    std::map<std::string, std::vector<std::thread::id>> ids_by_client;
    Router router;
    router.add(
        Method::kGet,
        "/thread",
        [&](const Request& request) {
            std::lock_guard lock(ids_mutex);
            ids_by_client[request.target].push_back(std::this_thread::get_id());
            return Response::json(200, "{}");
        },
        RouteOptions{Dispatch::kInline});
    TestServer server(config, std::move(router));
    std::vector<std::unique_ptr<Client>> clients;
    for (int client_idx = 0; client_idx < 4; ++client_idx) {
        clients.push_back(std::make_unique<Client>(server.port()));
        // Answered before the next client connects, so the accept order is the client order.
        ASSERT_TRUE(clients.back()->send(get("/thread?c" + std::to_string(client_idx))));
        ASSERT_TRUE(clients.back()->read_response());
    }
    for (int round = 0; round < 20; ++round) {
        for (int client_idx = 0; client_idx < 4; ++client_idx) {
            ASSERT_TRUE(clients[client_idx]->send(get("/thread?c" + std::to_string(client_idx))));
        }
        for (const auto& client : clients) {
            ASSERT_TRUE(client->read_response());
        }
    }
    std::lock_guard lock(ids_mutex);
    std::vector<std::thread::id> thread_of;
    for (int client_idx = 0; client_idx < 4; ++client_idx) {
        const auto& ids = ids_by_client["/thread?c" + std::to_string(client_idx)];
        ASSERT_EQ(ids.size(), 21U);
        for (const std::thread::id id : ids) {
            EXPECT_EQ(id, ids.front()) << "client " << client_idx << " moved between threads";
        }
        thread_of.push_back(ids.front());
    }
    EXPECT_NE(thread_of[0], thread_of[1]);
    EXPECT_EQ(thread_of[0], thread_of[2]);
    EXPECT_EQ(thread_of[1], thread_of[3]);
}

TEST(HttpServer, FullComputeQueueGets503WithRetryAfter) {
    core::ServerConfig config = small_config();
    config.compute_threads = 1;
    config.max_queued_requests = 1;
    std::promise<void> entered;
    std::promise<void> release;
    std::shared_future<void> release_future = release.get_future().share();
    std::atomic<bool> entered_once{false};
    Router router;
    router.add(Method::kGet, "/slow", [&](const Request&) {
        if (!entered_once.exchange(true)) {
            entered.set_value();
            release_future.wait();
        }
        return Response::json(200, R"({"slow":true})");
    });
    TestServer server(config, std::move(router));

    Client first(server.port());
    ASSERT_TRUE(first.send(get("/slow")));
    ASSERT_EQ(entered.get_future().wait_for(5s), std::future_status::ready);

    Client second(server.port());
    ASSERT_TRUE(second.send(get("/slow")));
    const auto shed = second.read_response();
    ASSERT_TRUE(shed);
    EXPECT_EQ(shed->status, 503);
    EXPECT_EQ(shed->error_type(), "overloaded");
    EXPECT_EQ(shed->headers.at("retry-after"), "1");

    release.set_value();
    const auto served = first.read_response();
    ASSERT_TRUE(served);
    EXPECT_EQ(served->status, 200);
    // The slot is free again once the first request is answered.
    ASSERT_TRUE(second.send(get("/slow")));
    const auto again = second.read_response();
    ASSERT_TRUE(again);
    EXPECT_EQ(again->status, 200);
}

TEST(HttpServer, HandlerExceptionGives500AndServerKeepsServing) {
    TestServer server(small_config(), basic_router());
    Client client(server.port());
    ASSERT_TRUE(client.send(get("/throw")));
    const auto response = client.read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 500);
    EXPECT_EQ(response->error_type(), "internal");
    EXPECT_EQ(response->body.find("secret detail"), std::string::npos);
    ASSERT_TRUE(client.send(get("/health")));
    const auto after = client.read_response();
    ASSERT_TRUE(after);
    EXPECT_EQ(after->status, 200);
}

TEST(HttpServer, StopMakesRunReturnWithOpenConnections) {
    auto server = std::make_unique<TestServer>(small_config(), basic_router());
    Client idle(server->port());
    ASSERT_TRUE(idle.send(get("/health")));
    ASSERT_TRUE(idle.read_response());
    Client half(server->port());
    ASSERT_TRUE(half.send("GET /health HTTP/1.1\r\n"));
    std::this_thread::sleep_for(50ms);

    const auto start = Clock::now();
    server->server().stop();
    server->thread().join();
    EXPECT_TRUE(server->returned());
    EXPECT_LT(Clock::now() - start, 2000ms);
    EXPECT_TRUE(idle.closed_within(1000ms));
    EXPECT_TRUE(half.closed_within(1000ms));
    // Stopping twice (here via the destructor) is harmless.
    server.reset();
}

TEST(HttpServer, StopBeforeRunReturnsImmediately) {
    Server server(small_config(), basic_router());
    ASSERT_TRUE(server.listen());
    server.stop();
    const auto start = Clock::now();
    server.run();
    EXPECT_LT(Clock::now() - start, 1000ms);
}

TEST(HttpServer, ManyConcurrentClientsAllAnswered) {
    TestServer server(small_config(), basic_router());
    constexpr int kClients = 200;
    std::atomic<int> ok{0};
    std::vector<std::thread> clients;
    clients.reserve(kClients);
    for (int client_idx = 0; client_idx < kClients; ++client_idx) {
        clients.emplace_back([&, client_idx] {
            Client client(server.port());
            const std::string id = std::to_string(client_idx);
            if (!client.send(get("/v1/documents/" + id))) {
                return;
            }
            const auto response = client.read_response(false, 10000ms);
            if (response && response->status == 200 &&
                body_json(*response).at("params").at("id").as_string() == id) {
                ++ok;
            }
        });
    }
    for (std::thread& thread : clients) {
        thread.join();
    }
    EXPECT_EQ(ok.load(), kClients);
}

TEST(HttpServer, ListenReportsBadAddressesAndBusyPorts) {
    for (const char* bad :
         {"nonsense", "127.0.0.1:", "127.0.0.1:99999", "127.0.0.1:8x", "[::1]8080", "::1:8080"}) {
        core::ServerConfig config = small_config();
        config.listen = bad;
        Server server(config, Router{});
        const auto result = server.listen();
        ASSERT_FALSE(result) << bad;
        EXPECT_EQ(result.error().code, core::ErrorCode::kInvalidArgument) << bad;
        EXPECT_NE(result.error().detail.find(bad), std::string::npos) << bad;
    }

    TestServer first(small_config(), basic_router());
    core::ServerConfig config = small_config();
    config.listen = "127.0.0.1:" + std::to_string(first.port());
    Server second(config, Router{});
    const auto busy = second.listen();
    ASSERT_FALSE(busy);
    EXPECT_EQ(busy.error().code, core::ErrorCode::kIo);

    core::ServerConfig local = small_config();
    local.listen = "localhost:0";
    Server by_name(local, Router{});
    ASSERT_TRUE(by_name.listen());
    EXPECT_EQ(by_name.local_endpoint().rfind("127.0.0.1:", 0), 0U) << by_name.local_endpoint();
    EXPECT_NE(by_name.local_endpoint(), "127.0.0.1:0");
}

TEST(HttpServer, ListensOnIpv6Loopback) {
    core::ServerConfig config = small_config();
    config.listen = "[::1]:0";
    Server server(config, Router{});
    const auto result = server.listen();
    if (!result) {
        GTEST_SKIP() << "no IPv6 loopback here: " << result.error().detail;
    }
    EXPECT_EQ(server.local_endpoint().rfind("[::1]:", 0), 0U) << server.local_endpoint();
}

}  // namespace
}  // namespace ragd::http

namespace ragd::http {
namespace {

Router request_id_router() {
    Router router;
    router.add(Method::kGet, "/id", [](const Request& request) {
        return Response::json(200, "{\"seen\":\"" + request.request_id + "\"}");
    });
    return router;
}

TEST(HttpServer, RequestIdIsEchoedOrGenerated) {
    TestServer server(small_config(), request_id_router());
    Client client(server.port());
    ASSERT_TRUE(client.connected());

    ASSERT_TRUE(client.send(get("/id", "X-Request-Id: abc-123_x.y:z\r\n")));
    auto given = client.read_response();
    ASSERT_TRUE(given);
    EXPECT_EQ(given->headers.at("x-request-id"), "abc-123_x.y:z");
    EXPECT_EQ(body_json(*given).at("seen").as_string(), "abc-123_x.y:z");

    ASSERT_TRUE(client.send(get("/id")));
    auto generated = client.read_response();
    ASSERT_TRUE(generated);
    const std::string id = generated->headers.at("x-request-id");
    EXPECT_EQ(id.size(), 16u);
    EXPECT_TRUE(is_valid_request_id(id));
    EXPECT_EQ(body_json(*generated).at("seen").as_string(), id);

    // Unsafe or oversized ids are replaced, never echoed (they would end up in logs upstream).
    for (const std::string& bad :
         {std::string("has space"), std::string(129, 'a'), std::string("quote\"")}) {
        ASSERT_TRUE(client.send(get("/id", "X-Request-Id: " + bad + "\r\n")));
        auto replaced = client.read_response();
        ASSERT_TRUE(replaced);
        EXPECT_NE(replaced->headers.at("x-request-id"), bad);
        EXPECT_TRUE(is_valid_request_id(replaced->headers.at("x-request-id")));
    }

    // Errors the server answers itself carry an id too.
    ASSERT_TRUE(client.send(get("/nowhere", "X-Request-Id: lost-1\r\n")));
    auto not_found = client.read_response();
    ASSERT_TRUE(not_found);
    EXPECT_EQ(not_found->status, 404);
    EXPECT_EQ(not_found->headers.at("x-request-id"), "lost-1");
}

TEST(RequestId, Validation) {
    EXPECT_TRUE(is_valid_request_id("a"));
    EXPECT_TRUE(is_valid_request_id(std::string(128, 'z')));
    EXPECT_FALSE(is_valid_request_id(""));
    EXPECT_FALSE(is_valid_request_id(std::string(129, 'z')));
    EXPECT_FALSE(is_valid_request_id("a b"));
    EXPECT_FALSE(is_valid_request_id("a\r\nb"));
    EXPECT_NE(generate_request_id(), generate_request_id());
}

}  // namespace
}  // namespace ragd::http
