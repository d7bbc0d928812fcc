// Continuous refill computed lazily on each call: no timer thread, and a bucket that nobody
// touches costs nothing.
#include "core/token_bucket.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ragd::core {
namespace {

/// Tokens still missing before `need` fits. Refill is floating-point, so a caller who waited
/// exactly time_until() may find the level a few ulps short; that slack counts as available.
double missing_tokens(double level, double need) {
    const double missing = need - level;
    return missing <= 1e-9 * std::max(1.0, std::abs(need)) ? 0.0 : missing;
}

}  // namespace

TokenBucket::TokenBucket(double rate_per_second, double burst, Clock::time_point now)
    : rate_per_second_(std::max(0.0, rate_per_second)),
      burst_(std::max(std::numeric_limits<double>::min(), burst)),
      level_(burst_),
      refilled_(now) {}

void TokenBucket::refill(Clock::time_point now) const {
    if (now <= refilled_) {
        return;
    }
    const double elapsed_s = std::chrono::duration<double>(now - refilled_).count();
    level_ = std::min(burst_, level_ + elapsed_s * rate_per_second_);
    refilled_ = now;
}

bool TokenBucket::try_take(double n, Clock::time_point now) {
    const std::lock_guard lock(mutex_);
    refill(now);
    if (missing_tokens(level_, std::min(n, burst_)) > 0) {
        return false;
    }
    level_ -= n;
    return true;
}

std::chrono::nanoseconds TokenBucket::time_until(double n, Clock::time_point now) const {
    const std::lock_guard lock(mutex_);
    refill(now);
    const double missing = missing_tokens(level_, std::min(n, burst_));
    if (missing <= 0) {
        return std::chrono::nanoseconds::zero();
    }
    if (rate_per_second_ <= 0) {
        return std::chrono::nanoseconds::max();
    }
    const double wait_ns = std::ceil(missing / rate_per_second_ * 1e9);
    // A deep debt at a tiny rate could overflow the 64-bit count; ~292 years is "never" anyway.
    if (wait_ns >= static_cast<double>(std::chrono::nanoseconds::max().count())) {
        return std::chrono::nanoseconds::max();
    }
    return std::chrono::nanoseconds(static_cast<std::chrono::nanoseconds::rep>(wait_ns));
}

void TokenBucket::give_back(double n, Clock::time_point now) {
    adjust(std::max(0.0, n), now);
}

void TokenBucket::adjust(double delta, Clock::time_point now) {
    const std::lock_guard lock(mutex_);
    refill(now);
    level_ = std::min(burst_, level_ + delta);
}

double TokenBucket::available(Clock::time_point now) const {
    const std::lock_guard lock(mutex_);
    refill(now);
    return level_;
}

}  // namespace ragd::core
