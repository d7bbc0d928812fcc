// Per-API-key rate limits shared by every replica: the buckets live in Redis, and each admission
// is one Lua script that Redis runs atomically, on Redis' own clock (TIME), so replicas whose
// clocks disagree still agree on every bucket. Redis is never a dependency: while it is
// unreachable, slow or erroring, the same keys are decided by in-process buckets (a
// LocalRateLimiter), never by no limit at all.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "api/rate_limiter.hpp"
#include "core/error.hpp"

namespace ragd::cache {
class RedisClient;
}

namespace ragd::api {

/// What a RedisRateLimiter decided, for /metrics. Shared, so that it can be read after the
/// limiter has been handed to the Authenticator.
struct RateLimitCounts {
    /// Admissions decided by the script in Redis.
    std::atomic<std::uint64_t> shared_decisions{0};
    /// Admissions decided by the in-process buckets instead: Redis down, slow or erroring, or a
    /// synchronous caller that may not wait (an I/O thread).
    std::atomic<std::uint64_t> local_decisions{0};
    /// Script runs that failed (admissions and token charges).
    std::atomic<std::uint64_t> redis_errors{0};
};

struct RedisRateLimiterOptions {
    /// Prefix of the bucket keys: PREFIX{KEYNAME}:req, :tpm and :day (default "ragd:rl:"). The
    /// braces are a Redis Cluster hash tag: one key's buckets live in one slot, as one script
    /// needs.
    std::string prefix = "ragd:rl:";
    /// How long a synchronous admit() waits for Redis before deciding locally; the client's own
    /// command deadline bounds admit_async() (default 50 ms).
    std::chrono::milliseconds timeout{50};
    /// Counters to update; null: the limiter keeps its own (see counts()).
    std::shared_ptr<RateLimitCounts> counts;
};

/// Thread-safe, like every RateLimiter. The semantics are LocalRateLimiter's (same buckets, same
/// decisions, same RateDecision fields), the state is in Redis: a hash {level, ts} per bucket,
/// expiring (PEXPIRE) once it would have refilled, so idle keys vanish.
///
/// The in-process buckets shadow this replica's traffic while Redis decides (every request Redis
/// admits also takes a local token, every charge is also charged locally), so when Redis goes
/// away a key that this replica has pushed over its limit stays refused.
class RedisRateLimiter final : public RateLimiter {
public:
    /// `client` runs on `executor` and is owned by the caller, who must destroy it before the
    /// executor's io_context (RedisClient's rule). The limiter holds it weakly: once it is gone,
    /// every decision is local. Local buckets for every key of `store` start full at `now`.
    RedisRateLimiter(std::shared_ptr<cache::RedisClient> client,
                     boost::asio::any_io_executor executor,
                     const ApiKeyStore& store,
                     RedisRateLimiterOptions options = {},
                     RateClock::time_point now = RateClock::now());
    ~RedisRateLimiter() override;
    RedisRateLimiter(const RedisRateLimiter&) = delete;
    RedisRateLimiter& operator=(const RedisRateLimiter&) = delete;

    /// Blocks for Redis at most `options.timeout`, then decides locally; on a thread that runs
    /// the executor's io_context it never waits (it would stall the I/O it waits for) and
    /// decides locally at once. Routes should prefer admit_async().
    RateDecision admit(const ApiKey& key, bool uses_tokens, RateClock::time_point now) override;
    /// Charges the local buckets now and Redis in the background (fire and forget).
    void charge_tokens(const ApiKey& key, std::size_t tokens, RateClock::time_point now) override;

    /// One script run in Redis; the local buckets decide when it fails.
    boost::asio::awaitable<RateDecision> admit_async(const ApiKey& key,
                                                     bool uses_tokens,
                                                     RateClock::time_point now) override;
    /// Charges the local buckets and awaits the charge in Redis.
    boost::asio::awaitable<void> charge_tokens_async(const ApiKey& key,
                                                     std::size_t tokens,
                                                     RateClock::time_point now) override;

    const RateLimitCounts& counts() const;

    struct Shared;  ///< what background charges keep alive (public only for the .cpp's helpers)

private:
    RateDecision settle(const ApiKey& key,
                        bool uses_tokens,
                        RateClock::time_point now,
                        const core::Result<RateDecision>& shared);

    std::shared_ptr<Shared> shared_;
};

}  // namespace ragd::api
