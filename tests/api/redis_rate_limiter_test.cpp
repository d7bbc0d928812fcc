// The Redis-shared rate limiter against a real redis-server on an ephemeral loopback port: two
// limiters with their own clients play two replicas. Buckets refill on Redis' clock, so the
// limits here refill slowly enough (0.001 request/s) that elapsed test time cannot matter, or
// the test awaits the condition it needs with a deadline.
#include "api/redis_rate_limiter.hpp"

#include <chrono>
#include <future>
#include <map>
#include <optional>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>
#include <stdlib.h>

#include "api/auth.hpp"
#include "api/rate_limit_store.hpp"
#include "cache/redis_client.hpp"
#include "core/config_loader.hpp"
#include "core/hash.hpp"
#include "redis_server.hpp"

namespace ragd::api {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using cache::testing::RedisServer;

constexpr auto kWait = 10s;  // bound on any awaited condition

core::ApiKeyConfig key_config(std::string name, double rps, double burst) {
    core::ApiKeyConfig key;
    key.sha256 = core::sha256_hex("ragd_" + name + "_secret");
    key.name = std::move(name);
    key.scopes = {"query"};
    key.requests_per_second = rps;
    key.burst = burst;
    return key;
}

class RedisRateLimiterTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (RedisServer::binary().empty()) {
            GTEST_SKIP() << "redis-server is not installed (scripts/install-deps.sh --test)";
        }
        ASSERT_TRUE(server_.start()) << server_.error();
        io_thread_ = std::thread([this] { io_.run(); });
    }

    void TearDown() override {
        limiters_.clear();
        clients_.clear();  // before the io_context, as RedisClient requires
        work_.reset();
        if (io_thread_.joinable()) {
            io_thread_.join();
        }
    }

    /// Keys as [[auth.keys]] would configure them.
    void use_keys(std::vector<core::ApiKeyConfig> keys) {
        auto store = ApiKeyStore::from_config(keys);
        ASSERT_TRUE(store.has_value()) << store.error().detail;
        store_ = std::move(*store);
    }
    const ApiKey& key(const std::string& name) const {
        const ApiKey* found = store_.find("ragd_" + name + "_secret");
        EXPECT_NE(found, nullptr) << name;
        return *found;
    }

    std::shared_ptr<cache::RedisClient> client(std::chrono::milliseconds timeout = 2000ms) {
        cache::RedisOptions options;
        options.url = server_.url();
        options.command_timeout = timeout;
        options.connect_timeout = timeout;
        options.down_backoff = 100ms;
        auto created = cache::RedisClient::create(io_.get_executor(), options);
        EXPECT_TRUE(created.has_value());
        clients_.push_back(std::move(*created));
        return clients_.back();
    }

    /// One replica: its own client and limiter.
    RedisRateLimiter& replica(std::chrono::milliseconds timeout = 2000ms) {
        RedisRateLimiterOptions options;
        options.timeout = timeout;
        limiters_.push_back(std::make_unique<RedisRateLimiter>(
            client(timeout), io_.get_executor(), store_, options, RateClock::now()));
        return *limiters_.back();
    }

    template <class T>
    T await(net::awaitable<T> task) {
        auto future = net::co_spawn(io_, std::move(task), net::use_future);
        if (future.wait_for(kWait) != std::future_status::ready) {
            throw std::runtime_error("coroutine did not finish in time");
        }
        return future.get();
    }

    RateDecision admit(RedisRateLimiter& limiter, const std::string& name, bool uses_tokens) {
        return await(limiter.admit_async(key(name), uses_tokens, RateClock::now()));
    }

    /// Redis' view of a bucket key (an integer reply).
    std::int64_t redis_integer(std::vector<std::string> argv) {
        auto reply = await(clients_.front()->command(std::move(argv)));
        EXPECT_TRUE(reply.has_value()) << reply.error().detail;
        return reply ? reply->integer : -1;
    }

    net::io_context io_;
    std::optional<net::executor_work_guard<net::io_context::executor_type>> work_{
        io_.get_executor()};
    std::thread io_thread_;
    RedisServer server_;
    ApiKeyStore store_;
    std::vector<std::shared_ptr<cache::RedisClient>> clients_;
    std::vector<std::unique_ptr<RedisRateLimiter>> limiters_;
};

TEST_F(RedisRateLimiterTest, TwoReplicasShareOneBurst) {
    use_keys({key_config("acme", 0.001, 5), key_config("globex", 0.001, 1)});
    RedisRateLimiter& first = replica();
    RedisRateLimiter& second = replica();
    for (int request_idx = 0; request_idx < 5; ++request_idx) {
        RedisRateLimiter& limiter = request_idx % 2 == 0 ? first : second;
        const RateDecision decision = admit(limiter, "acme", false);
        ASSERT_TRUE(decision.allowed) << request_idx;
        EXPECT_TRUE(decision.limited);
        EXPECT_EQ(decision.limit, 5u);
        EXPECT_EQ(decision.remaining, static_cast<std::size_t>(4 - request_idx));
    }
    for (RedisRateLimiter* limiter : {&second, &first}) {
        const RateDecision refused = admit(*limiter, "acme", false);
        EXPECT_FALSE(refused.allowed);
        EXPECT_EQ(refused.exceeded, "requests_per_second");
        EXPECT_EQ(refused.retry_after, 1000s);  // one request at 0.001/s
        EXPECT_EQ(refused.remaining, 0u);
        EXPECT_EQ(refused.reset, 5000s);  // five at 0.001/s
    }
    // Another key has its own bucket.
    EXPECT_TRUE(admit(second, "globex", false).allowed);
    EXPECT_FALSE(admit(first, "globex", false).allowed);
    EXPECT_EQ(first.counts().shared_decisions.load(), 5u);
    EXPECT_EQ(first.counts().local_decisions.load(), 0u);
    EXPECT_EQ(first.counts().redis_errors.load(), 0u);
}

TEST_F(RedisRateLimiterTest, DecisionsMatchTheLocalLimiter) {
    use_keys({key_config("acme", 0.001, 3)});
    RedisRateLimiter& shared = replica();
    LocalRateLimiter local(store_, RateClock::now());
    for (int request_idx = 0; request_idx < 5; ++request_idx) {
        const RateDecision want = local.admit(key("acme"), false, RateClock::now());
        const RateDecision got = admit(shared, "acme", false);
        EXPECT_EQ(got.allowed, want.allowed) << request_idx;
        EXPECT_EQ(got.limited, want.limited) << request_idx;
        EXPECT_EQ(got.limit, want.limit) << request_idx;
        EXPECT_EQ(got.remaining, want.remaining) << request_idx;
        EXPECT_EQ(got.reset, want.reset) << request_idx;
        EXPECT_EQ(got.retry_after, want.retry_after) << request_idx;
        EXPECT_EQ(got.exceeded, want.exceeded) << request_idx;
    }
}

TEST_F(RedisRateLimiterTest, TokenBudgetsAreShared) {
    auto minute = key_config("minute", 0, 0);
    minute.tokens_per_minute = 600;  // 10 tokens/s
    auto day = key_config("day", 0, 0);
    day.daily_tokens = 86400;  // 1 token/s
    use_keys({minute, day});
    RedisRateLimiter& first = replica();
    RedisRateLimiter& second = replica();

    EXPECT_TRUE(admit(first, "minute", true).allowed);
    await(first.charge_tokens_async(key("minute"), 700, RateClock::now()));  // 100 in debt
    const RateDecision refused = admit(second, "minute", true);
    EXPECT_FALSE(refused.allowed);
    EXPECT_EQ(refused.exceeded, "tokens_per_minute");
    EXPECT_GE(refused.retry_after, 10s);  // 101 tokens at 10/s, less what refilled meanwhile
    EXPECT_LE(refused.retry_after, 11s);
    EXPECT_FALSE(refused.limited);                        // no request limit: no headers
    EXPECT_TRUE(admit(second, "minute", false).allowed);  // searches cost no tokens

    // The synchronous charge goes to Redis in the background: await its effect.
    second.charge_tokens(key("day"), 86400, RateClock::now());
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    RateDecision day_refused = admit(first, "day", true);
    while (day_refused.allowed && std::chrono::steady_clock::now() < deadline) {
        day_refused = admit(first, "day", true);
    }
    EXPECT_FALSE(day_refused.allowed);
    EXPECT_EQ(day_refused.exceeded, "daily_tokens");
    EXPECT_EQ(day_refused.retry_after, 1s);
}

TEST_F(RedisRateLimiterTest, IdleBucketsExpire) {
    use_keys({key_config("slow", 0.001, 2), key_config("fast", 100, 1)});
    RedisRateLimiter& limiter = replica();
    ASSERT_TRUE(admit(limiter, "slow", false).allowed);
    const std::int64_t slow_ttl = redis_integer({"PTTL", "ragd:rl:{slow}:req"});
    EXPECT_GT(slow_ttl, 990'000);  // until one token has refilled (1000 s), plus a second
    EXPECT_LE(slow_ttl, 1'001'000);
    ASSERT_TRUE(admit(limiter, "fast", false).allowed);
    // Full again after 10 ms: the key goes about a second later.
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while (redis_integer({"EXISTS", "ragd:rl:{fast}:req"}) != 0 &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(20ms);  // polling Redis' own expiry
    }
    EXPECT_EQ(redis_integer({"EXISTS", "ragd:rl:{fast}:req"}), 0);
}

TEST_F(RedisRateLimiterTest, RedisDownFallsBackToLocalLimitsThenSharesAgain) {
    use_keys({key_config("acme", 0.001, 3),
              key_config("idle", 0.001, 2),
              key_config("later", 0.001, 2)});
    RedisRateLimiter& first = replica(200ms);
    RedisRateLimiter& second = replica(200ms);
    for (int request_idx = 0; request_idx < 3; ++request_idx) {
        ASSERT_TRUE(admit(first, "acme", false).allowed) << request_idx;
    }
    server_.stop();
    // The key this replica spent stays refused: its local buckets shadowed the shared ones.
    const RateDecision refused = admit(first, "acme", false);
    EXPECT_FALSE(refused.allowed);
    EXPECT_EQ(refused.exceeded, "requests_per_second");
    EXPECT_GE(first.counts().local_decisions.load(), 1u);
    EXPECT_GE(first.counts().redis_errors.load(), 1u);
    // Never no limit: an untouched key gets its local burst, then 429.
    EXPECT_TRUE(admit(second, "idle", false).allowed);
    EXPECT_TRUE(admit(second, "idle", false).allowed);
    const RateDecision idle_refused = admit(second, "idle", false);
    EXPECT_FALSE(idle_refused.allowed);
    EXPECT_EQ(idle_refused.retry_after, 1000s);
    // The synchronous path falls back too.
    EXPECT_FALSE(first.admit(key("acme"), false, RateClock::now()).allowed);

    ASSERT_TRUE(server_.start()) << server_.error();
    // Await the reconnect (after the clients' 100 ms back-off): a decision made in Redis.
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    const auto before = second.counts().shared_decisions.load();
    while (second.counts().shared_decisions.load() == before &&
           std::chrono::steady_clock::now() < deadline) {
        admit(second, "idle", false);
        std::this_thread::sleep_for(5ms);  // polling the condition, not guessing its time
    }
    ASSERT_GT(second.counts().shared_decisions.load(), before);
    // Shared again: "later" (untouched so far) admits two in total across both replicas.
    while (first.counts().shared_decisions.load() < 4 &&
           std::chrono::steady_clock::now() < deadline) {
        admit(first, "idle", false);  // until the first replica has reconnected too
        std::this_thread::sleep_for(5ms);
    }
    EXPECT_TRUE(admit(first, "later", false).allowed);
    EXPECT_TRUE(admit(second, "later", false).allowed);
    EXPECT_FALSE(admit(first, "later", false).allowed);
    EXPECT_FALSE(admit(second, "later", false).allowed);
}

TEST_F(RedisRateLimiterTest, AStalledRedisCostsOneTimeoutThenLocalDecisions) {
    use_keys({key_config("acme", 0.001, 2)});
    RedisRateLimiter& limiter = replica(50ms);
    ASSERT_TRUE(admit(limiter, "acme", false).allowed);  // connected
    server_.pause();
    const auto started = std::chrono::steady_clock::now();
    EXPECT_TRUE(admit(limiter, "acme", false).allowed);  // the local shadow has one left
    EXPECT_FALSE(admit(limiter, "acme", false).allowed);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
    EXPECT_GE(limiter.counts().local_decisions.load(), 2u);
    server_.resume();
}

TEST_F(RedisRateLimiterTest, SynchronousAdmitWaitsOffTheIoThreadOnly) {
    use_keys({key_config("acme", 0.001, 3)});
    RedisRateLimiter& limiter = replica();
    // This thread does not run the io_context: admit() waits for Redis.
    EXPECT_TRUE(limiter.admit(key("acme"), false, RateClock::now()).allowed);
    EXPECT_EQ(limiter.counts().shared_decisions.load(), 1u);
    // On the I/O thread it must not wait for I/O that thread would have to run.
    std::promise<RateDecision> on_io;
    net::post(io_, [&] { on_io.set_value(limiter.admit(key("acme"), false, RateClock::now())); });
    auto future = on_io.get_future();
    ASSERT_EQ(future.wait_for(kWait), std::future_status::ready);
    EXPECT_TRUE(future.get().allowed);
    EXPECT_EQ(limiter.counts().local_decisions.load(), 1u);
    EXPECT_EQ(limiter.counts().shared_decisions.load(), 1u);
}

TEST_F(RedisRateLimiterTest, NoLimitsNeedNoRoundTrip) {
    use_keys({key_config("free", 0, 0)});
    RedisRateLimiter& limiter = replica();
    const RateDecision decision = admit(limiter, "free", true);
    EXPECT_TRUE(decision.allowed);
    EXPECT_FALSE(decision.limited);
    EXPECT_EQ(limiter.counts().shared_decisions.load() + limiter.counts().local_decisions.load(),
              0u);
}

TEST_F(RedisRateLimiterTest, AuthenticatorsOfTwoReplicasShareTheLimit) {
    core::Config config;
    config.auth.keys = {key_config("acme", 0.001, 2)};
    config.auth.rate_limit_store = "redis";
    config.auth.redis_timeout = 2000ms;
    config.cache.redis_url = server_.url();
    auto store = make_rate_limit_store(config, io_.get_executor());
    ASSERT_TRUE(store.has_value()) << store.error().detail;
    ASSERT_TRUE(store->redis && store->counts && store->factory);
    clients_.push_back(store->redis);
    const auto first = make_authenticator(config, store->factory);
    const auto second = make_authenticator(config, store->factory);
    http::Request request;
    request.headers = {{"Authorization", "Bearer ragd_acme_secret"}};
    const Protection route{Scope::kQuery, "default", false};
    EXPECT_FALSE(await(first->admit_async(request, route)).rejection.has_value());
    EXPECT_FALSE(await(second->admit_async(request, route)).rejection.has_value());
    const Admission refused = await(first->admit_async(request, route));
    ASSERT_TRUE(refused.rejection.has_value());
    EXPECT_EQ(refused.rejection->status, 429);
    bool retry_after = false;
    for (const auto& header : refused.rejection->headers) {
        retry_after = retry_after || (header.name == "Retry-After" && header.value == "1000");
    }
    EXPECT_TRUE(retry_after);
    EXPECT_EQ(store->counts->shared_decisions.load(), 3u);
    const auto families = rate_limit_families(*store);
    ASSERT_EQ(families.size(), 2u);
    EXPECT_EQ(families[0].samples[0].value, 3.0);  // store="redis"
}

TEST(RateLimitStore, LocalByDefaultAndBadUrlsFail) {
    core::Config config;
    net::io_context io;
    auto local = make_rate_limit_store(config, io.get_executor());
    ASSERT_TRUE(local.has_value());
    EXPECT_FALSE(local->redis);
    EXPECT_FALSE(local->factory);
    EXPECT_TRUE(rate_limit_families(*local).empty());
    config.auth.rate_limit_store = "redis";
    config.auth.redis_url = "http://not-redis";
    auto bad = make_rate_limit_store(config, io.get_executor());
    ASSERT_FALSE(bad.has_value());
    EXPECT_NE(bad.error().detail.find("auth.rate_limit_store"), std::string::npos);
}

TEST(RateLimitStore, TlsSettingsGoWithTheUrlTheyAreFor) {
    core::Config config;
    config.auth.rate_limit_store = "redis";
    config.auth.redis_timeout = 75ms;
    config.cache.redis_url = "rediss://cache.internal";
    config.cache.redis_ca_file = "/etc/ragd/cache-ca.pem";
    config.cache.redis_tls_verify = false;
    // Sharing the cache's Redis: the cache's TLS settings.
    auto shared = rate_limit_redis_options(config);
    EXPECT_EQ(shared.url, "rediss://cache.internal");
    EXPECT_EQ(shared.tls_ca_file, "/etc/ragd/cache-ca.pem");
    EXPECT_FALSE(shared.tls_verify);
    EXPECT_EQ(shared.command_timeout, 75ms);
    EXPECT_EQ(shared.connect_timeout, 75ms);  // the TLS handshake included
    // A Redis of its own: its own TLS settings, none of the cache's.
    config.auth.redis_url = "rediss://limits.internal";
    auto own = rate_limit_redis_options(config);
    EXPECT_EQ(own.url, "rediss://limits.internal");
    EXPECT_EQ(own.tls_ca_file, "");
    EXPECT_TRUE(own.tls_verify);
    config.auth.redis_ca_file = "/etc/ragd/limits-ca.pem";
    EXPECT_EQ(rate_limit_redis_options(config).tls_ca_file, "/etc/ragd/limits-ca.pem");

    // A CA file that cannot be read fails at startup, naming it.
    config.auth.redis_ca_file = "/nonexistent/limits-ca.pem";
    net::io_context io;
    auto bad = make_rate_limit_store(config, io.get_executor());
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error().code, core::ErrorCode::kInvalidArgument);
    EXPECT_NE(bad.error().detail.find("/nonexistent/limits-ca.pem"), std::string::npos)
        << bad.error().detail;
}

TEST(RateLimitConfig, StoreKeysLoadFromTheEnvironmentAndAreChecked) {
    ::setenv("RAGD_AUTH_RATE_LIMIT_STORE", "redis", 1);
    ::setenv("RAGD_AUTH_REDIS_URL", "redis://limits.internal:6380", 1);
    ::setenv("RAGD_AUTH_REDIS_TIMEOUT_MS", "75", 1);
    auto loaded = core::load_config(core::ConfigSources{});
    ::unsetenv("RAGD_AUTH_RATE_LIMIT_STORE");
    ::unsetenv("RAGD_AUTH_REDIS_URL");
    ::unsetenv("RAGD_AUTH_REDIS_TIMEOUT_MS");
    ASSERT_TRUE(loaded.has_value()) << loaded.error().detail;
    EXPECT_EQ(loaded->auth.rate_limit_store, "redis");
    EXPECT_EQ(loaded->auth.redis_url, "redis://limits.internal:6380");
    EXPECT_EQ(loaded->auth.redis_timeout, 75ms);
    EXPECT_EQ(core::Config{}.auth.rate_limit_store, "local");

    const auto problem = [](std::map<std::string, std::string> overrides) {
        core::ConfigSources sources;
        sources.use_environment = false;
        sources.overrides = std::move(overrides);
        auto config = core::load_config(sources);
        return config ? std::string("<valid>") : config.error().detail;
    };
    EXPECT_NE(problem({{"auth.rate_limit_store", "memcached"}}).find("auth.rate_limit_store"),
              std::string::npos);
    EXPECT_NE(problem({{"auth.rate_limit_store", "redis"}}).find("nor cache.redis_url"),
              std::string::npos);
    EXPECT_EQ(problem({{"auth.rate_limit_store", "redis"}, {"cache.redis_url", "redis://h"}}),
              "<valid>");
    EXPECT_NE(problem({{"auth.redis_timeout_ms", "0"}}).find("auth.redis_timeout_ms"),
              std::string::npos);
}

}  // namespace
}  // namespace ragd::api
