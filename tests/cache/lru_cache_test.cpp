#include "cache/lru_cache.hpp"

#include <atomic>
#include <chrono>
#include <iostream>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "fake_clock.hpp"

namespace ragd::cache {
namespace {

using std::chrono::milliseconds;
using testing::FakeClock;

constexpr milliseconds kHour{3600 * 1000};

std::size_t entry_bytes(std::size_t key, std::size_t value) {
    return key + value + LruCache::kEntryOverheadBytes;
}

TEST(LruCache, GetReturnsWhatPutStored) {
    LruCache cache;
    EXPECT_EQ(cache.get("k"), nullptr);
    EXPECT_TRUE(cache.put("k", std::string("v1"), kHour));
    ASSERT_NE(cache.get("k"), nullptr);
    EXPECT_EQ(*cache.get("k"), "v1");
    EXPECT_TRUE(cache.put("k", std::string("v2"), kHour));
    EXPECT_EQ(*cache.get("k"), "v2");
    const LruStats stats = cache.stats();
    EXPECT_EQ(stats.entries, 1u);
    EXPECT_EQ(stats.bytes, entry_bytes(1, 2));
    EXPECT_EQ(stats.hits, 3u);
    EXPECT_EQ(stats.misses, 1u);
}

TEST(LruCache, ExpiredEntriesAreNotReturned) {
    FakeClock clock;
    LruCache cache({}, clock.now_fn());
    cache.put("short", std::string("a"), milliseconds(100));
    cache.put("long", std::string("b"), milliseconds(1000));
    clock.advance(milliseconds(99));
    EXPECT_NE(cache.get("short"), nullptr);
    clock.advance(milliseconds(1));
    EXPECT_EQ(cache.get("short"), nullptr);
    EXPECT_NE(cache.get("long"), nullptr);
    const LruStats stats = cache.stats();
    EXPECT_EQ(stats.expirations, 1u);
    EXPECT_EQ(stats.entries, 1u);
}

TEST(LruCache, RefusesZeroTtlAndOversizedEntriesAndDropsTheOldValue) {
    LruCache cache(LruCacheOptions{.max_bytes = 1000, .shards = 1});
    cache.put("k", std::string("old"), kHour);
    EXPECT_FALSE(cache.put("k", std::string("new"), milliseconds(0)));
    EXPECT_EQ(cache.get("k"), nullptr);
    EXPECT_FALSE(cache.put("big", std::string(1000, 'x'), kHour));
    EXPECT_EQ(cache.stats().entries, 0u);
    EXPECT_EQ(cache.stats().bytes, 0u);
}

TEST(LruCache, EvictsLeastRecentlyUsedToStayWithinBudget) {
    // Room for exactly three entries of key 2 + value 100 bytes.
    const std::size_t one = entry_bytes(2, 100);
    LruCache cache(LruCacheOptions{.max_bytes = 3 * one, .shards = 1});
    const std::string value(100, 'v');
    cache.put("k1", value, kHour);
    cache.put("k2", value, kHour);
    cache.put("k3", value, kHour);
    ASSERT_NE(cache.get("k1"), nullptr);  // k1 is now the most recent; k2 the least
    cache.put("k4", value, kHour);
    EXPECT_EQ(cache.get("k2"), nullptr);
    EXPECT_NE(cache.get("k1"), nullptr);
    EXPECT_NE(cache.get("k3"), nullptr);
    EXPECT_NE(cache.get("k4"), nullptr);
    const LruStats stats = cache.stats();
    EXPECT_EQ(stats.evictions, 1u);
    EXPECT_EQ(stats.entries, 3u);
    EXPECT_LE(stats.bytes, 3 * one);
}

TEST(LruCache, GrowingAValueEvictsOthers) {
    const std::size_t one = entry_bytes(2, 100);
    LruCache cache(LruCacheOptions{.max_bytes = 3 * one, .shards = 1});
    cache.put("k1", std::string(100, 'a'), kHour);
    cache.put("k2", std::string(100, 'b'), kHour);
    cache.put("k3", std::string(100, 'c'), kHour);
    cache.put("k3", std::string(250, 'c'), kHour);
    EXPECT_EQ(cache.get("k1"), nullptr);
    EXPECT_NE(cache.get("k3"), nullptr);
    EXPECT_LE(cache.stats().bytes, 3 * one);
}

TEST(LruCache, EraseAndClear) {
    LruCache cache;
    cache.put("a", std::string("1"), kHour);
    cache.put("b", std::string("2"), kHour);
    EXPECT_TRUE(cache.erase("a"));
    EXPECT_FALSE(cache.erase("a"));
    EXPECT_EQ(cache.get("a"), nullptr);
    cache.clear();
    EXPECT_EQ(cache.get("b"), nullptr);
    EXPECT_EQ(cache.stats().entries, 0u);
    EXPECT_EQ(cache.stats().bytes, 0u);
}

TEST(LruCache, BudgetIsSplitAcrossShards) {
    LruCache cache(LruCacheOptions{.max_bytes = 64 * 1024, .shards = 16});
    for (int key_idx = 0; key_idx < 10000; ++key_idx) {
        cache.put("key-" + std::to_string(key_idx), std::string(100, 'x'), kHour);
    }
    const LruStats stats = cache.stats();
    EXPECT_LE(stats.bytes, 64u * 1024);
    EXPECT_GT(stats.entries, 100u);
    EXPECT_EQ(stats.entries + stats.evictions, 10000u);
}

TEST(LruCache, ConcurrentReadersAndWritersKeepCountsConsistent) {
    LruCache cache(LruCacheOptions{.max_bytes = 256 * 1024, .shards = 16});
    constexpr int kThreads = 4;
    constexpr int kOps = 20000;
    std::atomic<std::uint64_t> gets{0};
    std::atomic<bool> wrong_value{false};
    std::vector<std::thread> threads;
    for (int thread_idx = 0; thread_idx < kThreads; ++thread_idx) {
        threads.emplace_back([&, thread_idx] {
            std::mt19937 random(static_cast<unsigned>(thread_idx));
            std::uniform_int_distribution<int> pick(0, 999);
            for (int op_idx = 0; op_idx < kOps; ++op_idx) {
                const std::string key = "key-" + std::to_string(pick(random));
                if (op_idx % 4 == 0) {
                    cache.put(key, "value-of-" + key, kHour);
                } else {
                    ++gets;
                    if (auto value = cache.get(key); value && *value != "value-of-" + key) {
                        wrong_value = true;
                    }
                }
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    EXPECT_FALSE(wrong_value);
    const LruStats stats = cache.stats();
    EXPECT_EQ(stats.hits + stats.misses, gets.load());
    EXPECT_LE(stats.bytes, 256u * 1024);
}

TEST(LruCache, HitCostsAboutAMicrosecond) {
    LruCache cache;
    const std::string key(64, 'k');  // a hex SHA-256, as the answer cache uses
    cache.put(key, std::string(4096, 'v'), kHour);
    constexpr int kHits = 200000;
    const auto start = std::chrono::steady_clock::now();
    std::size_t total = 0;
    for (int hit_idx = 0; hit_idx < kHits; ++hit_idx) {
        total += cache.get(key)->size();
    }
    const auto elapsed = std::chrono::steady_clock::now() - start;
    const double ns_per_hit =
        std::chrono::duration<double, std::nano>(elapsed).count() / static_cast<double>(kHits);
    std::cout << "L1 hit: " << ns_per_hit << " ns\n";
    EXPECT_EQ(total, static_cast<std::size_t>(kHits) * 4096);
    // Generous bound so sanitizer builds and a busy machine pass; Release is ~0.1 µs.
    EXPECT_LT(ns_per_hit, 5000.0);
}

}  // namespace
}  // namespace ragd::cache
