// The HTTP server's observer hook, end to end over loopback: every response is counted under its
// route pattern (or "unmatched") and status, including the server's own 4xx/5xx and 503 sheds,
// and the in-flight and connection gauges return to zero.
#include "api/server_metrics.hpp"

#include <chrono>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/server.hpp"
#include "metrics_sample.hpp"

namespace ragd::api {
namespace {

using namespace std::chrono_literals;

using metrics::test_support::sample;

double requests(const std::string& text,
                const std::string& code,
                const std::string& method,
                const std::string& route) {
    return sample(text,
                  "ragd_http_requests_total{code=\"" + code + "\",method=\"" + method +
                      "\",route=\"" + route + "\"}")
        .value_or(0);
}

/// Sends `bytes` on a new connection, reads until the server closes it (every request here ends
/// with Connection: close or an error that closes), and returns the statuses in order.
std::vector<int> round_trips(unsigned short port, const std::string& bytes) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval timeout{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    std::string received;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
        ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(bytes.size())) {
        char chunk[4096];
        for (;;) {
            const ssize_t got = ::recv(fd, chunk, sizeof(chunk), 0);
            if (got <= 0) {
                break;
            }
            received.append(chunk, static_cast<std::size_t>(got));
        }
    }
    ::close(fd);
    std::vector<int> statuses;
    constexpr std::string_view kStatusLine = "HTTP/1.1 ";
    for (std::size_t at = received.find(kStatusLine); at != std::string::npos;
         at = received.find(kStatusLine, at + 1)) {
        if (at == 0 || received.compare(at - 2, 2, "\r\n") == 0 || received[at - 1] == '}') {
            statuses.push_back(std::atoi(received.c_str() + at + kStatusLine.size()));
        }
    }
    return statuses;
}

/// The status of the one response to `bytes`, 0 when there was not exactly one.
int round_trip(unsigned short port, const std::string& bytes) {
    const std::vector<int> statuses = round_trips(port, bytes);
    return statuses.size() == 1 ? statuses.front() : 0;
}

class ServerMetricsTest : public ::testing::Test {
protected:
    void start(core::ServerConfig config) {
        config.listen = "127.0.0.1:0";
        config.threads = 2;
        config.compute_threads = 2;
        http::Router router;
        router.add(http::Method::kGet, "/items/{id}", [](const http::Request&) {
            return http::Response::json(200, "{}");
        });
        router.add(http::Method::kGet, "/boom", [](const http::Request&) -> http::Response {
            throw std::runtime_error("boom");
        });
        http::RouteOptions inline_json;
        inline_json.dispatch = http::Dispatch::kInline;
        inline_json.json_body = true;
        inline_json.max_body_bytes = 16;
        router.add(
            http::Method::kPost,
            "/echo",
            [](const http::Request& request) { return http::Response::json(200, request.body); },
            inline_json);
        server_.emplace(config, std::move(router));
        server_->set_observer(&observer_);
        ASSERT_TRUE(server_->listen());
        const std::string endpoint = server_->local_endpoint();
        port_ = static_cast<unsigned short>(std::stoi(endpoint.substr(endpoint.rfind(':') + 1)));
        thread_ = std::thread([this] { server_->run(); });
    }

    void TearDown() override {
        if (server_) {
            server_->stop();
            thread_.join();
        }
    }

    /// Gauges settle a moment after the client sees its response (the server finishes the
    /// write, then closes): poll until `series` equals `want` or a deadline passes.
    double settled(const std::string& series, double want) {
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        double value = -1;
        while (std::chrono::steady_clock::now() < deadline) {
            value = sample(metrics_.serialize(), series).value_or(-1);
            if (value == want) {
                break;
            }
            std::this_thread::sleep_for(5ms);
        }
        return value;
    }

    metrics::Metrics metrics_;
    ServerMetrics observer_{&metrics_};
    std::optional<http::Server> server_;
    std::thread thread_;
    unsigned short port_ = 0;
};

TEST_F(ServerMetricsTest, CountsEveryResponseUnderItsRoutePatternAndCode) {
    start({});
    const std::string close = "Connection: close\r\n\r\n";
    EXPECT_EQ(round_trip(port_, "GET /items/abc HTTP/1.1\r\nHost: x\r\n" + close), 200);
    EXPECT_EQ(round_trip(port_, "GET /items/a%2Fb HTTP/1.1\r\nHost: x\r\n" + close), 200);
    EXPECT_EQ(round_trip(port_, "HEAD /items/abc HTTP/1.1\r\nHost: x\r\n" + close), 200);
    EXPECT_EQ(round_trip(port_, "GET /nothing/here HTTP/1.1\r\nHost: x\r\n" + close), 404);
    EXPECT_EQ(round_trip(port_, "DELETE /items/abc HTTP/1.1\r\nHost: x\r\n" + close), 405);
    EXPECT_EQ(round_trip(port_, "GET /boom HTTP/1.1\r\nHost: x\r\n" + close), 500);
    EXPECT_EQ(round_trip(port_,
                         "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                         "Content-Length: 2\r\nConnection: close\r\n\r\nhi"),
              415);
    EXPECT_EQ(round_trip(port_,
                         "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         "Content-Length: 100\r\n\r\n"),
              413);
    EXPECT_EQ(round_trip(port_, "NOT AN HTTP REQUEST\r\n\r\n"), 400);

    ASSERT_EQ(settled("ragd_open_connections", 0), 0);
    const std::string text = metrics_.serialize();
    EXPECT_EQ(requests(text, "200", "GET", "/items/{id}"), 2);
    EXPECT_EQ(requests(text, "200", "HEAD", "/items/{id}"), 1);
    EXPECT_EQ(requests(text, "404", "GET", "unmatched"), 1);
    EXPECT_EQ(requests(text, "405", "DELETE", "unmatched"), 1);
    EXPECT_EQ(requests(text, "500", "GET", "/boom"), 1);
    EXPECT_EQ(requests(text, "415", "POST", "/echo"), 1);
    EXPECT_EQ(requests(text, "413", "POST", "/echo"), 1);
    EXPECT_EQ(requests(text, "400", "OTHER", "unmatched"), 1);
    // Raw paths never become labels.
    EXPECT_EQ(text.find("/items/abc"), std::string::npos);
    EXPECT_EQ(text.find("/nothing"), std::string::npos);
    EXPECT_EQ(sample(text, R"(ragd_http_request_duration_seconds_count{route="/items/{id}"})"), 3);
    EXPECT_EQ(sample(text, "ragd_inflight_requests"), 0);
}

TEST_F(ServerMetricsTest, KeepAliveRequestsShareOneConnection) {
    start({});
    const std::string get = "GET /items/1 HTTP/1.1\r\nHost: x\r\n\r\n";
    EXPECT_EQ(round_trips(port_,
                          get + get +
                              "GET /items/3 HTTP/1.1\r\nHost: x\r\nConnection: close"
                              "\r\n\r\n"),
              (std::vector<int>{200, 200, 200}));
    ASSERT_EQ(settled("ragd_open_connections", 0), 0);
    const std::string text = metrics_.serialize();
    EXPECT_EQ(requests(text, "200", "GET", "/items/{id}"), 3);
    EXPECT_EQ(sample(text, "ragd_inflight_requests"), 0);
}

TEST_F(ServerMetricsTest, ShedRequestsAreCountedAs503AndShed) {
    core::ServerConfig config;
    config.max_queued_requests = 0;  // every compute request is over the limit
    start(config);
    EXPECT_EQ(round_trip(port_, "GET /items/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
              503);
    ASSERT_EQ(settled("ragd_open_connections", 0), 0);
    const std::string text = metrics_.serialize();
    EXPECT_EQ(sample(text, R"(ragd_shed_total{reason="queue_full"})"), 1);
    EXPECT_EQ(requests(text, "503", "GET", "/items/{id}"), 1);
}

TEST_F(ServerMetricsTest, OpenConnectionsCountsIdleKeepAliveConnections) {
    start({});
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port_);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    EXPECT_EQ(settled("ragd_open_connections", 1), 1);
    ::close(fd);
    EXPECT_EQ(settled("ragd_open_connections", 0), 0);
    EXPECT_EQ(sample(metrics_.serialize(), "ragd_inflight_requests"), 0);
}

}  // namespace
}  // namespace ragd::api
