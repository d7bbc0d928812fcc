// RedisClient over TLS (rediss://) against real TLS-only redis-server processes, with a
// throwaway CA and certificates made by the openssl CLI: verification by CA file and host name,
// the failures a misconfiguration causes (each one a connection-level failure with its reason,
// never a hang), and deadlines that close the socket under a pending TLS operation.
#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "../support/test_certificates.hpp"
#include "cache/redis_client.hpp"
#include "redis_server.hpp"
#include "run_awaitable.hpp"

namespace ragd::cache {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using testing::RedisServer;
using testing::RedisServerTls;
using testing::run_awaitable;

/// Made once for the file, on first use (each certificate is an openssl run); removed at exit.
/// server: signed by the CA for localhost and 127.0.0.1; dns_only: for localhost alone; self:
/// self-signed.
ragd::testing::TestCertificates& certificates() {
    static ragd::testing::TestCertificates certs;
    static const bool made = certs.make_leaf("server", "DNS:localhost,IP:127.0.0.1") &&
                             certs.make_leaf("dns_only", "DNS:localhost") &&
                             certs.make_self_signed("self", "DNS:localhost,IP:127.0.0.1");
    (void)made;  // failures are in certs.error()
    return certs;
}

class RedisTlsTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (RedisServer::binary().empty()) {
            GTEST_SKIP() << "redis-server is not installed (scripts/install-deps.sh --test)";
        }
        ASSERT_TRUE(certificates().ok()) << certificates().error();
    }

    /// A TLS-only redis-server presenting NAME.pem.
    static std::unique_ptr<RedisServer> start_server(const std::string& name,
                                                     std::vector<std::string> extra_args = {}) {
        auto& certs = certificates();
        auto server = std::make_unique<RedisServer>(
            RedisServerTls{
                certs.path(name + ".pem"), certs.path(name + ".key"), certs.path("ca.pem")},
            std::move(extra_args));
        EXPECT_TRUE(server->start()) << server->error();
        return server;
    }

    static std::string ca_file() { return certificates().path("ca.pem"); }

    // Deadlines are generous (this machine's load must not fail handshakes) unless a test
    // measures one.
    std::unique_ptr<RedisClient> make_client(const std::string& url,
                                             const std::string& ca,
                                             bool verify = true,
                                             std::chrono::milliseconds timeout = 2000ms,
                                             std::size_t max_connections = 4) {
        RedisOptions options;
        options.url = url;
        options.tls_ca_file = ca;
        options.tls_verify = verify;
        options.max_connections = max_connections;
        options.command_timeout = timeout;
        options.connect_timeout = timeout;
        options.down_backoff = 1000ms;
        auto client = RedisClient::create(io_.get_executor(), options);
        EXPECT_TRUE(client.has_value()) << client.error().detail;
        return client ? std::move(*client) : nullptr;
    }

    template <class T>
    T run(net::awaitable<T> task) {
        return run_awaitable(io_, std::move(task));
    }

    /// Retries GET until it succeeds (the client comes back after its down_backoff).
    core::Result<std::optional<std::string>> get_until_ok(RedisClient& client,
                                                          const std::string& key) {
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        core::Result<std::optional<std::string>> result =
            core::fail(core::ErrorCode::kUnavailable, "not tried");
        while (std::chrono::steady_clock::now() < deadline) {
            result = run(client.get(key));
            if (result.has_value()) {
                break;
            }
        }
        return result;
    }

    net::io_context io_;
};

TEST_F(RedisTlsTest, CommandsRoundTripWithTheCaFile) {
    auto server = start_server("server");
    auto client = make_client(server->url(), ca_file());
    ASSERT_NE(client, nullptr);
    EXPECT_TRUE(client->endpoint().tls);
    EXPECT_EQ(run(client->get("missing")).value(), std::nullopt);
    ASSERT_TRUE(run(client->set("k", "over tls", 0ms)).has_value());
    EXPECT_EQ(run(client->get("k")).value(), std::optional<std::string>("over tls"));
    // Larger than a TLS record (16 KiB) and than the read buffer: many records per reply.
    std::string large(std::size_t{1024} * 1024, 'x');
    large[4321] = '\0';
    ASSERT_TRUE(run(client->set("large", large, 60s)).has_value());
    EXPECT_EQ(run(client->get("large")).value(), large);
    EXPECT_TRUE(run(client->del("k")).value());
    EXPECT_TRUE(client->healthy());
    EXPECT_EQ(client->stats().failures, 0u);
    EXPECT_EQ(client->stats().open_connections, 1u);  // one handshake, then reuse
}

TEST_F(RedisTlsTest, VerifiesAHostNameReachedThroughDns) {
    auto server = start_server("server");
    auto client = make_client("rediss://localhost:" + std::to_string(server->port()), ca_file());
    ASSERT_NE(client, nullptr);
    ASSERT_TRUE(run(client->set("k", "v", 0ms)).has_value());
    EXPECT_EQ(run(client->get("k")).value(), std::optional<std::string>("v"));
}

TEST_F(RedisTlsTest, AuthAndSelectOverTls) {
    auto server = start_server("server", {"--requirepass", "s3cret"});
    const std::string authority = "127.0.0.1:" + std::to_string(server->port());
    auto client = make_client("rediss://:s3cret@" + authority + "/3", ca_file());
    ASSERT_NE(client, nullptr);
    ASSERT_TRUE(run(client->set("k", "in db 3", 0ms)).has_value());
    auto info = run(client->command({"CLIENT", "INFO"}));
    ASSERT_TRUE(info.has_value()) << info.error().detail;
    EXPECT_NE(info->str.find(" db=3 "), std::string::npos) << info->str;

    auto wrong = make_client("rediss://:not-the-password@" + authority, ca_file());
    ASSERT_NE(wrong, nullptr);
    auto refused = run(wrong->get("k"));
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().code, core::ErrorCode::kUnavailable) << refused.error().detail;
    EXPECT_EQ(refused.error().detail.find("not-the-password"), std::string::npos)
        << refused.error().detail;
    EXPECT_FALSE(wrong->healthy());
}

TEST_F(RedisTlsTest, AnUntrustedCertificateFailsClearlyAndMarksTheClientDown) {
    auto server = start_server("server");
    auto client = make_client(server->url(), /*ca=*/"");  // the system store lacks the test CA
    ASSERT_NE(client, nullptr);
    const auto start = std::chrono::steady_clock::now();
    auto failed = run(client->get("k"));
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);  // an answer, not the deadline
    ASSERT_FALSE(failed.has_value());
    const std::string& detail = failed.error().detail;
    EXPECT_EQ(failed.error().code, core::ErrorCode::kUnavailable) << detail;
    EXPECT_NE(detail.find("TLS handshake failed"), std::string::npos) << detail;
    EXPECT_NE(detail.find("certificate verify failed"), std::string::npos) << detail;
    // And why: redis-server sends the test CA along with its certificate (OpenSSL builds the
    // chain from its CA file), so the chain ends in a root nobody here trusts.
    EXPECT_TRUE(detail.find("self-signed certificate in certificate chain") != std::string::npos ||
                detail.find("unable to get local issuer certificate") != std::string::npos)
        << detail;
    EXPECT_FALSE(client->healthy());
    EXPECT_EQ(client->stats().failures, 1u);

    // Down: the next command fails at once, naming the reason, without a handshake.
    auto skipped = run(client->get("k"));
    ASSERT_FALSE(skipped.has_value());
    EXPECT_NE(skipped.error().detail.find("certificate verify failed"), std::string::npos)
        << skipped.error().detail;
    EXPECT_EQ(client->stats().rejected_down, 1u);
}

TEST_F(RedisTlsTest, ASelfSignedServerNeedsVerificationOff) {
    auto server = start_server("self");
    auto verified = make_client(server->url(), ca_file());
    ASSERT_NE(verified, nullptr);
    auto refused = run(verified->get("k"));
    ASSERT_FALSE(refused.has_value());
    EXPECT_NE(refused.error().detail.find("TLS handshake failed"), std::string::npos)
        << refused.error().detail;

    auto unverified = make_client(server->url(), /*ca=*/"", /*verify=*/false);
    ASSERT_NE(unverified, nullptr);
    ASSERT_TRUE(run(unverified->set("k", "v", 0ms)).has_value());
    EXPECT_EQ(run(unverified->get("k")).value(), std::optional<std::string>("v"));
}

TEST_F(RedisTlsTest, ACertificateForAnotherNameFailsVerification) {
    auto server = start_server("dns_only");  // DNS:localhost, no IP address
    auto by_ip = make_client(server->url(), ca_file());
    ASSERT_NE(by_ip, nullptr);
    auto refused = run(by_ip->get("k"));
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().code, core::ErrorCode::kUnavailable);
    EXPECT_NE(refused.error().detail.find("the certificate is not for '127.0.0.1'"),
              std::string::npos)
        << refused.error().detail;
    EXPECT_FALSE(by_ip->healthy());

    // The same server by the name its certificate carries.
    auto by_name = make_client("rediss://localhost:" + std::to_string(server->port()), ca_file());
    ASSERT_NE(by_name, nullptr);
    EXPECT_TRUE(run(by_name->set("k", "v", 0ms)).has_value());
}

TEST_F(RedisTlsTest, APlainUrlAgainstTheTlsPortFailsFast) {
    auto server = start_server("server");
    auto client =
        make_client("redis://127.0.0.1:" + std::to_string(server->port()), "", true, 300ms);
    ASSERT_NE(client, nullptr);
    const auto start = std::chrono::steady_clock::now();
    auto failed = run(client->get("k"));
    const auto elapsed = std::chrono::steady_clock::now() - start;
    ASSERT_FALSE(failed.has_value());
    // Redis drops a client that does not speak TLS; at worst the command's deadline ends it.
    EXPECT_TRUE(failed.error().code == core::ErrorCode::kUnavailable ||
                failed.error().code == core::ErrorCode::kTimeout)
        << failed.error().detail;
    EXPECT_LT(elapsed, 2s);
    EXPECT_FALSE(client->healthy());
}

TEST_F(RedisTlsTest, ATlsUrlAgainstAPlainPortFailsWithinTheConnectTimeout) {
    RedisServer plain;
    ASSERT_TRUE(plain.start()) << plain.error();
    auto client =
        make_client("rediss://127.0.0.1:" + std::to_string(plain.port()), ca_file(), true, 300ms);
    ASSERT_NE(client, nullptr);
    const auto start = std::chrono::steady_clock::now();
    auto failed = run(client->get("k"));
    const auto elapsed = std::chrono::steady_clock::now() - start;
    ASSERT_FALSE(failed.has_value());
    // A plain Redis either answers the ClientHello with an error line (not a TLS record) or
    // waits for the rest of an inline command until the deadline.
    EXPECT_NE(failed.error().detail.find("TLS handshake"), std::string::npos)
        << failed.error().detail;
    EXPECT_LT(elapsed, 2s);
    EXPECT_FALSE(client->healthy());
}

TEST_F(RedisTlsTest, AStalledHandshakeTimesOutThenTheClientRecovers) {
    auto server = start_server("server");
    auto client = make_client(server->url(), ca_file(), true, 300ms);
    ASSERT_NE(client, nullptr);
    server->pause();  // the kernel completes the TCP handshake; the TLS one gets no answer
    const auto start = std::chrono::steady_clock::now();
    auto stuck = run(client->get("k"));
    const auto elapsed = std::chrono::steady_clock::now() - start;
    server->resume();
    ASSERT_FALSE(stuck.has_value());
    EXPECT_EQ(stuck.error().code, core::ErrorCode::kTimeout) << stuck.error().detail;
    EXPECT_NE(stuck.error().detail.find("the TLS handshake did not finish"), std::string::npos)
        << stuck.error().detail;
    EXPECT_GE(elapsed, 290ms);
    EXPECT_LT(elapsed, 3s);
    EXPECT_FALSE(client->healthy());

    // The deadline closed the socket under the pending handshake; a later probe starts afresh.
    auto recovered = get_until_ok(*client, "k");
    ASSERT_TRUE(recovered.has_value()) << recovered.error().detail;
    EXPECT_TRUE(client->healthy());
}

TEST_F(RedisTlsTest, ACommandDeadlineClosesAPendingTlsReadThenTheClientRecovers) {
    auto server = start_server("server");
    auto client = make_client(server->url(), ca_file(), true, 300ms);
    ASSERT_NE(client, nullptr);
    ASSERT_TRUE(run(client->set("k", "v", 0ms)).has_value());  // a pooled TLS connection
    server->pause();
    auto stuck = run(client->get("k"));
    server->resume();
    ASSERT_FALSE(stuck.has_value());
    EXPECT_EQ(stuck.error().code, core::ErrorCode::kTimeout) << stuck.error().detail;
    EXPECT_EQ(client->stats().timeouts, 1u);

    auto recovered = get_until_ok(*client, "k");
    ASSERT_TRUE(recovered.has_value()) << recovered.error().detail;
    EXPECT_EQ(*recovered, std::optional<std::string>("v"));
}

TEST_F(RedisTlsTest, AnUnreadableCaFileFailsAtCreation) {
    RedisOptions options;
    options.url = "rediss://127.0.0.1:6379";
    options.tls_ca_file = "/nonexistent/ragd-ca.pem";
    auto client = RedisClient::create(io_.get_executor(), options);
    ASSERT_FALSE(client.has_value());
    EXPECT_EQ(client.error().code, core::ErrorCode::kInvalidArgument);
    EXPECT_NE(client.error().detail.find("/nonexistent/ragd-ca.pem"), std::string::npos)
        << client.error().detail;
}

TEST_F(RedisTlsTest, TheDefaultConnectTimeoutCoversTheHandshake) {
    auto server = start_server("server");
    RedisOptions options;  // connect_timeout 200 ms, command_timeout 50 ms
    options.url = server->url();
    options.tls_ca_file = ca_file();
    auto client = RedisClient::create(io_.get_executor(), options);
    ASSERT_TRUE(client.has_value()) << client.error().detail;
    const auto start = std::chrono::steady_clock::now();
    auto pong = run((*client)->command({"PING"}));
    const auto elapsed = std::chrono::steady_clock::now() - start;
    ASSERT_TRUE(pong.has_value()) << pong.error().detail;
    EXPECT_EQ(pong->str, "PONG");
    std::cout << "connect + TLS handshake + PING on loopback: "
              << std::chrono::duration<double, std::milli>(elapsed).count() << " ms\n";
}

net::awaitable<void> incr_once(RedisClient* client, std::atomic<int>* ok) {
    auto result = co_await client->incr("counter");
    if (result) {
        ++*ok;
    }
}

TEST_F(RedisTlsTest, ConcurrentCommandsShareThePooledTlsConnections) {
    auto server = start_server("server");
    auto client = make_client(server->url(), ca_file(), true, 5000ms, /*max_connections=*/3);
    ASSERT_NE(client, nullptr);
    std::atomic<int> ok{0};
    constexpr int kCommands = 100;
    for (int command_idx = 0; command_idx < kCommands; ++command_idx) {
        net::co_spawn(io_, incr_once(client.get(), &ok), net::detached);
    }
    std::thread helper([this] { io_.run_for(20s); });
    io_.run_for(20s);
    helper.join();
    EXPECT_EQ(ok.load(), kCommands);
    EXPECT_LE(client->stats().open_connections, 3u);
    EXPECT_EQ(client->stats().failures, 0u);
}

}  // namespace
}  // namespace ragd::cache
