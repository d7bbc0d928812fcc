// QuotaLimiter with hand-moved time: per-minute request and token limits, waits, settlement of
// estimates against reported usage, and cancellation.
#include "llm/quota_limiter.hpp"

#include <chrono>
#include <utility>

#include <gtest/gtest.h>

namespace ragd::llm {
namespace {

using namespace std::chrono_literals;
using Clock = QuotaLimiter::Clock;

const Clock::time_point kT0 = Clock::time_point{} + 1h;

/// Waits are rounded up to whole nanoseconds from floating-point refill rates.
void expect_wait(std::chrono::nanoseconds actual, std::chrono::nanoseconds expected) {
    EXPECT_GE(actual, expected);
    EXPECT_LE(actual, expected + 1us);
}

QuotaOptions limits(double requests_per_minute, double tokens_per_minute) {
    QuotaOptions options;
    options.requests_per_minute = requests_per_minute;
    options.tokens_per_minute = tokens_per_minute;
    return options;
}

TEST(QuotaLimiter, ZeroMeansUnlimited) {
    QuotaLimiter limiter({}, kT0);
    EXPECT_TRUE(limiter.unlimited());
    for (int request_idx = 0; request_idx < 10'000; ++request_idx) {
        auto reservation = limiter.reserve(1'000'000, kT0);
        ASSERT_TRUE(reservation.granted());
        reservation.settle(5, kT0);
    }
}

TEST(QuotaLimiter, RequestsPerMinute) {
    QuotaLimiter limiter(limits(60, 0), kT0);
    for (int request_idx = 0; request_idx < 60; ++request_idx) {
        ASSERT_TRUE(limiter.reserve(100, kT0)) << request_idx;
    }
    const auto refused = limiter.reserve(100, kT0);
    EXPECT_FALSE(refused.granted());
    expect_wait(refused.wait(), 1s);  // one request per second refills
    EXPECT_FALSE(limiter.reserve(100, kT0 + 999ms));
    EXPECT_TRUE(limiter.reserve(100, kT0 + 1s));
}

TEST(QuotaLimiter, TokensPerMinuteWaitsForTheEstimate) {
    QuotaLimiter limiter(limits(0, 6000), kT0);  // 100 tokens per second
    auto first = limiter.reserve(5000, kT0);
    ASSERT_TRUE(first);
    EXPECT_EQ(first.estimated_tokens(), 5000u);
    const auto refused = limiter.reserve(3000, kT0);
    ASSERT_FALSE(refused);
    expect_wait(refused.wait(), 20s);  // 2000 missing at 100/s
    EXPECT_TRUE(limiter.reserve(1000, kT0)) << "a smaller request still fits";
}

TEST(QuotaLimiter, SettlingReturnsOverestimatedTokens) {
    QuotaLimiter limiter(limits(0, 6000), kT0);
    auto reservation = limiter.reserve(5000, kT0);
    ASSERT_TRUE(reservation);
    EXPECT_FALSE(limiter.reserve(3000, kT0));
    reservation.settle(1000, kT0);  // used 1000 of the 5000 estimated
    EXPECT_TRUE(limiter.reserve(3000, kT0));
}

TEST(QuotaLimiter, SettlingAboveTheEstimateLeavesDebt) {
    QuotaLimiter limiter(limits(0, 6000), kT0);
    auto reservation = limiter.reserve(1000, kT0);
    reservation.settle(9000, kT0);  // 8000 more than estimated: level 6000 - 9000 = -3000
    const auto refused = limiter.reserve(100, kT0);
    ASSERT_FALSE(refused);
    expect_wait(refused.wait(), 31s);  // 3100 tokens at 100/s
    reservation.settle(0, kT0);        // only the first settlement counts
    EXPECT_FALSE(limiter.reserve(100, kT0));
}

TEST(QuotaLimiter, RefusedReservationTakesNothing) {
    QuotaLimiter limiter(limits(2, 600), kT0);
    ASSERT_TRUE(limiter.reserve(500, kT0));
    // Refused for tokens: must not consume the last request slot.
    ASSERT_FALSE(limiter.reserve(500, kT0));
    ASSERT_FALSE(limiter.reserve(500, kT0));
    EXPECT_TRUE(limiter.reserve(100, kT0));
    const auto refused = limiter.reserve(1, kT0);
    ASSERT_FALSE(refused);
    expect_wait(refused.wait(), 30s);  // requests: 2/min; the later of the two buckets wins
}

TEST(QuotaLimiter, CancelGivesBackTheRequestAndItsTokens) {
    QuotaLimiter limiter(limits(1, 600), kT0);
    auto reservation = limiter.reserve(600, kT0);
    ASSERT_TRUE(reservation);
    EXPECT_FALSE(limiter.reserve(1, kT0));
    reservation.cancel(kT0);  // never reached the upstream
    EXPECT_TRUE(limiter.reserve(600, kT0));
}

TEST(QuotaLimiter, OversizedRequestIsAdmittedWhenTheBucketIsFull) {
    QuotaLimiter limiter(limits(0, 600), kT0);
    auto huge = limiter.reserve(1200, kT0);  // two minutes' worth
    ASSERT_TRUE(huge);
    const auto next = limiter.reserve(1, kT0);
    ASSERT_FALSE(next);
    expect_wait(next.wait(), 60s + 100ms);  // repay 600 of debt, then one token, at 10/s
}

TEST(QuotaLimiter, MovedReservationSettlesOnce) {
    QuotaLimiter limiter(limits(0, 600), kT0);
    auto reservation = limiter.reserve(600, kT0);
    auto moved = std::move(reservation);
    reservation.settle(0, kT0);  // moved-from: does nothing
    EXPECT_FALSE(limiter.reserve(1, kT0));
    moved.settle(0, kT0);
    EXPECT_TRUE(limiter.reserve(600, kT0));
}

}  // namespace
}  // namespace ragd::llm
