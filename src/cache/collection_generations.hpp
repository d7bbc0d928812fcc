// One generation number per collection, part of every cache key (cache_key.hpp): bumping it on
// ingest or delete makes every answer computed from the old contents unreachable, so stale
// answers are never served and no cache has to be scanned or purged; old entries age out by TTL
// and LRU.
#pragma once

#include <cstdint>
#include <functional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace ragd::cache {

/// Thread-safe. Generations only grow. A process restart would start again from the same
/// numbers, and so could reuse keys still alive in a shared L2 (Redis); seed with advance_to()
/// from something persistent and monotonic (storage's change sequence, or a Redis INCR counter
/// shared by a fleet) before serving when L2 is on.
class CollectionGenerations {
public:
    /// Current generation of `collection`: the floor (see bump_all) until bumped.
    std::uint64_t get(std::string_view collection) const;

    /// Call after every committed ingest or delete in `collection`; returns the new generation.
    std::uint64_t bump(std::string_view collection);

    /// For changes whose collection is unknown or that touch all of them (restore, reindex):
    /// every collection, including ones not seen yet, moves past its current generation.
    void bump_all();

    /// Raises `collection` to at least `generation` (never lowers it); returns the result.
    /// For seeding from a persistent counter and for following another replica's bumps.
    std::uint64_t advance_to(std::string_view collection, std::uint64_t generation);

private:
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };

    mutable std::shared_mutex mutex_;
    std::unordered_map<std::string, std::uint64_t, Hash, std::equal_to<>> generations_;
    std::uint64_t floor_ = 0;  ///< generation of collections not in the map
};

}  // namespace ragd::cache
