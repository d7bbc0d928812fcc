#include "cache/answer_cache.hpp"

#include <algorithm>

#include <boost/asio/use_awaitable.hpp>

namespace ragd::cache {
namespace {

constexpr std::size_t kL2HeaderBytes = 10;

std::size_t index_of(CacheTier tier) {
    return static_cast<std::size_t>(tier);
}
std::size_t index_of(CacheOutcome outcome) {
    return static_cast<std::size_t>(outcome);
}

}  // namespace

const char* cache_tier_name(CacheTier tier) {
    switch (tier) {
        case CacheTier::kL1:
            return "l1";
        case CacheTier::kL2:
            return "l2";
        case CacheTier::kSemantic:
            return "semantic";
    }
    return "l1";
}

const char* cache_outcome_name(CacheOutcome outcome) {
    switch (outcome) {
        case CacheOutcome::kHit:
            return "hit";
        case CacheOutcome::kMiss:
            return "miss";
        case CacheOutcome::kError:
            return "error";
        case CacheOutcome::kRefused:
            return "refused";
    }
    return "miss";
}

std::string encode_l2_value(std::string_view value, std::chrono::system_clock::time_point expires) {
    const auto millis = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(expires.time_since_epoch()).count());
    std::string out;
    out.reserve(kL2HeaderBytes + value.size());
    out.push_back('R');
    out.push_back('1');
    for (int shift = 56; shift >= 0; shift -= 8) {
        out.push_back(static_cast<char>((millis >> shift) & 0xFF));
    }
    out.append(value);
    return out;
}

std::optional<std::pair<std::string, std::chrono::system_clock::time_point>> decode_l2_value(
    std::string stored) {
    if (stored.size() < kL2HeaderBytes || stored[0] != 'R' || stored[1] != '1') {
        return std::nullopt;
    }
    std::uint64_t millis = 0;
    for (std::size_t byte_idx = 2; byte_idx < kL2HeaderBytes; ++byte_idx) {
        millis = (millis << 8) | static_cast<unsigned char>(stored[byte_idx]);
    }
    stored.erase(0, kL2HeaderBytes);
    const std::chrono::system_clock::time_point expires{
        std::chrono::milliseconds(static_cast<std::int64_t>(millis))};
    return std::make_pair(std::move(stored), expires);
}

AnswerCache::AnswerCache(AnswerCacheOptions options, NowFn now)
    : options_(std::move(options)), now_(default_now(std::move(now))) {}

AnswerCache::~AnswerCache() = default;

core::Result<std::unique_ptr<AnswerCache>> AnswerCache::create(
    AnswerCacheOptions options, boost::asio::any_io_executor executor, NowFn now) {
    std::unique_ptr<AnswerCache> cache(new AnswerCache(std::move(options), std::move(now)));
    const AnswerCacheOptions& opts = cache->options_;
    if (opts.l1_max_bytes > 0) {
        cache->l1_ = std::make_unique<LruCache>(LruCacheOptions{opts.l1_max_bytes, opts.l1_shards},
                                                cache->now_);
    }
    if (!opts.redis_url.empty()) {
        RedisOptions redis;
        redis.url = opts.redis_url;
        redis.tls_ca_file = opts.redis_ca_file;
        redis.tls_verify = opts.redis_tls_verify;
        redis.max_connections = opts.redis_max_connections;
        redis.command_timeout = opts.redis_command_timeout;
        redis.connect_timeout = opts.redis_connect_timeout;
        redis.down_backoff = opts.redis_down_backoff;
        auto client = RedisClient::create(std::move(executor), std::move(redis), cache->now_);
        if (!client) {
            return client.error();
        }
        cache->redis_ = std::move(*client);
    }
    if (opts.semantic_enabled) {
        cache->semantic_ = std::make_unique<SemanticCache>(
            SemanticCacheOptions{
                opts.semantic_threshold, opts.semantic_max_entries, opts.semantic_max_scopes},
            cache->now_);
    }
    return cache;
}

void AnswerCache::count(CacheTier tier, CacheOutcome outcome) {
    requests_[index_of(tier)][index_of(outcome)].fetch_add(1, std::memory_order_relaxed);
}

std::optional<CacheHit> AnswerCache::lookup_l1(const CacheKey& key) {
    if (!l1_) {
        return std::nullopt;
    }
    CachedValue value = l1_->get(key.exact);
    if (!value) {
        count(CacheTier::kL1, CacheOutcome::kMiss);
        return std::nullopt;
    }
    count(CacheTier::kL1, CacheOutcome::kHit);
    return CacheHit{CacheTier::kL1, std::move(value), 1.0f, {}};
}

CacheLookup AnswerCache::lookup_semantic(const CacheKey& key, std::span<const float> embedding) {
    CacheLookup out;
    if (!semantic_) {
        return out;
    }
    SemanticLookup found =
        semantic_->lookup(key.scope, key.generation, key.normalized_query, embedding);
    out.semantic_best_similarity = found.best_similarity;
    if (found.hit) {
        count(CacheTier::kSemantic, CacheOutcome::kHit);
        out.hit = CacheHit{CacheTier::kSemantic,
                           std::move(found.hit->value),
                           found.hit->similarity,
                           std::move(found.hit->matched_query)};
        return out;
    }
    count(CacheTier::kSemantic,
          found.refused_reason.empty() ? CacheOutcome::kMiss : CacheOutcome::kRefused);
    out.semantic_refused_reason = std::move(found.refused_reason);
    return out;
}

boost::asio::awaitable<CacheLookup> AnswerCache::lookup(
    CacheKey key, std::optional<std::vector<float>> embedding) {
    if (auto hit = lookup_l1(key)) {
        co_return CacheLookup{std::move(hit), 0.0f, {}};
    }
    if (redis_) {
        auto stored = co_await redis_->get(options_.redis_prefix + key.exact);
        const bool found = stored && stored->has_value();
        auto decoded = found ? decode_l2_value(std::move(**stored)) : std::nullopt;
        if (!stored || (found && !decoded)) {
            // Unreachable, or a value that is not ours (or an older layout).
            count(CacheTier::kL2, CacheOutcome::kError);
        } else if (!decoded) {
            count(CacheTier::kL2, CacheOutcome::kMiss);
        } else {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                decoded->second - std::chrono::system_clock::now());
            if (left.count() <= 0) {
                count(CacheTier::kL2, CacheOutcome::kMiss);  // Redis has not expired it yet
            } else {
                auto value = std::make_shared<const std::string>(std::move(decoded->first));
                if (l1_) {
                    l1_->put(key.exact, value, std::min(left, options_.ttl));
                }
                count(CacheTier::kL2, CacheOutcome::kHit);
                co_return CacheLookup{
                    CacheHit{CacheTier::kL2, std::move(value), 1.0f, {}}, 0.0f, {}};
            }
        }
    }
    if (semantic_ && embedding) {
        co_return lookup_semantic(key, *embedding);
    }
    co_return CacheLookup{};
}

CachedValue AnswerCache::store_local(const CacheKey& key,
                                     std::string value,
                                     std::span<const float> embedding) {
    auto shared = std::make_shared<const std::string>(std::move(value));
    stores_.fetch_add(1, std::memory_order_relaxed);
    if (l1_) {
        l1_->put(key.exact, shared, options_.ttl);
    }
    if (semantic_ && !embedding.empty()) {
        semantic_->store(
            key.scope, key.generation, key.normalized_query, embedding, shared, options_.ttl);
    }
    return shared;
}

boost::asio::awaitable<CachedValue> AnswerCache::store(
    CacheKey key, std::string value, std::optional<std::vector<float>> embedding) {
    std::span<const float> vector;
    if (embedding) {
        vector = *embedding;
    }
    CachedValue shared = store_local(key, std::move(value), vector);
    if (redis_) {
        std::string encoded =
            encode_l2_value(*shared, std::chrono::system_clock::now() + options_.ttl);
        auto written = co_await redis_->set(
            options_.redis_prefix + key.exact, std::move(encoded), options_.ttl);
        if (!written) {
            l2_store_errors_.fetch_add(1, std::memory_order_relaxed);
        }
    }
    co_return shared;
}

AnswerCacheStats AnswerCache::stats() const {
    AnswerCacheStats out;
    for (std::size_t tier = 0; tier < kCacheTierCount; ++tier) {
        for (std::size_t outcome = 0; outcome < kCacheOutcomeCount; ++outcome) {
            out.requests[tier][outcome] = requests_[tier][outcome].load(std::memory_order_relaxed);
        }
    }
    out.stores = stores_.load(std::memory_order_relaxed);
    out.l2_store_errors = l2_store_errors_.load(std::memory_order_relaxed);
    if (l1_) {
        out.l1 = l1_->stats();
    }
    if (semantic_) {
        out.semantic = semantic_->stats();
    }
    out.l2_enabled = redis_ != nullptr;
    if (redis_) {
        out.l2_healthy = redis_->healthy();
        out.l2 = redis_->stats();
    }
    return out;
}

}  // namespace ragd::cache
