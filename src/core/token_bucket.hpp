// A token bucket: the one rate-limiting primitive behind ragd's client-side LLM quotas and its
// per-API-key rate limits. Time is a parameter, so tests move it by hand.
#pragma once

#include <chrono>
#include <mutex>

namespace ragd::core {

/// Holds up to `burst` tokens and refills continuously at `rate_per_second`. The level may go
/// negative (debt) when an estimate is corrected upwards afterwards; debt is repaid by refill
/// before anything else fits.
///
/// A take of more than `burst` tokens could never fit, so it is admitted when the bucket is full
/// and leaves the bucket in debt: oversized requests are slowed down, not starved.
///
/// Thread-safety: every member may be called concurrently; a small mutex guards the level, no
/// member allocates. `now` values from different threads may arrive slightly out of order: a
/// `now` earlier than one already seen refills nothing.
class TokenBucket {
public:
    using Clock = std::chrono::steady_clock;

    /// `rate_per_second` >= 0 (0: never refills), `burst` > 0 (values below are clamped to the
    /// smallest positive double). The bucket starts full at `now`.
    TokenBucket(double rate_per_second, double burst, Clock::time_point now = Clock::now());

    /// Takes `n` tokens when at least min(n, burst) are available; otherwise takes nothing.
    bool try_take(double n, Clock::time_point now = Clock::now());

    /// How long until try_take(n) would succeed if nothing else happened: zero when it would
    /// succeed now, nanoseconds::max() when it never will (rate 0). For Retry-After and queuing.
    std::chrono::nanoseconds time_until(double n, Clock::time_point now = Clock::now()) const;

    /// Returns `n` tokens taken earlier (an estimate that turned out too high, a request that was
    /// never sent). The level never exceeds `burst`.
    void give_back(double n, Clock::time_point now = Clock::now());

    /// Adds `delta` tokens (negative: takes them unconditionally, possibly into debt).
    void adjust(double delta, Clock::time_point now = Clock::now());

    /// Tokens available at `now` (negative while in debt).
    double available(Clock::time_point now = Clock::now()) const;

    double rate_per_second() const { return rate_per_second_; }
    double burst() const { return burst_; }

private:
    /// Brings level_ up to `now`; the caller holds mutex_.
    void refill(Clock::time_point now) const;

    const double rate_per_second_;
    const double burst_;
    mutable std::mutex mutex_;
    mutable double level_;                // guarded by mutex_
    mutable Clock::time_point refilled_;  // guarded by mutex_: the instant level_ describes
};

}  // namespace ragd::core
