// The answer cache the query pipeline talks to: L1 (in-process, exact) → L2 (Redis, exact,
// shared by replicas) → semantic (in-process, near-duplicate questions; off by default).
//
// Only successful, complete answers belong here: the caller decides what to store and must
// never store errors, timeouts, partial (cancelled) streams or "no answer found" results; a
// transient failure cached for an hour would outlive its cause. Redis failures never fail a
// lookup or a store: they count as errors in the stats and the cache carries on with L1 only.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "cache/cache_key.hpp"
#include "cache/clock.hpp"
#include "cache/lru_cache.hpp"
#include "cache/redis_client.hpp"
#include "cache/semantic_cache.hpp"
#include "core/error.hpp"

namespace ragd::cache {

struct AnswerCacheOptions {
    /// L1 memory budget in bytes; 0 turns L1 off (default 256 MiB).
    std::size_t l1_max_bytes = std::size_t{256} * 1024 * 1024;
    /// L1 shards (default 16).
    std::size_t l1_shards = 16;
    /// Lifetime of a stored answer in every tier (default 1 h).
    std::chrono::milliseconds ttl{3600 * 1000};
    /// L2: redis://[[user]:password@]host[:port][/db], rediss://... for TLS; "" turns L2 off
    /// (default "").
    std::string redis_url;
    /// rediss:// only: PEM CA bundle trusted besides the system store; "" = none (default "").
    std::string redis_ca_file;
    /// rediss:// only: verify the certificate chain and host name (default true).
    bool redis_tls_verify = true;
    /// Prefix of every L2 key, so ragd can share a Redis with others (default "ragd:answer:").
    std::string redis_prefix = "ragd:answer:";
    /// L2 connections at most (default 8).
    std::size_t redis_max_connections = 8;
    /// L2 per-command deadline (default 50 ms).
    std::chrono::milliseconds redis_command_timeout{50};
    /// L2 connect deadline (default 200 ms).
    std::chrono::milliseconds redis_connect_timeout{200};
    /// How long L2 is skipped after a failure (default 1000 ms).
    std::chrono::milliseconds redis_down_backoff{1000};
    /// Semantic tier (default false).
    bool semantic_enabled = false;
    /// Semantic tier: smallest cosine similarity for a hit (default 0.95).
    float semantic_threshold = 0.95f;
    /// Semantic tier: entries per collection + parameters scope (default 10000).
    std::size_t semantic_max_entries = 10000;
    /// Semantic tier: scopes kept (default 64).
    std::size_t semantic_max_scopes = 64;
};

enum class CacheTier { kL1, kL2, kSemantic };
/// "l1", "l2", "semantic": the `tier` label of ragd_cache_requests_total.
const char* cache_tier_name(CacheTier tier);

enum class CacheOutcome { kHit, kMiss, kError, kRefused };
/// "hit", "miss", "error" (L2 unreachable or garbled), "refused" (semantic guard said no):
/// the `result` label of ragd_cache_requests_total.
const char* cache_outcome_name(CacheOutcome outcome);

inline constexpr std::size_t kCacheTierCount = 3;
inline constexpr std::size_t kCacheOutcomeCount = 4;

struct CacheHit {
    CacheTier tier = CacheTier::kL1;
    CachedValue value;          ///< the stored bytes (serialized answer JSON)
    float similarity = 1.0f;    ///< 1 for exact tiers; the cosine for a semantic hit
    std::string matched_query;  ///< semantic: the normalized question the answer was for
};

struct CacheLookup {
    std::optional<CacheHit> hit;
    /// Semantic tier diagnostics on a miss (for logs and threshold tuning).
    float semantic_best_similarity = 0.0f;
    std::string semantic_refused_reason;
};

struct AnswerCacheStats {
    /// ragd_cache_requests_total{tier, result}, indexed [CacheTier][CacheOutcome]. A tier is
    /// counted only when it was consulted (L2 only when L1 missed, and so on).
    std::array<std::array<std::uint64_t, kCacheOutcomeCount>, kCacheTierCount> requests{};
    std::uint64_t stores = 0;
    std::uint64_t l2_store_errors = 0;
    LruStats l1;             ///< entries, bytes, evictions, expirations
    SemanticStats semantic;  ///< entries, scopes
    bool l2_enabled = false;
    bool l2_healthy = false;
    RedisStats l2;

    std::uint64_t count(CacheTier tier, CacheOutcome outcome) const {
        return requests[static_cast<std::size_t>(tier)][static_cast<std::size_t>(outcome)];
    }
};

/// Thread-safe. Must outlive every lookup/store coroutine it started.
class AnswerCache {
public:
    /// `executor` runs the Redis connections (unused when redis_url is ""). kInvalidArgument
    /// for a bad redis_url or redis_ca_file (report at startup).
    static core::Result<std::unique_ptr<AnswerCache>> create(AnswerCacheOptions options,
                                                             boost::asio::any_io_executor executor,
                                                             NowFn now = {});
    ~AnswerCache();
    AnswerCache(const AnswerCache&) = delete;
    AnswerCache& operator=(const AnswerCache&) = delete;

    /// L1, then L2 (an L2 hit is copied into L1 for the rest of its lifetime), then, when the
    /// semantic tier is on and `embedding` is given, the semantic tier. Never fails.
    /// The semantic scan runs inline: with a large semantic cache call lookup() without the
    /// embedding and lookup_semantic() on the compute pool.
    boost::asio::awaitable<CacheLookup> lookup(CacheKey key,
                                               std::optional<std::vector<float>> embedding);

    /// L1 only, synchronous: the ~1 µs path for I/O threads.
    std::optional<CacheHit> lookup_l1(const CacheKey& key);

    /// Semantic tier only, synchronous (CPU: up to ~1 ms for a full 10,000-entry scope).
    /// Counts a miss without scanning when the tier is off.
    CacheLookup lookup_semantic(const CacheKey& key, std::span<const float> embedding);

    /// Stores a successful answer in L1, in the semantic tier (when on and `embedding` is
    /// given) and in L2 (awaiting Redis, bounded by its command deadline; failures are only
    /// counted). Returns the shared value. Co_spawn it detached to answer without waiting.
    boost::asio::awaitable<CachedValue> store(CacheKey key,
                                              std::string value,
                                              std::optional<std::vector<float>> embedding);

    /// L1 and semantic only, synchronous (e.g. when L2 is written elsewhere or off).
    CachedValue store_local(const CacheKey& key,
                            std::string value,
                            std::span<const float> embedding = {});

    AnswerCacheStats stats() const;
    const AnswerCacheOptions& options() const { return options_; }
    /// Null when L2 is off. Shares its connections with the cache (e.g. for INCR of fleet-wide
    /// collection generations).
    RedisClient* redis() const { return redis_.get(); }

private:
    AnswerCache(AnswerCacheOptions options, NowFn now);
    void count(CacheTier tier, CacheOutcome outcome);

    AnswerCacheOptions options_;
    NowFn now_;
    std::unique_ptr<LruCache> l1_;
    std::unique_ptr<RedisClient> redis_;
    std::unique_ptr<SemanticCache> semantic_;
    std::array<std::array<std::atomic<std::uint64_t>, kCacheOutcomeCount>, kCacheTierCount>
        requests_{};
    std::atomic<std::uint64_t> stores_{0};
    std::atomic<std::uint64_t> l2_store_errors_{0};
};

/// L2 value layout: 'R', '1', expiry as 8 bytes big-endian Unix milliseconds, then the value.
/// The expiry lets an L2 hit live in L1 only as long as it has left. Exposed for tests.
std::string encode_l2_value(std::string_view value, std::chrono::system_clock::time_point expires);
/// The value and its expiry; nullopt when `stored` is not in that layout.
std::optional<std::pair<std::string, std::chrono::system_clock::time_point>> decode_l2_value(
    std::string stored);

}  // namespace ragd::cache
