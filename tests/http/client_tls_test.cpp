// HttpClient over TLS (a throw-away CA and server certificates made with the openssl CLI) and
// through HTTP proxies (CONNECT tunnels and absolute-form requests).
#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <boost/asio/ssl/context.hpp>
#include <gtest/gtest.h>
#include <stdlib.h>

#include "client_test_server.hpp"
#include "http/client.hpp"

namespace ragd::http {
namespace {

using test::IoRunner;
using test::ReceivedRequest;
using test::ServerConnection;
using test::TestServer;
namespace net = boost::asio;
namespace ssl = net::ssl;
using namespace std::chrono_literals;

net::awaitable<ClientResult<std::string>> fetch_body(HttpClient& client, std::string target) {
    ClientRequest request;
    request.method = Method::kGet;
    request.target = std::move(target);
    auto response = co_await client.send(std::move(request));
    if (!response) {
        co_return response.error();
    }
    co_return co_await (*response)->read_all(1 << 20);
}

class HttpClientTls : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        char pattern[] = "/tmp/ragd-client-tls-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        dir_ = pattern;
        const std::string ec_key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
        run("openssl req -x509 " + ec_key +
            " -keyout ca.key -out ca.pem -days 2 -subj '/CN=ragd test CA'"
            " -addext basicConstraints=critical,CA:TRUE"
            " -addext keyUsage=critical,keyCertSign,cRLSign");
        make_leaf("server", "DNS:localhost,IP:127.0.0.1");
        make_leaf("other", "DNS:other.example");
    }

    static void TearDownTestSuite() { std::filesystem::remove_all(dir_); }

    static void run(const std::string& command) {
        const std::string full = "cd '" + dir_.string() + "' && " + command + " >/dev/null 2>&1";
        ASSERT_EQ(std::system(full.c_str()), 0) << full;
    }

    static void make_leaf(const std::string& name, const std::string& alt_names) {
        std::ofstream(dir_ / (name + ".ext"))
            << "subjectAltName=" << alt_names
            << "\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n";
        run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + name +
            ".key -out " + name + ".csr -subj '/CN=" + name + "'");
        run("openssl x509 -req -in " + name +
            ".csr -CA ca.pem -CAkey ca.key -CAcreateserial -out " + name +
            ".pem -days 2 -extfile " + name + ".ext");
    }

    static std::unique_ptr<ssl::context> server_context(const std::string& name) {
        auto context = std::make_unique<ssl::context>(ssl::context::tls_server);
        context->use_certificate_chain_file((dir_ / (name + ".pem")).string());
        context->use_private_key_file((dir_ / (name + ".key")).string(), ssl::context::pem);
        return context;
    }

    static ClientOptions options(const std::string& base_url, bool with_ca = true) {
        ClientOptions options;
        options.base_url = base_url;
        options.proxy_url = "none";
        if (with_ca) {
            options.ca_file = (dir_ / "ca.pem").string();
        }
        return options;
    }

    static inline std::filesystem::path dir_;
};

TEST_F(HttpClientTls, VerifiedWithCaFileAndKeptAlive) {
    auto context = server_context("server");
    TestServer server(
        [&](ServerConnection& connection) {
            test::serve_each(server, connection, [](const ReceivedRequest& request) {
                return test::ok_response("secure " + request.target);
            });
        },
        context.get());
    IoRunner runner;
    HttpClient client(runner.io().get_executor(), options(server.url("https")));
    for (int request_idx = 0; request_idx < 3; ++request_idx) {
        const auto body = runner.run(fetch_body(client, "/r" + std::to_string(request_idx)));
        ASSERT_TRUE(body) << body.error().message;
        EXPECT_EQ(*body, "secure /r" + std::to_string(request_idx));
    }
    EXPECT_EQ(server.connections(), 1);
    EXPECT_EQ(client.stats().reused, 2U);
}

TEST_F(HttpClientTls, VerifiedByHostNameThroughDns) {
    auto context = server_context("server");
    TestServer server(
        [&](ServerConnection& connection) {
            test::serve_each(server, connection, [](const ReceivedRequest& request) {
                return test::ok_response(request.header("host"));
            });
        },
        context.get());
    IoRunner runner;
    const std::string authority = "localhost:" + std::to_string(server.port());
    HttpClient client(runner.io().get_executor(), options("https://" + authority));
    const auto body = runner.run(fetch_body(client, "/"));
    ASSERT_TRUE(body) << body.error().message;
    EXPECT_EQ(*body, authority);
}

TEST_F(HttpClientTls, UnknownCaFails) {
    auto context = server_context("server");
    TestServer server([](ServerConnection& connection) { connection.wait_closed(); },
                      context.get());
    IoRunner runner;
    HttpClient client(runner.io().get_executor(), options(server.url("https"), false));
    const auto body = runner.run(fetch_body(client, "/"));
    ASSERT_FALSE(body);
    EXPECT_EQ(body.error().kind, ClientErrorKind::kTls) << body.error().message;
    EXPECT_NE(body.error().message.find("unable to get local issuer certificate"),
              std::string::npos)
        << body.error().message;
    EXPECT_EQ(client.stats().in_use, 0U);
}

TEST_F(HttpClientTls, VerificationCanBeTurnedOff) {
    auto context = server_context("other");
    TestServer server(
        [&](ServerConnection& connection) {
            test::serve_each(server, connection, [](const ReceivedRequest&) {
                return test::ok_response("unverified");
            });
        },
        context.get());
    IoRunner runner;
    ClientOptions insecure = options(server.url("https"), false);
    insecure.verify_tls = false;
    HttpClient client(runner.io().get_executor(), insecure);
    const auto body = runner.run(fetch_body(client, "/"));
    ASSERT_TRUE(body) << body.error().message;
    EXPECT_EQ(*body, "unverified");
}

TEST_F(HttpClientTls, HostNameMismatchFails) {
    auto context = server_context("other");  // valid chain, but for other.example only
    TestServer server([](ServerConnection& connection) { connection.wait_closed(); },
                      context.get());
    IoRunner runner;
    HttpClient by_name(runner.io().get_executor(),
                       options("https://localhost:" + std::to_string(server.port())));
    auto body = runner.run(fetch_body(by_name, "/"));
    ASSERT_FALSE(body);
    EXPECT_EQ(body.error().kind, ClientErrorKind::kTls);
    EXPECT_NE(body.error().message.find("hostname mismatch"), std::string::npos)
        << body.error().message;

    HttpClient by_address(runner.io().get_executor(), options(server.url("https")));
    body = runner.run(fetch_body(by_address, "/"));
    ASSERT_FALSE(body);
    EXPECT_EQ(body.error().kind, ClientErrorKind::kTls);
    EXPECT_NE(body.error().message.find("IP address mismatch"), std::string::npos)
        << body.error().message;
}

TEST_F(HttpClientTls, UnreadableCaFileIsAConfigurationError) {
    ClientOptions bad = options("https://127.0.0.1:1");
    bad.ca_file = (dir_ / "missing.pem").string();
    const auto validated = HttpClient::validate(bad);
    ASSERT_FALSE(validated);
    EXPECT_NE(validated.error().detail.find("missing.pem"), std::string::npos);
    IoRunner runner;
    HttpClient client(runner.io().get_executor(), bad);
    const auto body = runner.run(fetch_body(client, "/"));
    ASSERT_FALSE(body);
    EXPECT_EQ(body.error().kind, ClientErrorKind::kTls);
}

/// Copies bytes from `from` to `to` until `from` ends, then half-closes `to`.
void pump(net::ip::tcp::socket& from, net::ip::tcp::socket& to) {
    std::array<char, 4096> buffer{};
    for (;;) {
        boost::system::error_code ec;
        const std::size_t got = from.read_some(net::buffer(buffer), ec);
        if (ec || !net::write(to, net::buffer(buffer.data(), got), ec) || ec) {
            break;
        }
    }
    boost::system::error_code ignored;
    to.shutdown(net::ip::tcp::socket::shutdown_send, ignored);
}

/// A forward proxy: answers CONNECT with 200 (or `refuse_status`) and relays the tunnel to
/// 127.0.0.1:origin_port; records the request head it got.
class ConnectProxy {
public:
    ConnectProxy(std::uint16_t origin_port, int refuse_status = 0)
        : server_([this, origin_port, refuse_status](ServerConnection& connection) {
              auto request = connection.read_request();
              if (!request) {
                  return;
              }
              seen_.set(*request);
              if (refuse_status != 0) {
                  connection.write("HTTP/1.1 " + std::to_string(refuse_status) +
                                   " Forbidden\r\nContent-Length: 0\r\n\r\n");
                  connection.wait_closed();
                  return;
              }
              net::io_context io;
              net::ip::tcp::socket origin(io);
              boost::system::error_code ec;
              origin.connect({net::ip::make_address("127.0.0.1"), origin_port}, ec);
              if (ec || !connection.write("HTTP/1.1 200 Connection established\r\n\r\n")) {
                  return;
              }
              std::thread upstream([&] { pump(connection.socket(), origin); });
              pump(origin, connection.socket());
              upstream.join();
          }) {}

    std::string url() const { return server_.url(); }
    std::uint16_t port() const { return server_.port(); }
    ReceivedRequest seen() { return seen_.get(); }

private:
    test::Captured<ReceivedRequest> seen_;
    TestServer server_;
};

TEST_F(HttpClientTls, HttpsThroughConnectProxy) {
    auto context = server_context("server");
    TestServer origin(
        [&](ServerConnection& connection) {
            test::serve_each(origin, connection, [](const ReceivedRequest& request) {
                return test::ok_response("tunnelled " + request.target);
            });
        },
        context.get());
    ConnectProxy proxy(origin.port());
    IoRunner runner;
    ClientOptions via_proxy = options(origin.url("https"));
    via_proxy.proxy_url = "http://user:pa%73s@127.0.0.1:" + std::to_string(proxy.port());
    HttpClient client(runner.io().get_executor(), via_proxy);
    for (int request_idx = 0; request_idx < 2; ++request_idx) {
        const auto body = runner.run(fetch_body(client, "/x"));
        ASSERT_TRUE(body) << body.error().message;
        EXPECT_EQ(*body, "tunnelled /x");
    }
    const ReceivedRequest seen = proxy.seen();
    const std::string authority = "127.0.0.1:" + std::to_string(origin.port());
    EXPECT_EQ(seen.method, "CONNECT");
    EXPECT_EQ(seen.target, authority);
    EXPECT_EQ(seen.header("host"), authority);
    EXPECT_EQ(seen.header("proxy-authorization"), "Basic dXNlcjpwYXNz");  // "user:pass"
    EXPECT_EQ(origin.connections(), 1);  // the tunnel is kept alive and reused
}

TEST_F(HttpClientTls, ProxyRefusingTheTunnelIsAConnectError) {
    ConnectProxy proxy(1, 403);
    IoRunner runner;
    ClientOptions via_proxy = options("https://127.0.0.1:9");
    via_proxy.proxy_url = proxy.url();
    HttpClient client(runner.io().get_executor(), via_proxy);
    const auto body = runner.run(fetch_body(client, "/"));
    ASSERT_FALSE(body);
    EXPECT_EQ(body.error().kind, ClientErrorKind::kConnect) << body.error().message;
    EXPECT_NE(body.error().message.find("403"), std::string::npos) << body.error().message;
}

TEST(HttpClientProxy, PlainHttpUsesAbsoluteFormThroughTheProxy) {
    test::Captured<ReceivedRequest> seen;
    TestServer proxy([&](ServerConnection& connection) {
        while (auto request = connection.read_request()) {
            seen.set(*request);
            if (!connection.write(test::ok_response("proxied"))) {
                return;
            }
        }
    });
    IoRunner runner;
    ClientOptions options;
    options.base_url = "http://upstream.invalid:8081/api";
    options.proxy_url = proxy.url();
    HttpClient client(runner.io().get_executor(), options);
    const auto body = runner.run(fetch_body(client, "/v1/embeddings"));
    ASSERT_TRUE(body) << body.error().message;
    EXPECT_EQ(*body, "proxied");
    const ReceivedRequest request = seen.get();
    EXPECT_EQ(request.target, "http://upstream.invalid:8081/api/v1/embeddings");
    EXPECT_EQ(request.header("host"), "upstream.invalid:8081");
}

TEST(HttpClientProxy, EnvironmentProxyIsUsedUnlessNoProxyMatches) {
    test::Captured<ReceivedRequest> seen;
    TestServer proxy([&](ServerConnection& connection) {
        if (auto request = connection.read_request()) {
            seen.set(*request);
            connection.write(test::ok_response("from proxy"));
        }
        connection.wait_closed();
    });
    TestServer origin([&](ServerConnection& connection) {
        test::serve_each(
            origin, connection, [](const ReceivedRequest&) { return test::ok_response("direct"); });
    });
    IoRunner runner;
    ::setenv("http_proxy", proxy.url().c_str(), 1);
    ::setenv("no_proxy", "localhost,127.0.0.1", 1);
    ClientOptions options;
    options.base_url = "http://upstream.invalid";
    HttpClient proxied(runner.io().get_executor(), options);
    options.base_url = origin.url();
    HttpClient direct(runner.io().get_executor(), options);
    ::unsetenv("http_proxy");
    ::unsetenv("no_proxy");

    auto body = runner.run(fetch_body(proxied, "/e"));
    ASSERT_TRUE(body) << body.error().message;
    EXPECT_EQ(*body, "from proxy");
    EXPECT_EQ(seen.get().target, "http://upstream.invalid/e");
    body = runner.run(fetch_body(direct, "/e"));
    ASSERT_TRUE(body) << body.error().message;
    EXPECT_EQ(*body, "direct");
    EXPECT_EQ(proxy.connections(), 1);
}

}  // namespace
}  // namespace ragd::http
