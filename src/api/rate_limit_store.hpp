// What `ragd serve` builds for auth.rate_limit_store: nothing for `local` (the Authenticator's
// default LocalRateLimiter), a Redis client and RedisRateLimiters for `redis`, plus their
// /ready check and /metrics families.
#pragma once

#include <memory>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "api/auth.hpp"
#include "api/redis_rate_limiter.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "metrics/metrics.hpp"

namespace ragd::cache {
class RedisClient;
struct RedisOptions;
}  // namespace ragd::cache

namespace ragd::api {

class ReadinessRegistry;

struct RateLimitStore {
    /// The client of rate_limit_store = redis (null for local). Its owner must destroy it before
    /// the executor's io_context: declare the RateLimitStore after the http::Server. Limiters
    /// hold it weakly and decide locally once it is gone.
    std::shared_ptr<cache::RedisClient> redis;
    /// What the limiters decided (null for local).
    std::shared_ptr<RateLimitCounts> counts;
    /// For make_authenticator(); empty for local.
    LimiterFactory factory;
};

/// The Redis client options for rate_limit_store = redis: auth.redis_url with auth's TLS
/// settings, else cache.redis_url with the cache's; auth.redis_timeout_ms as the command and
/// connect deadline; cache.redis_max_connections and cache.redis_down_backoff_ms.
cache::RedisOptions rate_limit_redis_options(const core::Config& config);

/// The store `config.auth` names: for redis, a client made with rate_limit_redis_options();
/// nothing connects before the first request. kInvalidArgument for a bad URL or CA file
/// (report it at startup).
core::Result<RateLimitStore> make_rate_limit_store(const core::Config& config,
                                                   boost::asio::any_io_executor executor);

/// A "rate_limit_redis" check (optional: degraded while Redis is unreachable, when limits are
/// per replica); nothing for local. `store` must outlive the registry's use.
void add_rate_limit_checks(ReadinessRegistry& registry, const RateLimitStore& store);

/// ragd_rate_limit_decisions_total{store="redis"|"local"} and
/// ragd_rate_limit_redis_errors_total; empty for local.
std::vector<metrics::SampledFamily> rate_limit_families(const RateLimitStore& store);

}  // namespace ragd::api
