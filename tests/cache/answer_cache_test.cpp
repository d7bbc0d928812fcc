#include "cache/answer_cache.hpp"

#include <cmath>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "fake_clock.hpp"
#include "run_awaitable.hpp"

namespace ragd::cache {
namespace {

namespace net = boost::asio;
using std::chrono::milliseconds;
using testing::FakeClock;
using testing::run_awaitable;

std::vector<float> vector_at(double cosine) {
    std::vector<float> out(16, 0.0f);
    const double angle = std::acos(cosine);
    out[0] = static_cast<float>(std::cos(angle));
    out[1] = static_cast<float>(std::sin(angle));
    return out;
}

KeyParams params() {
    KeyParams p;
    p.collection = "docs";
    p.generation = 1;
    p.top_k = 5;
    return p;
}

TEST(AnswerCache, StoresAndHitsInL1) {
    net::io_context io;
    auto cache = AnswerCache::create({}, io.get_executor());
    ASSERT_TRUE(cache.has_value());
    const CacheKey key = make_cache_key("How do I create an index?", params());

    CacheLookup miss = run_awaitable(io, (*cache)->lookup(key, std::nullopt));
    EXPECT_FALSE(miss.hit);
    run_awaitable(io, (*cache)->store(key, R"({"answer":"CREATE INDEX"})", std::nullopt));

    const CacheKey same = make_cache_key("how do i create an index", params());
    CacheLookup hit = run_awaitable(io, (*cache)->lookup(same, std::nullopt));
    ASSERT_TRUE(hit.hit);
    EXPECT_EQ(hit.hit->tier, CacheTier::kL1);
    EXPECT_EQ(*hit.hit->value, R"({"answer":"CREATE INDEX"})");
    EXPECT_EQ(hit.hit->similarity, 1.0f);

    const AnswerCacheStats stats = (*cache)->stats();
    EXPECT_EQ(stats.count(CacheTier::kL1, CacheOutcome::kHit), 1u);
    EXPECT_EQ(stats.count(CacheTier::kL1, CacheOutcome::kMiss), 1u);
    EXPECT_EQ(stats.count(CacheTier::kL2, CacheOutcome::kMiss), 0u);  // L2 off: not consulted
    EXPECT_EQ(stats.stores, 1u);
    EXPECT_EQ(stats.l1.entries, 1u);
    EXPECT_FALSE(stats.l2_enabled);
}

TEST(AnswerCache, NewGenerationMissesOldAnswers) {
    net::io_context io;
    auto cache = AnswerCache::create({}, io.get_executor());
    ASSERT_TRUE(cache.has_value());
    KeyParams p = params();
    (*cache)->store_local(make_cache_key("q", p), "old");
    p.generation = 2;
    EXPECT_FALSE((*cache)->lookup_l1(make_cache_key("q", p)));
}

TEST(AnswerCache, EntriesExpireAfterTtl) {
    net::io_context io;
    FakeClock clock;
    AnswerCacheOptions options;
    options.ttl = milliseconds(1000);
    auto cache = AnswerCache::create(options, io.get_executor(), clock.now_fn());
    ASSERT_TRUE(cache.has_value());
    const CacheKey key = make_cache_key("q", params());
    (*cache)->store_local(key, "v");
    clock.advance(milliseconds(999));
    EXPECT_TRUE((*cache)->lookup_l1(key));
    clock.advance(milliseconds(1));
    EXPECT_FALSE((*cache)->lookup_l1(key));
}

TEST(AnswerCache, SemanticTierAnswersParaphrasesWhenEnabled) {
    net::io_context io;
    AnswerCacheOptions options;
    options.semantic_enabled = true;
    auto cache = AnswerCache::create(options, io.get_executor());
    ASSERT_TRUE(cache.has_value());
    const CacheKey stored = make_cache_key("How do I create an index?", params());
    run_awaitable(io, (*cache)->store(stored, "answer", vector_at(1.0)));

    const CacheKey paraphrase = make_cache_key("how can I create indexes", params());
    CacheLookup hit = run_awaitable(io, (*cache)->lookup(paraphrase, vector_at(0.97)));
    ASSERT_TRUE(hit.hit);
    EXPECT_EQ(hit.hit->tier, CacheTier::kSemantic);
    EXPECT_NEAR(hit.hit->similarity, 0.97f, 1e-4);
    EXPECT_EQ(hit.hit->matched_query, "how do i create an index");

    const CacheKey negated = make_cache_key("how do I not create an index", params());
    CacheLookup refused = run_awaitable(io, (*cache)->lookup(negated, vector_at(0.99)));
    EXPECT_FALSE(refused.hit);
    EXPECT_FALSE(refused.semantic_refused_reason.empty());
    EXPECT_NEAR(refused.semantic_best_similarity, 0.99f, 1e-4);

    // Another collection never shares semantic answers.
    KeyParams other = params();
    other.collection = "other";
    EXPECT_FALSE(
        (*cache)
            ->lookup_semantic(make_cache_key("how can I create indexes", other), vector_at(0.97))
            .hit);

    const AnswerCacheStats stats = (*cache)->stats();
    EXPECT_EQ(stats.count(CacheTier::kSemantic, CacheOutcome::kHit), 1u);
    EXPECT_EQ(stats.count(CacheTier::kSemantic, CacheOutcome::kRefused), 1u);
    EXPECT_EQ(stats.count(CacheTier::kSemantic, CacheOutcome::kMiss), 1u);
    EXPECT_EQ(stats.semantic.entries, 1u);
}

TEST(AnswerCache, SemanticTierIsOffByDefault) {
    net::io_context io;
    auto cache = AnswerCache::create({}, io.get_executor());
    ASSERT_TRUE(cache.has_value());
    run_awaitable(
        io,
        (*cache)->store(
            make_cache_key("how do i create an index", params()), "answer", vector_at(1.0)));
    CacheLookup miss = run_awaitable(
        io,
        (*cache)->lookup(make_cache_key("how can i create indexes", params()), vector_at(0.99)));
    EXPECT_FALSE(miss.hit);
}

TEST(AnswerCache, BadRedisUrlIsReportedAtCreation) {
    net::io_context io;
    AnswerCacheOptions options;
    options.redis_url = "http://localhost:6379";
    auto cache = AnswerCache::create(options, io.get_executor());
    ASSERT_FALSE(cache.has_value());
    EXPECT_EQ(cache.error().code, core::ErrorCode::kInvalidArgument);
}

TEST(AnswerCache, L2ValueLayoutRoundTrips) {
    const auto expires =
        std::chrono::system_clock::time_point(std::chrono::milliseconds(1234567890123));
    const std::string payload("bin\0ary\r\n", 9);
    auto decoded = decode_l2_value(encode_l2_value(payload, expires));
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->first, payload);
    EXPECT_EQ(decoded->second, expires);
    EXPECT_FALSE(decode_l2_value("plain json"));
    EXPECT_FALSE(decode_l2_value("R1"));
}

}  // namespace
}  // namespace ragd::cache
