// Per-API-key rate limits: requests per second with a burst, and optional LLM token budgets
// (per minute, per day). An interface, so that a limiter shared between replicas (Redis) can
// replace the in-process one without touching the routes.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <unordered_map>

#include <boost/asio/awaitable.hpp>

#include "api/api_keys.hpp"
#include "core/token_bucket.hpp"

namespace ragd::api {

using RateClock = core::TokenBucket::Clock;

/// One admission decision and what the RateLimit-* response headers report about it.
struct RateDecision {
    bool allowed = true;
    /// The key has a request limit: the RateLimit-* headers apply.
    bool limited = false;
    std::size_t limit = 0;          ///< requests the bucket holds when full (RateLimit-Limit)
    std::size_t remaining = 0;      ///< whole requests left now (RateLimit-Remaining)
    std::chrono::seconds reset{0};  ///< until the bucket is full again (RateLimit-Reset)
    /// When refused: until a request would be admitted (Retry-After), at least 1 s.
    std::chrono::seconds retry_after{0};
    /// When refused: which limit, for the error message ("requests_per_second", "burst",
    /// "tokens_per_minute", "daily_tokens").
    std::string exceeded;
};

/// Thread-safe: admit() and charge_tokens() are called concurrently from every request.
///
/// A limiter shared between replicas (e.g. Redis-backed buckets) implements this too. When its
/// store is unreachable it must fall back to a LocalRateLimiter for the same keys, never to
/// admitting everything: an outage of the limiter's store must not lift every key's limit.
class RateLimiter {
public:
    virtual ~RateLimiter() = default;

    /// Admits one request of `key` at `now` (consuming one request token), or says when to
    /// retry. With `uses_tokens` (routes that call the LLM) it also refuses, without consuming
    /// anything, while one of the key's token budgets is spent.
    virtual RateDecision admit(const ApiKey& key, bool uses_tokens, RateClock::time_point now) = 0;

    /// Charges `tokens` LLM tokens to the key's budgets after an answer; a budget may go into
    /// debt, which later requests wait out.
    virtual void charge_tokens(const ApiKey& key,
                               std::size_t tokens,
                               RateClock::time_point now) = 0;

    /// admit() for callers on an I/O thread (coroutines): a limiter whose store is remote
    /// awaits it here instead of blocking. The default decides with admit(). `key` must outlive
    /// the call (the caller co_awaits it directly).
    virtual boost::asio::awaitable<RateDecision> admit_async(const ApiKey& key,
                                                             bool uses_tokens,
                                                             RateClock::time_point now);

    /// charge_tokens() that completes once the charge is recorded in the store; the default
    /// charges with charge_tokens().
    virtual boost::asio::awaitable<void> charge_tokens_async(const ApiKey& key,
                                                             std::size_t tokens,
                                                             RateClock::time_point now);
};

/// In-process token buckets, one set per key, created for every key of the store up front (so
/// the map is read-only afterwards and needs no lock; each bucket has its own). Budgets are
/// token buckets too: tokens_per_minute refills continuously over a minute, daily_tokens over
/// 24 hours (a rolling day, not a calendar one).
class LocalRateLimiter final : public RateLimiter {
public:
    /// One set of buckets per key of `store` (matched by name later); they start full at `now`.
    explicit LocalRateLimiter(const ApiKeyStore& store,
                              RateClock::time_point now = RateClock::now());

    RateDecision admit(const ApiKey& key, bool uses_tokens, RateClock::time_point now) override;
    void charge_tokens(const ApiKey& key, std::size_t tokens, RateClock::time_point now) override;

private:
    struct Buckets {
        std::unique_ptr<core::TokenBucket> requests;       ///< null: unlimited
        std::unique_ptr<core::TokenBucket> tokens_minute;  ///< null: unlimited
        std::unique_ptr<core::TokenBucket> tokens_day;     ///< null: unlimited
    };
    const Buckets* buckets_for(const ApiKey& key) const;

    std::unordered_map<std::string, Buckets> buckets_;  ///< by key name (names are unique)
};

}  // namespace ragd::api
