// L1: the in-process exact-match answer cache. Sharded (each shard a mutex, an LRU list and a
// hash map) so I/O threads rarely meet on a lock; bounded by an estimate of its memory in bytes;
// every entry carries its own TTL and is never returned after it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cache/clock.hpp"

namespace ragd::cache {

struct LruCacheOptions {
    /// Memory budget in bytes, counted as key + value + kEntryOverheadBytes per entry and split
    /// evenly across shards (default 256 MiB).
    std::size_t max_bytes = std::size_t{256} * 1024 * 1024;
    /// Number of shards, rounded up to a power of two (default 16).
    std::size_t shards = 16;
};

struct LruStats {
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;       ///< includes expired entries found by get()
    std::uint64_t expirations = 0;  ///< expired entries dropped (by get() or to make room)
    std::uint64_t evictions = 0;    ///< live entries dropped to stay within max_bytes
    std::uint64_t entries = 0;
    std::uint64_t bytes = 0;  ///< estimated, as counted against max_bytes
};

class LruCache {
public:
    /// Estimate of the per-entry bookkeeping (list node, map node and bucket, shared_ptr control
    /// block, expiry), counted on top of key and value bytes.
    static constexpr std::size_t kEntryOverheadBytes = 160;

    explicit LruCache(LruCacheOptions options = {}, NowFn now = {});
    ~LruCache();
    LruCache(const LruCache&) = delete;
    LruCache& operator=(const LruCache&) = delete;

    /// The live value for `key`, refreshed as most recently used; null when absent or expired.
    /// Thread-safe.
    CachedValue get(std::string_view key);

    /// Inserts or replaces `key`, expiring `ttl` from now, evicting least recently used entries
    /// of its shard until the shard fits. Returns false (and stores nothing, dropping any
    /// previous value) when ttl <= 0 or the entry alone exceeds a shard's budget. Thread-safe.
    bool put(std::string key, CachedValue value, std::chrono::milliseconds ttl);
    bool put(std::string key, std::string value, std::chrono::milliseconds ttl);

    /// Removes `key`; returns whether it was present (expired or not). Thread-safe.
    bool erase(std::string_view key);

    /// Removes every entry (counters other than entries/bytes are kept). Thread-safe.
    void clear();

    /// Sums the shards' counters; each shard is read under its lock, the total is not atomic.
    LruStats stats() const;

private:
    struct Shard;

    Shard& shard_for(std::size_t hash) const;

    std::vector<std::unique_ptr<Shard>> shards_;
    std::size_t shard_mask_ = 0;
    std::size_t shard_budget_bytes_ = 0;
    NowFn now_;
};

}  // namespace ragd::cache
