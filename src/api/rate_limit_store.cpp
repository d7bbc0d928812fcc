// Turns auth.rate_limit_store into objects. A separate Redis client from the answer cache's:
// its deadline is the rate limiter's (a request waits for it), and a cache outage's back-off
// must not decide where limits come from.
#include "api/rate_limit_store.hpp"

#include <utility>

#include "api/readiness.hpp"
#include "cache/redis_client.hpp"

namespace ragd::api {

cache::RedisOptions rate_limit_redis_options(const core::Config& config) {
    const core::AuthConfig& auth = config.auth;
    cache::RedisOptions options;
    // The TLS settings travel with the URL: the cache's when its Redis is shared.
    if (auth.redis_url.empty()) {
        options.url = config.cache.redis_url;
        options.tls_ca_file = config.cache.redis_ca_file;
        options.tls_verify = config.cache.redis_tls_verify;
    } else {
        options.url = auth.redis_url;
        options.tls_ca_file = auth.redis_ca_file;
        options.tls_verify = auth.redis_tls_verify;
    }
    options.max_connections = config.cache.redis_max_connections;
    options.command_timeout = auth.redis_timeout;
    options.connect_timeout = auth.redis_timeout;
    options.down_backoff = config.cache.redis_down_backoff;
    return options;
}

core::Result<RateLimitStore> make_rate_limit_store(const core::Config& config,
                                                   boost::asio::any_io_executor executor) {
    RateLimitStore store;
    const core::AuthConfig& auth = config.auth;
    if (auth.rate_limit_store != "redis") {
        return store;
    }
    auto client = cache::RedisClient::create(executor, rate_limit_redis_options(config));
    if (!client) {
        return core::fail(client.error().code,
                          "auth.rate_limit_store = redis: " + client.error().detail);
    }
    store.redis = std::move(*client);
    store.counts = std::make_shared<RateLimitCounts>();
    RedisRateLimiterOptions limiter_options;
    limiter_options.timeout = auth.redis_timeout;
    limiter_options.counts = store.counts;
    store.factory = [redis = store.redis, executor, limiter_options](const ApiKeyStore& keys) {
        return std::make_unique<RedisRateLimiter>(redis, executor, keys, limiter_options);
    };
    return store;
}

void add_rate_limit_checks(ReadinessRegistry& registry, const RateLimitStore& store) {
    if (!store.redis) {
        return;
    }
    const cache::RedisEndpoint endpoint = store.redis->endpoint();
    // Weak: the registry outlives the server's io_context, the client must not.
    std::weak_ptr<cache::RedisClient> weak = store.redis;
    registry.add("rate_limit_redis", Requirement::kOptional, [weak, endpoint] {
        CheckResult result;
        const auto client = weak.lock();
        const bool healthy = client != nullptr && client->healthy();
        result.status = healthy ? CheckStatus::kOk : CheckStatus::kDegraded;
        // Host and port only: the URL may carry a password.
        result.fields["endpoint"] = endpoint.host + ":" + std::to_string(endpoint.port);
        if (!healthy) {
            result.detail =
                "Redis is unreachable; each replica enforces the rate limits with its own buckets";
        }
        return result;
    });
}

std::vector<metrics::SampledFamily> rate_limit_families(const RateLimitStore& store) {
    if (!store.counts) {
        return {};
    }
    using Sample = metrics::SampledFamily::Sample;
    const RateLimitCounts& counts = *store.counts;
    return {
        metrics::SampledFamily{
            "ragd_rate_limit_decisions_total",
            "Rate-limit admissions by where they were decided: redis (shared by the replicas) or "
            "local (this replica's buckets, while Redis fails).",
            true,
            {Sample{{{"store", "redis"}}, static_cast<double>(counts.shared_decisions.load())},
             Sample{{{"store", "local"}}, static_cast<double>(counts.local_decisions.load())}}},
        metrics::SampledFamily{
            "ragd_rate_limit_redis_errors_total",
            "Rate-limit scripts that failed in Redis (admissions and token charges).",
            true,
            {Sample{{}, static_cast<double>(counts.redis_errors.load())}}},
    };
}

}  // namespace ragd::api
