#include "cache/redis_client.hpp"

#include <atomic>
#include <chrono>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <gtest/gtest.h>

#include "redis_server.hpp"
#include "run_awaitable.hpp"

namespace ragd::cache {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using testing::RedisServer;
using testing::run_awaitable;

TEST(ParseRedisUrl, AcceptsTheUsualForms) {
    auto plain = parse_redis_url("redis://cache.internal");
    ASSERT_TRUE(plain.has_value());
    EXPECT_EQ(plain->host, "cache.internal");
    EXPECT_EQ(plain->port, 6379);
    EXPECT_EQ(plain->db, 0);
    EXPECT_FALSE(plain->tls);

    auto full = parse_redis_url("redis://app:p%40ss@10.0.0.5:6380/2");
    ASSERT_TRUE(full.has_value());
    EXPECT_EQ(full->user, "app");
    EXPECT_EQ(full->password, "p@ss");
    EXPECT_EQ(full->host, "10.0.0.5");
    EXPECT_EQ(full->port, 6380);
    EXPECT_EQ(full->db, 2);

    auto password_only = parse_redis_url("redis://:secret@[::1]:7000");
    ASSERT_TRUE(password_only.has_value());
    EXPECT_EQ(password_only->user, "");
    EXPECT_EQ(password_only->password, "secret");
    EXPECT_EQ(password_only->host, "::1");
    EXPECT_EQ(password_only->port, 7000);
}

TEST(ParseRedisUrl, RedissMeansTls) {
    auto tls = parse_redis_url("rediss://cache.internal");
    ASSERT_TRUE(tls.has_value());
    EXPECT_TRUE(tls->tls);
    EXPECT_EQ(tls->host, "cache.internal");
    EXPECT_EQ(tls->port, 6379);  // as for redis://; managed services name their port

    auto full = parse_redis_url("rediss://default:p%40ss@master.abc.cache.amazonaws.com:6380/1");
    ASSERT_TRUE(full.has_value());
    EXPECT_TRUE(full->tls);
    EXPECT_EQ(full->user, "default");
    EXPECT_EQ(full->password, "p@ss");
    EXPECT_EQ(full->host, "master.abc.cache.amazonaws.com");
    EXPECT_EQ(full->port, 6380);
    EXPECT_EQ(full->db, 1);

    auto ipv6 = parse_redis_url("rediss://:secret@[::1]:7000");
    ASSERT_TRUE(ipv6.has_value());
    EXPECT_TRUE(ipv6->tls);
    EXPECT_EQ(ipv6->host, "::1");
    EXPECT_EQ(ipv6->port, 7000);
}

TEST(ParseRedisUrl, RejectsWithReasons) {
    for (const char* bad : {"http://host",
                            "redis://",
                            "rediss://",
                            "redisss://host",
                            "rediss:/host",
                            "rediss://host:0",
                            "rediss://secret@host",
                            "redis://host:0",
                            "redis://host:99999",
                            "redis://host:port",
                            "redis://host/x",
                            "redis://secret@host",
                            "redis://:%zz@host"}) {
        auto parsed = parse_redis_url(bad);
        ASSERT_FALSE(parsed.has_value()) << bad;
        EXPECT_EQ(parsed.error().code, core::ErrorCode::kInvalidArgument) << bad;
        EXPECT_NE(parsed.error().detail.find(bad), std::string::npos) << parsed.error().detail;
    }
}

class RedisClientTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (RedisServer::binary().empty()) {
            GTEST_SKIP() << "redis-server is not installed (scripts/install-deps.sh --test)";
        }
        ASSERT_TRUE(server_.start()) << server_.error();
        client_ = make_client();
    }

    // Deadlines are generous: this machine's load must not fail round trips. The timeout tests
    // use their own short ones.
    std::unique_ptr<RedisClient> make_client(std::size_t max_connections = 4,
                                             std::chrono::milliseconds timeout = 2000ms) {
        RedisOptions options;
        options.url = server_.url();
        options.max_connections = max_connections;
        options.command_timeout = timeout;
        options.connect_timeout = timeout;
        options.down_backoff = 1000ms;
        auto client = RedisClient::create(io_.get_executor(), options);
        EXPECT_TRUE(client.has_value());
        return std::move(*client);
    }

    template <class T>
    T run(net::awaitable<T> task) {
        return run_awaitable(io_, std::move(task));
    }

    net::io_context io_;
    RedisServer server_;
    std::unique_ptr<RedisClient> client_;
};

TEST_F(RedisClientTest, GetSetDelRoundTrip) {
    EXPECT_EQ(run(client_->get("missing")).value(), std::nullopt);
    ASSERT_TRUE(run(client_->set("k", "hello", 0ms)).has_value());
    EXPECT_EQ(run(client_->get("k")).value(), std::optional<std::string>("hello"));
    EXPECT_TRUE(run(client_->del("k")).value());
    EXPECT_FALSE(run(client_->del("k")).value());
    EXPECT_EQ(run(client_->get("k")).value(), std::nullopt);
    EXPECT_TRUE(client_->healthy());
}

TEST_F(RedisClientTest, ValuesAreBinarySafe) {
    std::string value("\0\r\n$-1\r\n*2\r\n", 12);
    for (int byte = 0; byte < 256; ++byte) {
        value.push_back(static_cast<char>(byte));
    }
    std::string large(3 * 1024 * 1024, 'x');  // several reads and a reader buffer grow
    large[12345] = '\0';
    const std::string key("key\0with\r\nbytes", 15);
    ASSERT_TRUE(run(client_->set(key, value, 60s)).has_value());
    ASSERT_TRUE(run(client_->set("large", large, 60s)).has_value());
    EXPECT_EQ(run(client_->get(key)).value(), value);
    EXPECT_EQ(run(client_->get("large")).value(), large);
}

TEST_F(RedisClientTest, SetAppliesTheTtl) {
    ASSERT_TRUE(run(client_->set("ttl", "v", 5000ms)).has_value());
    auto pttl = run(client_->command({"PTTL", "ttl"}));
    ASSERT_TRUE(pttl.has_value());
    EXPECT_EQ(pttl->type, RedisReply::Type::kInteger);
    EXPECT_GT(pttl->integer, 0);
    EXPECT_LE(pttl->integer, 5000);
    ASSERT_TRUE(run(client_->set("ttl", "v", 1ms)).has_value());
    // Expiry is the server's job; await it rather than sleeping a guessed time.
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    std::optional<std::string> value = "v";
    while (value && std::chrono::steady_clock::now() < deadline) {
        value = run(client_->get("ttl")).value();
    }
    EXPECT_EQ(value, std::nullopt);
}

TEST_F(RedisClientTest, IncrCounts) {
    EXPECT_EQ(run(client_->incr("gen:docs")).value(), 1);
    EXPECT_EQ(run(client_->incr("gen:docs")).value(), 2);
    ASSERT_TRUE(run(client_->set("text", "abc", 0ms)).has_value());
    auto wrong = run(client_->incr("text"));
    ASSERT_FALSE(wrong.has_value());
    EXPECT_EQ(wrong.error().code, core::ErrorCode::kIo);
    EXPECT_TRUE(client_->healthy());  // an error reply is not a connection failure
    EXPECT_EQ(run(client_->incr("gen:docs")).value(), 3);
}

TEST_F(RedisClientTest, EvalRunsScripts) {
    auto sum =
        run(client_->eval("return redis.call('INCRBY', KEYS[1], ARGV[1])", {"bucket"}, {"5"}));
    ASSERT_TRUE(sum.has_value());
    EXPECT_EQ(sum->integer, 5);
    auto array =
        run(client_->eval("return {KEYS[1], ARGV[1], 7}", {"k"}, {std::string("a\0b", 3)}));
    ASSERT_TRUE(array.has_value());
    ASSERT_EQ(array->type, RedisReply::Type::kArray);
    ASSERT_EQ(array->elements.size(), 3u);
    EXPECT_EQ(array->elements[0].str, "k");
    EXPECT_EQ(array->elements[1].str, std::string("a\0b", 3));
    EXPECT_EQ(array->elements[2].integer, 7);
    auto nil = run(client_->eval("return nil", {}, {}));
    ASSERT_TRUE(nil.has_value());
    EXPECT_EQ(nil->type, RedisReply::Type::kNil);
    auto broken = run(client_->eval("this is not lua", {}, {}));
    ASSERT_FALSE(broken.has_value());
    EXPECT_EQ(broken.error().code, core::ErrorCode::kIo);
    EXPECT_TRUE(client_->healthy());
}

TEST_F(RedisClientTest, TimesOutWhenRedisStopsAnswering) {
    auto client = make_client(4, 200ms);
    ASSERT_TRUE(run(client->set("k", "v", 0ms)).has_value());  // a pooled, open connection
    server_.pause();
    const auto start = std::chrono::steady_clock::now();
    auto stuck = run(client->get("k"));
    const auto elapsed = std::chrono::steady_clock::now() - start;
    server_.resume();
    ASSERT_FALSE(stuck.has_value());
    EXPECT_EQ(stuck.error().code, core::ErrorCode::kTimeout) << stuck.error().detail;
    EXPECT_GE(elapsed, 190ms);
    EXPECT_LT(elapsed, 3s);
    EXPECT_FALSE(client->healthy());
    EXPECT_EQ(client->stats().timeouts, 1u);
}

TEST_F(RedisClientTest, NewConnectionTimesOutWhenRedisStopsAnswering) {
    auto client = make_client(4, 200ms);
    server_.pause();  // the kernel still completes the handshake; nothing replies
    auto stuck = run(client->get("k"));
    server_.resume();
    ASSERT_FALSE(stuck.has_value());
    EXPECT_EQ(stuck.error().code, core::ErrorCode::kTimeout) << stuck.error().detail;
}

TEST_F(RedisClientTest, FailsFastWhileDown) {
    ASSERT_TRUE(run(client_->set("k", "v", 0ms)).has_value());
    server_.stop();
    auto first = run(client_->get("k"));
    ASSERT_FALSE(first.has_value());
    EXPECT_EQ(first.error().code, core::ErrorCode::kUnavailable);
    EXPECT_FALSE(client_->healthy());

    // While backing off, commands fail without touching the network.
    const auto start = std::chrono::steady_clock::now();
    for (int attempt = 0; attempt < 1000; ++attempt) {
        auto skipped = run(client_->get("k"));
        ASSERT_FALSE(skipped.has_value());
        ASSERT_EQ(skipped.error().code, core::ErrorCode::kUnavailable);
    }
    const auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_LT(elapsed, 500ms);  // well inside the 1 s back-off; ~1 µs each when idle
    EXPECT_GE(client_->stats().rejected_down, 1000u);
}

TEST_F(RedisClientTest, RecoversAfterRestart) {
    ASSERT_TRUE(run(client_->set("k", "v", 0ms)).has_value());
    server_.stop();
    EXPECT_FALSE(run(client_->get("k")).has_value());
    ASSERT_TRUE(server_.start()) << server_.error();  // same port, empty data
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    core::Result<std::optional<std::string>> result = core::fail(core::ErrorCode::kUnavailable, "");
    while (std::chrono::steady_clock::now() < deadline) {
        result = run(client_->get("k"));
        if (result.has_value()) {
            break;
        }
    }
    ASSERT_TRUE(result.has_value()) << result.error().detail;
    EXPECT_EQ(*result, std::nullopt);
    EXPECT_TRUE(client_->healthy());
}

net::awaitable<void> incr_once(RedisClient* client, std::atomic<int>* ok, std::atomic<int>* busy) {
    auto result = co_await client->incr("counter");
    if (result) {
        ++*ok;
    } else if (result.error().code == core::ErrorCode::kOverloaded) {
        ++*busy;
    }
}

TEST_F(RedisClientTest, ConcurrentCommandsShareTheBoundedPool) {
    auto client = make_client(/*max_connections=*/3);
    std::atomic<int> ok{0};
    std::atomic<int> busy{0};
    constexpr int kCommands = 200;
    for (int command_idx = 0; command_idx < kCommands; ++command_idx) {
        net::co_spawn(io_, incr_once(client.get(), &ok, &busy), net::detached);
    }
    std::thread helper([this] { io_.run_for(20s); });
    io_.run_for(20s);
    helper.join();
    // Commands beyond the three connections queue for one instead of failing.
    EXPECT_EQ(ok.load(), kCommands);
    EXPECT_EQ(busy.load(), 0);
    EXPECT_LE(client->stats().open_connections, 3u);
    const auto counter = run(client->command({"GET", "counter"}));
    ASSERT_TRUE(counter.has_value());
    EXPECT_EQ(counter->str, std::to_string(ok.load()));
}

}  // namespace
}  // namespace ragd::cache
