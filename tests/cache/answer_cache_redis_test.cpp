#include <chrono>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "cache/answer_cache.hpp"
#include "redis_server.hpp"
#include "run_awaitable.hpp"

namespace ragd::cache {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using testing::RedisServer;
using testing::run_awaitable;

class AnswerCacheL2Test : public ::testing::Test {
protected:
    void SetUp() override {
        if (RedisServer::binary().empty()) {
            GTEST_SKIP() << "redis-server is not installed (scripts/install-deps.sh --test)";
        }
        ASSERT_TRUE(server_.start()) << server_.error();
    }

    std::unique_ptr<AnswerCache> make_cache() {
        AnswerCacheOptions options;
        options.redis_url = server_.url();
        options.redis_prefix = "test:answer:";
        options.redis_command_timeout = 2000ms;  // generous: the machine may be loaded
        options.redis_connect_timeout = 2000ms;
        auto cache = AnswerCache::create(options, io_.get_executor());
        EXPECT_TRUE(cache.has_value());
        return std::move(*cache);
    }

    net::io_context io_;
    RedisServer server_;
    const CacheKey key_ = make_cache_key("What is MVCC?", KeyParams{});
};

TEST_F(AnswerCacheL2Test, ReplicaFindsAnswerInL2AndPromotesItToL1) {
    auto writer = make_cache();
    auto reader = make_cache();  // another replica: its own, empty L1
    run_awaitable(io_, writer->store(key_, R"({"answer":"multi-version"})", std::nullopt));
    EXPECT_EQ(writer->stats().l2_store_errors, 0u);

    CacheLookup first = run_awaitable(io_, reader->lookup(key_, std::nullopt));
    ASSERT_TRUE(first.hit);
    EXPECT_EQ(first.hit->tier, CacheTier::kL2);
    EXPECT_EQ(*first.hit->value, R"({"answer":"multi-version"})");

    CacheLookup second = run_awaitable(io_, reader->lookup(key_, std::nullopt));
    ASSERT_TRUE(second.hit);
    EXPECT_EQ(second.hit->tier, CacheTier::kL1);

    const AnswerCacheStats stats = reader->stats();
    EXPECT_EQ(stats.count(CacheTier::kL1, CacheOutcome::kMiss), 1u);
    EXPECT_EQ(stats.count(CacheTier::kL2, CacheOutcome::kHit), 1u);
    EXPECT_EQ(stats.count(CacheTier::kL1, CacheOutcome::kHit), 1u);
    EXPECT_TRUE(stats.l2_enabled);
    EXPECT_TRUE(stats.l2_healthy);

    // Stored under the prefix, with Redis expiring it too.
    auto pttl = run_awaitable(io_, reader->redis()->command({"PTTL", "test:answer:" + key_.exact}));
    ASSERT_TRUE(pttl.has_value());
    EXPECT_GT(pttl->integer, 0);
}

TEST_F(AnswerCacheL2Test, ForeignValuesInL2AreIgnored) {
    auto cache = make_cache();
    ASSERT_TRUE(
        run_awaitable(io_, cache->redis()->set("test:answer:" + key_.exact, "not ours", 60s))
            .has_value());
    CacheLookup miss = run_awaitable(io_, cache->lookup(key_, std::nullopt));
    EXPECT_FALSE(miss.hit);
    EXPECT_EQ(cache->stats().count(CacheTier::kL2, CacheOutcome::kError), 1u);
}

TEST_F(AnswerCacheL2Test, RedisDownMeansL1OnlyNeverAFailedQuery) {
    auto cache = make_cache();
    run_awaitable(io_, cache->store(key_, "cached", std::nullopt));
    server_.stop();

    CacheLookup hit = run_awaitable(io_, cache->lookup(key_, std::nullopt));
    ASSERT_TRUE(hit.hit);
    EXPECT_EQ(hit.hit->tier, CacheTier::kL1);

    const CacheKey other = make_cache_key("something else", KeyParams{});
    const auto start = std::chrono::steady_clock::now();
    CacheLookup miss = run_awaitable(io_, cache->lookup(other, std::nullopt));
    EXPECT_FALSE(miss.hit);
    run_awaitable(io_, cache->store(other, "fresh", std::nullopt));  // L1 still gets it
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
    EXPECT_TRUE(cache->lookup_l1(other));

    const AnswerCacheStats stats = cache->stats();
    EXPECT_EQ(stats.count(CacheTier::kL2, CacheOutcome::kError), 1u);
    EXPECT_EQ(stats.l2_store_errors, 1u);
    EXPECT_FALSE(stats.l2_healthy);
}

}  // namespace
}  // namespace ragd::cache
