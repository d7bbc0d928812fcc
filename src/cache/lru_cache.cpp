#include "cache/lru_cache.hpp"

#include <bit>
#include <functional>
#include <list>
#include <mutex>
#include <unordered_map>

namespace ragd::cache {
namespace {

struct Entry {
    std::string key;
    std::size_t hash = 0;
    CachedValue value;
    SteadyClock::time_point expires_at;
    std::size_t bytes = 0;
};

// The map's key views the key string held by the list node (nodes never move), and carries the
// hash computed once per call, which also picked the shard.
struct MapKey {
    std::string_view key;
    std::size_t hash = 0;
};
struct MapKeyHash {
    std::size_t operator()(const MapKey& key) const noexcept { return key.hash; }
};
struct MapKeyEqual {
    bool operator()(const MapKey& a, const MapKey& b) const noexcept {
        return a.hash == b.hash && a.key == b.key;
    }
};

}  // namespace

// alignas keeps two shards' hot mutexes off one cache line.
struct alignas(64) LruCache::Shard {
    using List = std::list<Entry>;

    mutable std::mutex mutex;
    List lru;  ///< front = most recently used
    std::unordered_map<MapKey, List::iterator, MapKeyHash, MapKeyEqual> index;
    std::size_t bytes = 0;
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;
    std::uint64_t expirations = 0;
    std::uint64_t evictions = 0;

    void remove(List::iterator it) {
        bytes -= it->bytes;
        index.erase(MapKey{it->key, it->hash});
        lru.erase(it);
    }

    void shrink_to(std::size_t budget_bytes, SteadyClock::time_point now) {
        while (bytes > budget_bytes && !lru.empty()) {
            auto victim = std::prev(lru.end());
            if (victim->expires_at <= now) {
                ++expirations;
            } else {
                ++evictions;
            }
            remove(victim);
        }
    }
};

LruCache::LruCache(LruCacheOptions options, NowFn now) : now_(default_now(std::move(now))) {
    const std::size_t count = std::bit_ceil(std::max<std::size_t>(options.shards, 1));
    shards_.reserve(count);
    for (std::size_t shard_idx = 0; shard_idx < count; ++shard_idx) {
        shards_.push_back(std::make_unique<Shard>());
    }
    shard_mask_ = count - 1;
    shard_budget_bytes_ = options.max_bytes / count;
}

LruCache::~LruCache() = default;

LruCache::Shard& LruCache::shard_for(std::size_t hash) const {
    // High bits pick the shard; the map's buckets use the hash modulo a prime, which mixes all
    // bits, so the two choices stay independent.
    return *shards_[(hash >> 32) & shard_mask_];
}

CachedValue LruCache::get(std::string_view key) {
    const std::size_t hash = std::hash<std::string_view>{}(key);
    const auto now = now_();
    Shard& shard = shard_for(hash);
    const std::lock_guard lock(shard.mutex);
    const auto found = shard.index.find(MapKey{key, hash});
    if (found == shard.index.end()) {
        ++shard.misses;
        return nullptr;
    }
    const auto it = found->second;
    if (it->expires_at <= now) {
        ++shard.expirations;
        ++shard.misses;
        shard.remove(it);
        return nullptr;
    }
    shard.lru.splice(shard.lru.begin(), shard.lru, it);
    ++shard.hits;
    return it->value;
}

bool LruCache::put(std::string key, std::string value, std::chrono::milliseconds ttl) {
    return put(std::move(key), std::make_shared<const std::string>(std::move(value)), ttl);
}

bool LruCache::put(std::string key, CachedValue value, std::chrono::milliseconds ttl) {
    const std::size_t hash = std::hash<std::string_view>{}(key);
    const std::size_t bytes = key.size() + (value ? value->size() : 0) + kEntryOverheadBytes;
    const auto now = now_();
    Shard& shard = shard_for(hash);
    const std::lock_guard lock(shard.mutex);
    const auto found = shard.index.find(MapKey{key, hash});
    if (!value || ttl.count() <= 0 || bytes > shard_budget_bytes_) {
        // Never leave an older value behind a refused store: the caller meant to replace it.
        if (found != shard.index.end()) {
            shard.remove(found->second);
        }
        return false;
    }
    if (found != shard.index.end()) {
        Entry& entry = *found->second;
        shard.bytes = shard.bytes - entry.bytes + bytes;
        entry.value = std::move(value);
        entry.expires_at = now + ttl;
        entry.bytes = bytes;
        shard.lru.splice(shard.lru.begin(), shard.lru, found->second);
    } else {
        shard.lru.push_front(Entry{std::move(key), hash, std::move(value), now + ttl, bytes});
        const auto it = shard.lru.begin();
        shard.index.emplace(MapKey{it->key, hash}, it);
        shard.bytes += bytes;
    }
    shard.shrink_to(shard_budget_bytes_, now);
    return true;
}

bool LruCache::erase(std::string_view key) {
    const std::size_t hash = std::hash<std::string_view>{}(key);
    Shard& shard = shard_for(hash);
    const std::lock_guard lock(shard.mutex);
    const auto found = shard.index.find(MapKey{key, hash});
    if (found == shard.index.end()) {
        return false;
    }
    shard.remove(found->second);
    return true;
}

void LruCache::clear() {
    for (const auto& shard : shards_) {
        const std::lock_guard lock(shard->mutex);
        shard->index.clear();
        shard->lru.clear();
        shard->bytes = 0;
    }
}

LruStats LruCache::stats() const {
    LruStats total;
    for (const auto& shard : shards_) {
        const std::lock_guard lock(shard->mutex);
        total.hits += shard->hits;
        total.misses += shard->misses;
        total.expirations += shard->expirations;
        total.evictions += shard->evictions;
        total.entries += shard->lru.size();
        total.bytes += shard->bytes;
    }
    return total;
}

}  // namespace ragd::cache
