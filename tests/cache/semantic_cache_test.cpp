#include "cache/semantic_cache.hpp"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "fake_clock.hpp"

namespace ragd::cache {
namespace {

using std::chrono::milliseconds;
using testing::FakeClock;

constexpr milliseconds kHour{3600 * 1000};
constexpr std::size_t kDims = 48;  // not a multiple of the 32-lane block: exercises the tail

/// A unit vector whose cosine with vector_at(0) is `cosine` (and with vector_at(c2)
/// cos(acos(cosine) - acos(c2))): the first two dimensions carry an angle.
std::vector<float> vector_at(double cosine) {
    std::vector<float> out(kDims, 0.0f);
    const double angle = std::acos(cosine);
    out[0] = static_cast<float>(std::cos(angle));
    out[1] = static_cast<float>(std::sin(angle));
    return out;
}

CachedValue value(std::string text) {
    return std::make_shared<const std::string>(std::move(text));
}

class SemanticCacheTest : public ::testing::Test {
protected:
    FakeClock clock_;
    SemanticCache cache_{SemanticCacheOptions{}, clock_.now_fn()};
};

TEST_F(SemanticCacheTest, ParaphraseWithSameContentWordsHits) {
    ASSERT_TRUE(cache_.store(
        "scope", 1, "how do i create an index", vector_at(1.0), value("answer"), kHour));
    const SemanticLookup found =
        cache_.lookup("scope", 1, "how can i create indexes", vector_at(0.97));
    ASSERT_TRUE(found.hit);
    EXPECT_EQ(*found.hit->value, "answer");
    EXPECT_NEAR(found.hit->similarity, 0.97f, 1e-4);
    EXPECT_EQ(found.hit->matched_query, "how do i create an index");
}

TEST_F(SemanticCacheTest, BelowThresholdMissesAndReportsSimilarity) {
    cache_.store("scope", 1, "how do i create an index", vector_at(1.0), value("answer"), kHour);
    const SemanticLookup found =
        cache_.lookup("scope", 1, "how can i create indexes", vector_at(0.90));
    EXPECT_FALSE(found.hit);
    EXPECT_NEAR(found.best_similarity, 0.90f, 1e-4);
    EXPECT_TRUE(found.refused_reason.empty());
}

TEST_F(SemanticCacheTest, TrailingPunctuationOnlyHits) {
    cache_.store("scope", 1, "how do i create an index", vector_at(1.0), value("answer"), kHour);
    EXPECT_TRUE(cache_.lookup("scope", 1, "how do i create an index?", vector_at(0.999)).hit);
}

TEST_F(SemanticCacheTest, GuardRefusesCloseButDifferentQuestions) {
    cache_.store("scope", 1, "can x be used with y", vector_at(1.0), value("yes"), kHour);
    SemanticLookup found = cache_.lookup("scope", 1, "can x not be used with y", vector_at(0.99));
    EXPECT_FALSE(found.hit);
    EXPECT_NE(found.refused_reason.find("negations"), std::string::npos);

    cache_.store("scope", 1, "postgres 15 replication", vector_at(1.0), value("15"), kHour);
    found = cache_.lookup("scope", 1, "postgres 16 replication", vector_at(0.99));
    EXPECT_FALSE(found.hit);
    EXPECT_NE(found.refused_reason.find("numbers"), std::string::npos);

    cache_.store("scope", 1, "how to create index", vector_at(1.0), value("create"), kHour);
    found = cache_.lookup("scope", 1, "how to drop index", vector_at(0.99));
    EXPECT_FALSE(found.hit);
    EXPECT_FALSE(found.refused_reason.empty());
}

TEST_F(SemanticCacheTest, FallsBackToAFartherCandidateTheGuardAccepts) {
    cache_.store("scope", 1, "can x not be used with y", vector_at(0.995), value("no"), kHour);
    cache_.store("scope", 1, "can x be used with y", vector_at(0.96), value("yes"), kHour);
    const SemanticLookup found =
        cache_.lookup("scope", 1, "could x be used with y", vector_at(1.0));
    ASSERT_TRUE(found.hit);
    EXPECT_EQ(*found.hit->value, "yes");
    EXPECT_NEAR(found.best_similarity, 0.995f, 1e-4);
}

TEST_F(SemanticCacheTest, OtherScopeOrGenerationNeverMatches) {
    cache_.store("scope", 1, "how do i create an index", vector_at(1.0), value("v1"), kHour);
    EXPECT_FALSE(cache_.lookup("other", 1, "how do i create an index", vector_at(1.0)).hit);
    EXPECT_FALSE(cache_.lookup("scope", 2, "how do i create an index", vector_at(1.0)).hit);
    // A newer generation replaces the scope's entries; an older store is dropped.
    EXPECT_TRUE(
        cache_.store("scope", 2, "how do i drop an index", vector_at(0.5), value("v2"), kHour));
    EXPECT_FALSE(cache_.lookup("scope", 1, "how do i create an index", vector_at(1.0)).hit);
    EXPECT_FALSE(
        cache_.store("scope", 1, "how do i create an index", vector_at(1.0), value("old"), kHour));
    EXPECT_EQ(cache_.stats().entries, 1u);
}

TEST_F(SemanticCacheTest, ExpiredEntriesDoNotMatch) {
    cache_.store(
        "scope", 1, "how do i create an index", vector_at(1.0), value("a"), milliseconds(50));
    clock_.advance(milliseconds(50));
    const SemanticLookup found =
        cache_.lookup("scope", 1, "how do i create an index", vector_at(1.0));
    EXPECT_FALSE(found.hit);
    EXPECT_EQ(found.best_similarity, 0.0f);
}

TEST_F(SemanticCacheTest, RejectsMismatchedDimensionsAndZeroVectors) {
    cache_.store("scope", 1, "how do i create an index", vector_at(1.0), value("a"), kHour);
    const std::vector<float> short_vector(8, 0.5f);
    EXPECT_FALSE(cache_.store("scope", 1, "other question", short_vector, value("b"), kHour));
    EXPECT_FALSE(cache_.lookup("scope", 1, "how do i create an index", short_vector).hit);
    const std::vector<float> zero(kDims, 0.0f);
    EXPECT_FALSE(cache_.store("scope", 1, "zero", zero, value("c"), kHour));
    EXPECT_FALSE(cache_.lookup("scope", 1, "how do i create an index", zero).hit);
}

TEST_F(SemanticCacheTest, NormalizesStoredVectors) {
    std::vector<float> scaled = vector_at(1.0);
    for (float& component : scaled) {
        component *= 3.0f;
    }
    cache_.store("scope", 1, "how do i create an index", scaled, value("a"), kHour);
    const SemanticLookup found =
        cache_.lookup("scope", 1, "how do i create an index", vector_at(0.98));
    ASSERT_TRUE(found.hit);
    EXPECT_NEAR(found.hit->similarity, 0.98f, 1e-4);
}

TEST(SemanticCache, FullScopeOverwritesOldestAndSameQueryReplaces) {
    SemanticCache cache(SemanticCacheOptions{.max_entries_per_scope = 2});
    cache.store("s", 1, "alpha", vector_at(1.0), value("a"), kHour);
    cache.store("s", 1, "beta", vector_at(0.0), value("b"), kHour);
    cache.store("s", 1, "alpha", vector_at(1.0), value("a2"), kHour);  // replaces in place
    EXPECT_EQ(cache.stats().entries, 2u);
    EXPECT_EQ(*cache.lookup("s", 1, "alpha", vector_at(1.0)).hit->value, "a2");
    cache.store("s", 1, "gamma", vector_at(-1.0), value("c"), kHour);  // overwrites alpha
    EXPECT_EQ(cache.stats().entries, 2u);
    EXPECT_FALSE(cache.lookup("s", 1, "alpha", vector_at(1.0)).hit);
    EXPECT_TRUE(cache.lookup("s", 1, "beta", vector_at(0.0)).hit);
    EXPECT_TRUE(cache.lookup("s", 1, "gamma", vector_at(-1.0)).hit);
}

TEST(SemanticCache, LeastRecentlyUsedScopeIsDropped) {
    FakeClock clock;
    SemanticCache cache(SemanticCacheOptions{.max_scopes = 2}, clock.now_fn());
    cache.store("a", 1, "q", vector_at(1.0), value("a"), kHour);
    clock.advance(milliseconds(1));
    cache.store("b", 1, "q", vector_at(1.0), value("b"), kHour);
    clock.advance(milliseconds(1));
    EXPECT_TRUE(cache.lookup("a", 1, "q", vector_at(1.0)).hit);  // "b" is now the coldest
    clock.advance(milliseconds(1));
    cache.store("c", 1, "q", vector_at(1.0), value("c"), kHour);
    EXPECT_EQ(cache.stats().scopes, 2u);
    EXPECT_TRUE(cache.lookup("a", 1, "q", vector_at(1.0)).hit);
    EXPECT_FALSE(cache.lookup("b", 1, "q", vector_at(1.0)).hit);
    EXPECT_TRUE(cache.lookup("c", 1, "q", vector_at(1.0)).hit);
}

TEST(DotProduct, MatchesAScalarSum) {
    std::vector<float> a(100);
    std::vector<float> b(100);
    double expected = 0;
    for (std::size_t dim = 0; dim < a.size(); ++dim) {
        a[dim] = static_cast<float>(dim) * 0.01f;
        b[dim] = 1.0f - static_cast<float>(dim) * 0.005f;
        expected += static_cast<double>(a[dim]) * b[dim];
    }
    EXPECT_NEAR(dot_product(a.data(), b.data(), a.size()), expected, 1e-3);
}

}  // namespace
}  // namespace ragd::cache
