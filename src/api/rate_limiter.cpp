// The in-process limiter. Refusals never consume: a client hammering a spent key does not push
// its own recovery further out.
#include "api/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace ragd::api {
namespace {

constexpr double kSecondsPerDay = 24.0 * 3600.0;

/// Whole seconds, rounded up, at least `floor_s`; "never" (rate 0) is capped at a day.
std::chrono::seconds ceil_seconds(std::chrono::nanoseconds wait, long floor_s) {
    if (wait == std::chrono::nanoseconds::max()) {
        return std::chrono::seconds(static_cast<long>(kSecondsPerDay));
    }
    const auto seconds = std::chrono::ceil<std::chrono::seconds>(wait);
    return std::max(seconds, std::chrono::seconds(floor_s));
}

}  // namespace

boost::asio::awaitable<RateDecision> RateLimiter::admit_async(const ApiKey& key,
                                                              bool uses_tokens,
                                                              RateClock::time_point now) {
    co_return admit(key, uses_tokens, now);
}

boost::asio::awaitable<void> RateLimiter::charge_tokens_async(const ApiKey& key,
                                                              std::size_t tokens,
                                                              RateClock::time_point now) {
    charge_tokens(key, tokens, now);
    co_return;
}

LocalRateLimiter::LocalRateLimiter(const ApiKeyStore& store, RateClock::time_point now) {
    for (const ApiKey& key : store.keys()) {
        Buckets buckets;
        const RateLimits& limits = key.limits;
        if (limits.limits_requests()) {
            buckets.requests =
                std::make_unique<core::TokenBucket>(limits.requests_per_second, limits.burst, now);
        }
        if (limits.tokens_per_minute > 0) {
            buckets.tokens_minute = std::make_unique<core::TokenBucket>(
                limits.tokens_per_minute / 60.0, limits.tokens_per_minute, now);
        }
        if (limits.daily_tokens > 0) {
            buckets.tokens_day = std::make_unique<core::TokenBucket>(
                limits.daily_tokens / kSecondsPerDay, limits.daily_tokens, now);
        }
        buckets_.emplace(key.name, std::move(buckets));
    }
}

const LocalRateLimiter::Buckets* LocalRateLimiter::buckets_for(const ApiKey& key) const {
    const auto found = buckets_.find(key.name);
    return found == buckets_.end() ? nullptr : &found->second;
}

RateDecision LocalRateLimiter::admit(const ApiKey& key,
                                     bool uses_tokens,
                                     RateClock::time_point now) {
    RateDecision decision;
    const Buckets* buckets = buckets_for(key);
    if (buckets == nullptr) {
        return decision;  // not a key of this limiter's store: nothing configured to limit
    }
    core::TokenBucket* requests = buckets->requests.get();
    if (requests != nullptr) {
        decision.limited = true;
        decision.limit = static_cast<std::size_t>(std::floor(requests->burst()));
    }
    if (uses_tokens) {
        // A budget counts as spent while it holds less than one token (it may be in debt after
        // an answer that cost more than was left).
        const std::pair<core::TokenBucket*, const char*> budgets[] = {
            {buckets->tokens_minute.get(), "tokens_per_minute"},
            {buckets->tokens_day.get(), "daily_tokens"},
        };
        for (const auto& [bucket, name] : budgets) {
            if (bucket == nullptr) {
                continue;
            }
            const auto wait = bucket->time_until(1.0, now);
            if (wait > std::chrono::nanoseconds::zero()) {
                decision.allowed = false;
                decision.exceeded = name;
                decision.retry_after = ceil_seconds(wait, 1);
            }
        }
        if (!decision.allowed) {
            if (requests != nullptr) {
                const double level = std::max(0.0, requests->available(now));
                decision.remaining = static_cast<std::size_t>(std::floor(level));
                decision.reset = ceil_seconds(requests->time_until(requests->burst(), now), 0);
            }
            return decision;
        }
    }
    if (requests == nullptr) {
        return decision;
    }
    if (!requests->try_take(1.0, now)) {
        decision.allowed = false;
        decision.exceeded = "requests_per_second";
        decision.retry_after = ceil_seconds(requests->time_until(1.0, now), 1);
    }
    const double level = std::max(0.0, requests->available(now));
    decision.remaining = static_cast<std::size_t>(std::floor(level + 1e-9));
    decision.reset = ceil_seconds(requests->time_until(requests->burst(), now), 0);
    return decision;
}

void LocalRateLimiter::charge_tokens(const ApiKey& key,
                                     std::size_t tokens,
                                     RateClock::time_point now) {
    const Buckets* buckets = buckets_for(key);
    if (buckets == nullptr || tokens == 0) {
        return;
    }
    for (core::TokenBucket* bucket : {buckets->tokens_minute.get(), buckets->tokens_day.get()}) {
        if (bucket != nullptr) {
            bucket->adjust(-static_cast<double>(tokens), now);
        }
    }
}

}  // namespace ragd::api
