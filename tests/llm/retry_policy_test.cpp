// RetryPolicy classification, backoff bounds and decisions; Retry-After parsing in every form;
// RetryBudget exhaustion and recovery with hand-moved time.
#include "llm/retry_policy.hpp"

#include <chrono>
#include <optional>
#include <string>

#include <gtest/gtest.h>

namespace ragd::llm {
namespace {

using namespace std::chrono_literals;
using Kind = AttemptOutcome::Kind;
using Verdict = RetryDecision::Verdict;
using std::chrono::milliseconds;

AttemptOutcome status(int http_status) {
    AttemptOutcome outcome;
    outcome.kind = Kind::kHttpStatus;
    outcome.http_status = http_status;
    return outcome;
}

AttemptOutcome of_kind(Kind kind) {
    AttemptOutcome outcome;
    outcome.kind = kind;
    return outcome;
}

RetryPolicy fixed_random(double unit, RetryOptions options = {}) {
    return RetryPolicy(options, [unit] { return unit; });
}

TEST(RetryPolicy, ClassificationTable) {
    struct Row {
        AttemptOutcome outcome;
        bool retryable;
    };
    const Row rows[] = {
        {of_kind(Kind::kConnectError), true},
        {of_kind(Kind::kConnectTimeout), true},
        {of_kind(Kind::kConnectionReset), true},
        {of_kind(Kind::kTimeout), false},
        {of_kind(Kind::kCancelled), false},
        {status(429), true},
        {status(500), true},
        {status(502), true},
        {status(503), true},
        {status(504), true},
        {status(529), true},
        {status(400), false},
        {status(401), false},
        {status(403), false},
        {status(404), false},
        {status(408), false},
        {status(422), false},
        {status(501), false},
    };
    for (const auto& row : rows) {
        EXPECT_EQ(RetryPolicy::is_retryable(row.outcome), row.retryable)
            << "kind " << static_cast<int>(row.outcome.kind) << " status "
            << row.outcome.http_status;
    }
}

TEST(RetryPolicy, NothingIsRetriedAfterTheFirstTokenReachedTheClient) {
    for (auto outcome : {of_kind(Kind::kConnectionReset), status(503), status(429)}) {
        outcome.streamed_to_client = true;
        EXPECT_FALSE(RetryPolicy::is_retryable(outcome));
        EXPECT_EQ(fixed_random(0.5).decide(outcome, 1).verdict, Verdict::kNotRetryable);
    }
}

TEST(RetryPolicy, BackoffIsFullJitterUnderAnExponentialCap) {
    // unit just below 1: the cap itself (truncated to whole milliseconds).
    const auto high = fixed_random(0.99999);
    EXPECT_EQ(high.backoff(1), 99ms);
    EXPECT_EQ(high.backoff(2), 199ms);
    EXPECT_EQ(high.backoff(3), 399ms);
    EXPECT_EQ(high.backoff(5), 1599ms);
    EXPECT_EQ(high.backoff(6), 1999ms);  // 3200 capped at max_delay 2 s
    EXPECT_EQ(high.backoff(1000), 1999ms);
    EXPECT_EQ(fixed_random(0.0).backoff(4), 0ms);
    EXPECT_EQ(fixed_random(0.5).backoff(3), 200ms);
}

TEST(RetryPolicy, DefaultRandomStaysWithinBoundsAndVaries) {
    const RetryPolicy policy;
    milliseconds lowest = 10s;
    milliseconds highest = 0ms;
    for (int sample_idx = 0; sample_idx < 2000; ++sample_idx) {
        const auto delay = policy.backoff(2);
        ASSERT_GE(delay, 0ms);
        ASSERT_LE(delay, 200ms);
        lowest = std::min(lowest, delay);
        highest = std::max(highest, delay);
    }
    // 2000 uniform draws over [0, 200]: both ends are approached (fails with odds ~ 1e-17).
    EXPECT_LT(lowest, 20ms);
    EXPECT_GT(highest, 180ms);
}

TEST(RetryPolicy, DecideStopsAfterMaxAttempts) {
    const auto policy = fixed_random(0.5);
    const auto outcome = status(503);
    const auto first = policy.decide(outcome, 1);
    EXPECT_TRUE(first.retry());
    EXPECT_EQ(first.delay, 50ms);
    EXPECT_EQ(policy.decide(outcome, 2).delay, 100ms);
    EXPECT_EQ(policy.decide(outcome, 3).verdict, Verdict::kAttemptsExhausted);
    EXPECT_EQ(policy.decide(status(404), 1).verdict, Verdict::kNotRetryable);
}

TEST(RetryPolicy, DecideHonoursRetryAfterUpToTheCap) {
    const auto policy = fixed_random(0.5);
    auto outcome = status(429);
    outcome.retry_after = 3s;
    const auto decision = policy.decide(outcome, 1);
    EXPECT_TRUE(decision.retry());
    EXPECT_EQ(decision.delay, 3s);  // the server's value, not the backoff

    outcome.retry_after = 0ms;
    EXPECT_EQ(policy.decide(outcome, 1).delay, 0ms);

    outcome.retry_after = 10s;
    EXPECT_TRUE(policy.decide(outcome, 1).retry());
    outcome.retry_after = 10001ms;
    const auto too_long = policy.decide(outcome, 1);
    EXPECT_EQ(too_long.verdict, Verdict::kRetryAfterTooLong);
    EXPECT_FALSE(too_long.retry());
    EXPECT_STREQ(retry_verdict_name(too_long.verdict), "retry_after_too_long");
}

TEST(RetryPolicy, DecideGivesUpWhenTheWaitReachesTheDeadline) {
    const auto policy = fixed_random(0.5);
    auto outcome = status(503);
    EXPECT_TRUE(policy.decide(outcome, 1, 51ms).retry());
    EXPECT_EQ(policy.decide(outcome, 1, 50ms).verdict, Verdict::kDeadline);
    outcome.retry_after = 2s;
    EXPECT_EQ(policy.decide(outcome, 1, 1s).verdict, Verdict::kDeadline);
}

TEST(RetryPolicy, MaxAttemptsOneDisablesRetries) {
    RetryOptions options;
    options.max_attempts = 1;
    EXPECT_EQ(fixed_random(0.5, options).decide(of_kind(Kind::kConnectError), 1).verdict,
              Verdict::kAttemptsExhausted);
}

// 2015-10-21T07:28:00Z as a system_clock time point.
const std::chrono::system_clock::time_point kDate =
    std::chrono::sys_days(std::chrono::year(2015) / 10 / 21) + 7h + 28min;

TEST(RetryAfter, ParsesDelaySeconds) {
    EXPECT_EQ(parse_retry_after("120", kDate), 120s);
    EXPECT_EQ(parse_retry_after(" 5 ", kDate), 5s);
    EXPECT_EQ(parse_retry_after("0", kDate), 0ms);
    EXPECT_EQ(parse_retry_after("1.5", kDate), 1500ms);
    EXPECT_EQ(parse_retry_after("99999999999999", kDate), 24h);  // clamped, no overflow
    EXPECT_EQ(parse_retry_after("", kDate), std::nullopt);
    EXPECT_EQ(parse_retry_after("-1", kDate), std::nullopt);
    EXPECT_EQ(parse_retry_after("5s", kDate), std::nullopt);
    EXPECT_EQ(parse_retry_after("soon", kDate), std::nullopt);
}

TEST(RetryAfter, ParsesAllThreeHttpDateForms) {
    EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", kDate), 30s);
    EXPECT_EQ(parse_retry_after("Wednesday, 21-Oct-15 07:29:00 GMT", kDate), 60s);
    EXPECT_EQ(parse_retry_after("Wed Oct 21 07:28:05 2015", kDate), 5s);
    EXPECT_EQ(parse_retry_after("Sun Nov  6 08:49:37 1994", kDate), 0ms);  // past: retry now
    EXPECT_EQ(parse_retry_after("wed, 21 oct 2015 08:28:00 GMT", kDate), 1h);
}

TEST(RetryAfter, RejectsMalformedDates) {
    for (const char* value : {
             "Wed, 21 Oct 2015 07:28:30 UTC",  // HTTP-dates are GMT
             "Wed, 31 Feb 2015 07:28:30 GMT",  // no such day
             "Wed, 21 Foo 2015 07:28:30 GMT",
             "Wed, 21 Oct 2015 25:28:30 GMT",
             "Wed, 21 Oct 2015 07:28 GMT",
             "Wed, 21 Oct 2015 07:28:30 GMT extra",
             "21 Oct 2015 07:28:30 GMT",
             "Wed,",
         }) {
        EXPECT_EQ(parse_retry_after(value, kDate), std::nullopt) << value;
    }
}

TEST(RetryAfter, MillisecondsHeaderWinsWhenValid) {
    EXPECT_EQ(parse_retry_after_ms("250"), 250ms);
    EXPECT_EQ(parse_retry_after_ms("0.4"), 1ms);  // rounded up: never earlier than asked
    EXPECT_EQ(parse_retry_after_ms("x"), std::nullopt);
    EXPECT_EQ(server_retry_delay("250", "7", kDate), 250ms);
    EXPECT_EQ(server_retry_delay("junk", "7", kDate), 7s);
    EXPECT_EQ(server_retry_delay("", "Wed, 21 Oct 2015 07:28:02 GMT", kDate), 2s);
    EXPECT_EQ(server_retry_delay("", "", kDate), std::nullopt);
}

using BudgetClock = RetryBudget::Clock;
const BudgetClock::time_point kT0 = BudgetClock::time_point{} + 1h;

int count_retries(RetryBudget& budget, BudgetClock::time_point now, int attempts) {
    int allowed = 0;
    for (int attempt_idx = 0; attempt_idx < attempts; ++attempt_idx) {
        allowed += budget.try_acquire_retry(now) ? 1 : 0;
    }
    return allowed;
}

TEST(RetryBudget, QuietUpstreamGetsTheMinimumRate) {
    RetryBudget budget;  // 0.2 of requests + 2/s over 10 s
    EXPECT_EQ(count_retries(budget, kT0, 100), 20);
}

TEST(RetryBudget, ExhaustsUnderAnOutageAndScalesWithTraffic) {
    RetryBudget budget;
    for (int request_idx = 0; request_idx < 500; ++request_idx) {
        budget.record_request(kT0);
    }
    // 0.2 * 500 + 2 * 10 = 120 retries, however many requests fail.
    EXPECT_EQ(count_retries(budget, kT0, 500), 120);
    EXPECT_FALSE(budget.try_acquire_retry(kT0 + 5s));
}

TEST(RetryBudget, RecoversWhenTheWindowMovesOn) {
    RetryBudget budget;
    ASSERT_EQ(count_retries(budget, kT0, 100), 20);
    EXPECT_FALSE(budget.try_acquire_retry(kT0 + 9s));
    EXPECT_EQ(count_retries(budget, kT0 + 10s, 100), 20);
}

TEST(RetryBudget, RatioAndMinimumAreConfigurable) {
    RetryBudgetOptions options;
    options.budget_ratio = 0.5;
    options.min_retries_per_second = 0;
    RetryBudget budget(options);
    EXPECT_FALSE(budget.try_acquire_retry(kT0));
    for (int request_idx = 0; request_idx < 10; ++request_idx) {
        budget.record_request(kT0);
    }
    EXPECT_EQ(count_retries(budget, kT0, 100), 5);
}

}  // namespace
}  // namespace ragd::llm
