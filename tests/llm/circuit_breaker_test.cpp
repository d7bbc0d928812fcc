// CircuitBreaker with hand-moved time: both opening triggers, half-open probing, closing,
// re-opening, abandoned and stale permits, and the state-change listener.
#include "llm/circuit_breaker.hpp"

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace ragd::llm {
namespace {

using namespace std::chrono_literals;
using Clock = CircuitBreaker::Clock;
using State = CircuitBreaker::State;

const Clock::time_point kT0 = Clock::time_point{} + 1h;

/// Records transitions as "from->to" strings.
struct Transitions {
    std::vector<std::string> seen;
    CircuitBreaker::Listener listener() {
        return [this](State from, State to) {
            seen.push_back(std::string(circuit_state_name(from)) + "->" + circuit_state_name(to));
        };
    }
};

void fail_once(CircuitBreaker& breaker, Clock::time_point now) {
    auto permit = breaker.try_acquire(now);
    ASSERT_TRUE(permit.allowed());
    permit.record_failure(now);
}

void succeed_once(CircuitBreaker& breaker, Clock::time_point now) {
    auto permit = breaker.try_acquire(now);
    ASSERT_TRUE(permit.allowed());
    permit.record_success(now);
}

/// Opens a breaker with default options by five failures at kT0.
void trip(CircuitBreaker& breaker) {
    for (int call_idx = 0; call_idx < 5; ++call_idx) {
        fail_once(breaker, kT0);
    }
    ASSERT_EQ(breaker.state(kT0), State::kOpen);
}

TEST(CircuitBreaker, OpensAfterConsecutiveFailures) {
    Transitions transitions;
    CircuitBreaker breaker({}, transitions.listener());
    for (int call_idx = 0; call_idx < 4; ++call_idx) {
        fail_once(breaker, kT0);
    }
    EXPECT_EQ(breaker.state(kT0), State::kClosed);
    fail_once(breaker, kT0 + 1s);
    EXPECT_EQ(breaker.state(kT0 + 1s), State::kOpen);
    EXPECT_EQ(transitions.seen, std::vector<std::string>{"closed->open"});

    const auto rejected = breaker.try_acquire(kT0 + 2s);
    EXPECT_FALSE(rejected.allowed());
    EXPECT_FALSE(rejected);
    EXPECT_EQ(rejected.retry_after(), 4s);  // opened at +1s for 5 s
}

TEST(CircuitBreaker, SuccessResetsTheConsecutiveCount) {
    CircuitBreaker breaker;
    for (int round = 0; round < 3; ++round) {
        for (int call_idx = 0; call_idx < 4; ++call_idx) {
            fail_once(breaker, kT0);
        }
        succeed_once(breaker, kT0);
    }
    EXPECT_EQ(breaker.state(kT0), State::kClosed);
}

TEST(CircuitBreaker, OpensOnFailureRatioOnceMinCallsReached) {
    CircuitBreakerOptions options;
    options.consecutive_failures = 0;  // only the ratio trigger
    CircuitBreaker breaker(options);
    // Alternate failure/success: 50 % failures, never two failures in a row.
    for (int call_idx = 0; call_idx < 19; ++call_idx) {
        const auto now = kT0 + std::chrono::milliseconds(100 * call_idx);
        if (call_idx % 2 == 0) {
            fail_once(breaker, now);
        } else {
            succeed_once(breaker, now);
        }
    }
    EXPECT_EQ(breaker.state(kT0 + 2s), State::kClosed) << "19 calls < min_calls 20";
    fail_once(breaker, kT0 + 2s);  // 20 calls, 11 failures: ratio >= 0.5
    EXPECT_EQ(breaker.state(kT0 + 2s), State::kOpen);
}

TEST(CircuitBreaker, RatioBelowThresholdStaysClosed) {
    CircuitBreakerOptions options;
    options.consecutive_failures = 0;
    CircuitBreaker breaker(options);
    for (int call_idx = 0; call_idx < 100; ++call_idx) {
        // 1 failure in 3: below 0.5.
        if (call_idx % 3 == 0) {
            fail_once(breaker, kT0);
        } else {
            succeed_once(breaker, kT0);
        }
    }
    EXPECT_EQ(breaker.state(kT0), State::kClosed);
}

TEST(CircuitBreaker, OldCallsLeaveTheRatioWindow) {
    CircuitBreakerOptions options;
    options.consecutive_failures = 0;
    options.min_calls = 10;
    CircuitBreaker breaker(options);
    for (int call_idx = 0; call_idx < 9; ++call_idx) {
        fail_once(breaker, kT0);
    }
    // 11 s later the nine failures are outside the 10 s window: one more is 1 call, not 10.
    fail_once(breaker, kT0 + 11s);
    EXPECT_EQ(breaker.state(kT0 + 11s), State::kClosed);
    for (int call_idx = 0; call_idx < 9; ++call_idx) {
        fail_once(breaker, kT0 + 12s);
    }
    EXPECT_EQ(breaker.state(kT0 + 12s), State::kOpen);
}

TEST(CircuitBreaker, HalfOpenAfterOpenDurationAdmitsLimitedProbes) {
    Transitions transitions;
    CircuitBreaker breaker({}, transitions.listener());
    trip(breaker);
    EXPECT_FALSE(breaker.try_acquire(kT0 + 4999ms));
    EXPECT_EQ(breaker.state(kT0 + 5s), State::kHalfOpen);

    auto probe = breaker.try_acquire(kT0 + 5s);
    ASSERT_TRUE(probe.allowed());
    EXPECT_TRUE(probe.probe());
    const auto second = breaker.try_acquire(kT0 + 5s);
    EXPECT_FALSE(second.allowed()) << "half_open_probes is 1";
    EXPECT_EQ(second.retry_after(), 0ns);
    EXPECT_EQ(transitions.seen, (std::vector<std::string>{"closed->open", "open->half_open"}));
}

TEST(CircuitBreaker, ConcurrentProbeLimitIsConfigurable) {
    CircuitBreakerOptions options;
    options.half_open_probes = 3;
    CircuitBreaker breaker(options);
    trip(breaker);
    std::vector<CircuitBreaker::Permit> probes;
    for (int probe_idx = 0; probe_idx < 3; ++probe_idx) {
        probes.push_back(breaker.try_acquire(kT0 + 5s));
        EXPECT_TRUE(probes.back().allowed()) << probe_idx;
    }
    EXPECT_FALSE(breaker.try_acquire(kT0 + 5s).allowed());
}

TEST(CircuitBreaker, ClosesAfterEnoughProbeSuccesses) {
    Transitions transitions;
    CircuitBreaker breaker({}, transitions.listener());
    trip(breaker);
    auto first = breaker.try_acquire(kT0 + 5s);
    ASSERT_TRUE(first.allowed());
    first.record_success(kT0 + 5s);
    EXPECT_EQ(breaker.state(kT0 + 5s), State::kHalfOpen) << "close_after_successes is 2";
    auto second = breaker.try_acquire(kT0 + 5s);  // the slot was freed by the first
    ASSERT_TRUE(second.allowed());
    second.record_success(kT0 + 6s);
    EXPECT_EQ(breaker.state(kT0 + 6s), State::kClosed);
    EXPECT_EQ(transitions.seen,
              (std::vector<std::string>{"closed->open", "open->half_open", "half_open->closed"}));
    // Closed with a clean record: four failures do not re-open it.
    for (int call_idx = 0; call_idx < 4; ++call_idx) {
        fail_once(breaker, kT0 + 7s);
    }
    EXPECT_EQ(breaker.state(kT0 + 7s), State::kClosed);
}

TEST(CircuitBreaker, ProbeFailureReopensForAnotherOpenDuration) {
    Transitions transitions;
    CircuitBreaker breaker({}, transitions.listener());
    trip(breaker);
    auto probe = breaker.try_acquire(kT0 + 6s);
    ASSERT_TRUE(probe.allowed());
    probe.record_failure(kT0 + 7s);
    EXPECT_EQ(breaker.state(kT0 + 7s), State::kOpen);
    const auto rejected = breaker.try_acquire(kT0 + 8s);
    EXPECT_FALSE(rejected.allowed());
    EXPECT_EQ(rejected.retry_after(), 4s);
    EXPECT_EQ(breaker.state(kT0 + 12s), State::kHalfOpen);
    EXPECT_EQ(transitions.seen,
              (std::vector<std::string>{"closed->open", "open->half_open", "half_open->open"}));
}

TEST(CircuitBreaker, AbandonedProbeFreesItsSlotWithoutChangingState) {
    Transitions transitions;
    CircuitBreaker breaker({}, transitions.listener());
    trip(breaker);
    {
        auto probe = breaker.try_acquire(kT0 + 5s);
        ASSERT_TRUE(probe.allowed());
        EXPECT_FALSE(breaker.try_acquire(kT0 + 5s).allowed());
    }  // the client went away
    EXPECT_EQ(breaker.state(kT0 + 5s), State::kHalfOpen);
    auto next = breaker.try_acquire(kT0 + 5s);
    EXPECT_TRUE(next.allowed());
    EXPECT_EQ(transitions.seen, (std::vector<std::string>{"closed->open", "open->half_open"}));
}

TEST(CircuitBreaker, AbandonedCallsAreNotFailures) {
    CircuitBreaker breaker;
    for (int call_idx = 0; call_idx < 4; ++call_idx) {
        fail_once(breaker, kT0);
    }
    for (int call_idx = 0; call_idx < 10; ++call_idx) {
        auto permit = breaker.try_acquire(kT0);
        ASSERT_TRUE(permit.allowed());
    }  // abandoned: neither success nor failure
    EXPECT_EQ(breaker.state(kT0), State::kClosed);
    fail_once(breaker, kT0);  // the fifth failure in a row: abandoned calls did not reset the run
    EXPECT_EQ(breaker.state(kT0), State::kOpen);
}

TEST(CircuitBreaker, ResultsFromBeforeAStateChangeAreIgnored) {
    CircuitBreaker breaker;
    auto slow = breaker.try_acquire(kT0);  // issued while closed
    ASSERT_TRUE(slow.allowed());
    trip(breaker);
    auto probe = breaker.try_acquire(kT0 + 5s);
    ASSERT_TRUE(probe.allowed());
    slow.record_success(kT0 + 5s);  // late; must not count as a probe success
    probe.record_success(kT0 + 5s);
    EXPECT_EQ(breaker.state(kT0 + 5s), State::kHalfOpen) << "only one real probe succeeded";
}

TEST(CircuitBreaker, OnlyTheFirstRecordCountsAndMovesTransferTheDuty) {
    CircuitBreaker breaker;
    trip(breaker);
    auto probe = breaker.try_acquire(kT0 + 5s);
    auto moved = std::move(probe);
    ASSERT_TRUE(moved.allowed());
    moved.record_success(kT0 + 5s);
    moved.record_failure(kT0 + 5s);  // ignored
    EXPECT_EQ(breaker.state(kT0 + 5s), State::kHalfOpen);
    auto second = breaker.try_acquire(kT0 + 5s);
    second.record_success(kT0 + 5s);
    EXPECT_EQ(breaker.state(kT0 + 5s), State::kClosed);
}

}  // namespace
}  // namespace ragd::llm
