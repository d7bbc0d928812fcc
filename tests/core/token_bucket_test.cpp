// TokenBucket with hand-moved time: refill, burst cap, oversized takes, debt and corrections.
#include "core/token_bucket.hpp"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace ragd::core {
namespace {

using namespace std::chrono_literals;
using Clock = TokenBucket::Clock;

const Clock::time_point kT0 = Clock::time_point{} + 1h;

TEST(TokenBucket, StartsFullAndRefusesWhenEmpty) {
    TokenBucket bucket(10, 5, kT0);
    for (int take_idx = 0; take_idx < 5; ++take_idx) {
        EXPECT_TRUE(bucket.try_take(1, kT0)) << take_idx;
    }
    EXPECT_FALSE(bucket.try_take(1, kT0));
    EXPECT_DOUBLE_EQ(bucket.available(kT0), 0);
}

TEST(TokenBucket, RefillsAtRateUpToBurst) {
    TokenBucket bucket(10, 5, kT0);
    ASSERT_TRUE(bucket.try_take(5, kT0));
    EXPECT_FALSE(bucket.try_take(1, kT0 + 99ms));
    EXPECT_TRUE(bucket.try_take(1, kT0 + 100ms));
    EXPECT_DOUBLE_EQ(bucket.available(kT0 + 10s), 5);  // capped at burst
}

TEST(TokenBucket, TimeUntilSaysWhenTokensFit) {
    TokenBucket bucket(2, 4, kT0);
    ASSERT_TRUE(bucket.try_take(4, kT0));
    EXPECT_EQ(bucket.time_until(1, kT0), 500ms);
    EXPECT_EQ(bucket.time_until(3, kT0), 1500ms);
    EXPECT_EQ(bucket.time_until(3, kT0 + 1s), 500ms);
    EXPECT_EQ(bucket.time_until(1, kT0 + 1s), 0ns);
    // Waiting exactly the advertised time is enough, despite floating-point refill.
    TokenBucket odd(1.0 / 60, 7, kT0);
    ASSERT_TRUE(odd.try_take(7, kT0));
    const auto wait = odd.time_until(3, kT0);
    EXPECT_FALSE(odd.try_take(3, kT0 + wait - 1ms));
    EXPECT_TRUE(odd.try_take(3, kT0 + wait));
}

TEST(TokenBucket, OversizedTakeWaitsForAFullBucketAndLeavesDebt) {
    TokenBucket bucket(1, 10, kT0);
    ASSERT_TRUE(bucket.try_take(1, kT0));
    EXPECT_FALSE(bucket.try_take(25, kT0));     // not full
    EXPECT_EQ(bucket.time_until(25, kT0), 1s);  // until full, not until 25
    EXPECT_TRUE(bucket.try_take(25, kT0 + 1s));
    EXPECT_DOUBLE_EQ(bucket.available(kT0 + 1s), -15);
    EXPECT_EQ(bucket.time_until(1, kT0 + 1s), 16s);
}

TEST(TokenBucket, GiveBackAndAdjustCorrectEstimates) {
    TokenBucket bucket(1, 10, kT0);
    ASSERT_TRUE(bucket.try_take(8, kT0));
    bucket.give_back(3, kT0);
    EXPECT_DOUBLE_EQ(bucket.available(kT0), 5);
    bucket.give_back(100, kT0);
    EXPECT_DOUBLE_EQ(bucket.available(kT0), 10);  // never above burst
    bucket.adjust(-14, kT0);                      // usage was higher than estimated
    EXPECT_DOUBLE_EQ(bucket.available(kT0), -4);
    EXPECT_FALSE(bucket.try_take(1, kT0 + 4s));
    EXPECT_TRUE(bucket.try_take(1, kT0 + 5s));
    bucket.adjust(2, kT0 + 5s);
    EXPECT_DOUBLE_EQ(bucket.available(kT0 + 5s), 2);
}

TEST(TokenBucket, ZeroRateNeverRefills) {
    TokenBucket bucket(0, 2, kT0);
    ASSERT_TRUE(bucket.try_take(2, kT0));
    EXPECT_FALSE(bucket.try_take(1, kT0 + 1000h));
    EXPECT_EQ(bucket.time_until(1, kT0), std::chrono::nanoseconds::max());
}

TEST(TokenBucket, EarlierTimeRefillsNothing) {
    TokenBucket bucket(1, 10, kT0);
    ASSERT_TRUE(bucket.try_take(10, kT0 + 5s));
    EXPECT_FALSE(bucket.try_take(1, kT0));  // a racing thread's older `now`
    EXPECT_DOUBLE_EQ(bucket.available(kT0 + 5s), 0);
    EXPECT_TRUE(bucket.try_take(1, kT0 + 6s));
}

TEST(TokenBucket, ConcurrentTakesNeverOverdraw) {
    TokenBucket bucket(0, 1000, kT0);
    std::atomic<int> taken{0};
    std::vector<std::thread> threads;
    for (int thread_idx = 0; thread_idx < 4; ++thread_idx) {
        threads.emplace_back([&] {
            for (int take_idx = 0; take_idx < 500; ++take_idx) {
                if (bucket.try_take(1, kT0)) {
                    ++taken;
                }
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    EXPECT_EQ(taken.load(), 1000);
}

}  // namespace
}  // namespace ragd::core
