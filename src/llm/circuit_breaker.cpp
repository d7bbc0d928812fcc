// State machine and sliding-window counts of the circuit breaker. The window is a fixed ring of
// time buckets rather than a log of calls: constant memory, no allocation per call, at the cost of
// window/10 granularity at its trailing edge.
#include "llm/circuit_breaker.hpp"

#include <algorithm>
#include <utility>

namespace ragd::llm {

CircuitBreaker::Permit::Permit(Permit&& other) noexcept
    : breaker_(std::exchange(other.breaker_, nullptr)),
      epoch_(other.epoch_),
      allowed_(other.allowed_),
      probe_(other.probe_),
      retry_after_(other.retry_after_) {}

CircuitBreaker::Permit& CircuitBreaker::Permit::operator=(Permit&& other) noexcept {
    if (this != &other) {
        Permit abandoned(std::move(*this));  // completes our current permit, if any
        breaker_ = std::exchange(other.breaker_, nullptr);
        epoch_ = other.epoch_;
        allowed_ = other.allowed_;
        probe_ = other.probe_;
        retry_after_ = other.retry_after_;
    }
    return *this;
}

CircuitBreaker::Permit::~Permit() {
    // A non-probe abandoned in any state changes nothing, so it need not take the lock.
    if (breaker_ != nullptr && probe_) {
        breaker_->complete(epoch_, probe_, Outcome::kAbandoned, Clock::now());
    }
}

void CircuitBreaker::Permit::record_success(Clock::time_point now) {
    if (auto* breaker = std::exchange(breaker_, nullptr)) {
        breaker->complete(epoch_, probe_, Outcome::kSuccess, now);
    }
}

void CircuitBreaker::Permit::record_failure(Clock::time_point now) {
    if (auto* breaker = std::exchange(breaker_, nullptr)) {
        breaker->complete(epoch_, probe_, Outcome::kFailure, now);
    }
}

CircuitBreaker::CircuitBreaker(CircuitBreakerOptions options, Listener listener)
    : options_([&] {
          options.half_open_probes = std::max<std::size_t>(1, options.half_open_probes);
          options.close_after_successes = std::max<std::size_t>(1, options.close_after_successes);
          return options;
      }()),
      listener_(std::move(listener)),
      bucket_width_(std::max(
          std::chrono::nanoseconds(1),
          std::chrono::nanoseconds(options_.window) / static_cast<std::int64_t>(kWindowBuckets))) {}

CircuitBreaker::Permit CircuitBreaker::try_acquire(Clock::time_point now) {
    const std::lock_guard lock(mutex_);
    if (state_ == State::kOpen) {
        const auto reopens = opened_at_ + options_.open_duration;
        if (now < reopens) {
            Permit rejected;
            rejected.retry_after_ = reopens - now;
            return rejected;
        }
        transition(State::kHalfOpen, now);
    }
    if (state_ == State::kHalfOpen) {
        if (probes_in_flight_ >= options_.half_open_probes) {
            return Permit{};
        }
        ++probes_in_flight_;
        return Permit(this, epoch_, true);
    }
    return Permit(this, epoch_, false);
}

CircuitBreaker::State CircuitBreaker::state(Clock::time_point now) const {
    const std::lock_guard lock(mutex_);
    if (state_ == State::kOpen && now >= opened_at_ + options_.open_duration) {
        return State::kHalfOpen;
    }
    return state_;
}

void CircuitBreaker::complete(std::uint64_t epoch,
                              bool probe,
                              Outcome outcome,
                              Clock::time_point now) {
    const std::lock_guard lock(mutex_);
    if (epoch != epoch_) {
        return;  // issued before the last state change: says nothing about the current state
    }
    if (state_ == State::kHalfOpen) {
        if (!probe) {
            return;  // cannot happen (the epoch changed on entering half-open); be safe anyway
        }
        --probes_in_flight_;
        if (outcome == Outcome::kFailure) {
            transition(State::kOpen, now);
        } else if (outcome == Outcome::kSuccess &&
                   ++probe_successes_ >= options_.close_after_successes) {
            transition(State::kClosed, now);
        }
        return;
    }
    if (state_ != State::kClosed || outcome == Outcome::kAbandoned) {
        return;
    }

    const std::int64_t index = bucket_index(now);
    auto& bucket = window_[static_cast<std::size_t>(index) % kWindowBuckets];
    if (bucket.index < index) {
        bucket = WindowBucket{index, 0, 0};
    }
    const bool counted = bucket.index == index;  // false for a `now` older than the window ring
    if (outcome == Outcome::kSuccess) {
        consecutive_failures_ = 0;
        if (counted) {
            ++bucket.successes;
        }
        return;
    }
    ++consecutive_failures_;
    if (counted) {
        ++bucket.failures;
    }
    if (should_trip(now)) {
        transition(State::kOpen, now);
    }
}

bool CircuitBreaker::should_trip(Clock::time_point now) const {
    if (options_.consecutive_failures > 0 &&
        consecutive_failures_ >= options_.consecutive_failures) {
        return true;
    }
    if (options_.failure_ratio <= 0) {
        return false;
    }
    const std::int64_t newest = bucket_index(now);
    std::size_t calls = 0;
    std::size_t failures = 0;
    for (const auto& bucket : window_) {
        if (bucket.index > newest - static_cast<std::int64_t>(kWindowBuckets) &&
            bucket.index <= newest) {
            calls += bucket.successes + bucket.failures;
            failures += bucket.failures;
        }
    }
    return calls > 0 && calls >= options_.min_calls &&
           static_cast<double>(failures) >= options_.failure_ratio * static_cast<double>(calls);
}

void CircuitBreaker::transition(State to, Clock::time_point now) {
    const State from = state_;
    state_ = to;
    ++epoch_;
    probes_in_flight_ = 0;
    probe_successes_ = 0;
    consecutive_failures_ = 0;
    if (to == State::kOpen) {
        opened_at_ = now;
    }
    if (to == State::kClosed) {
        window_.fill(WindowBucket{});  // a healed upstream starts with a clean record
    }
    if (listener_) {
        listener_(from, to);
    }
}

std::int64_t CircuitBreaker::bucket_index(Clock::time_point now) const {
    // Clamped at 0 so the ring index stays non-negative for any time point a test invents.
    return std::max<std::int64_t>(0, now.time_since_epoch() / bucket_width_);
}

const char* circuit_state_name(CircuitBreaker::State state) {
    switch (state) {
        case CircuitBreaker::State::kClosed:
            return "closed";
        case CircuitBreaker::State::kOpen:
            return "open";
        case CircuitBreaker::State::kHalfOpen:
            return "half_open";
    }
    return "unknown";
}

}  // namespace ragd::llm
