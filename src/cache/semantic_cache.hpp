// The optional semantic answer cache: reuses an answer for a differently worded question when
// the two embeddings are close (cosine >= threshold) within the same collection, parameters and
// generation, and the guard (semantic_guard.hpp) finds no difference in negations, numbers or
// content words. Off by default.
//
// Trade-off: each scope is a flat array of vectors scanned in full (brute force) instead of an
// ANN index. Exact, no index to maintain under concurrent inserts and expiry, and the dot
// products stream through contiguous memory with SIMD; but a lookup costs O(entries x dims):
// at the default 10,000 entries of 384 floats (15 MB) about 1 ms on one core, which is why the
// entries per scope are bounded and why the caller should run a full-size lookup on the compute
// pool rather than on an I/O thread. An ANN index would be the next step past ~50,000 entries.
#pragma once

#include "core/dot_product.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "cache/clock.hpp"

namespace ragd::cache {

struct SemanticCacheOptions {
    /// Smallest cosine similarity that counts as the same question (default 0.95).
    float threshold = 0.95f;
    /// Entries kept per scope; when full the oldest is overwritten (default 10000).
    std::size_t max_entries_per_scope = 10000;
    /// Scopes (collection + parameters) kept; the least recently used goes first (default 64).
    /// Memory is bounded by max_scopes x max_entries_per_scope x (dims x 4 bytes + query + value).
    std::size_t max_scopes = 64;
};

struct SemanticHit {
    CachedValue value;
    float similarity = 0.0f;    ///< cosine of the two embeddings
    std::string matched_query;  ///< the normalized question the answer was cached for
};

struct SemanticLookup {
    std::optional<SemanticHit> hit;
    /// Highest similarity seen among live entries (also on a miss); 0 when the scope is empty.
    float best_similarity = 0.0f;
    /// Why the guard refused the closest candidates at or above the threshold; empty when none
    /// was refused.
    std::string refused_reason;
};

struct SemanticStats {
    std::uint64_t entries = 0;  ///< occupied slots, expired ones included until overwritten
    std::uint64_t scopes = 0;
};

/// Thread-safe: lookups of one scope run in parallel; a store locks its scope exclusively.
class SemanticCache {
public:
    explicit SemanticCache(SemanticCacheOptions options = {}, NowFn now = {});
    ~SemanticCache();
    SemanticCache(const SemanticCache&) = delete;
    SemanticCache& operator=(const SemanticCache&) = delete;

    /// The closest live entry of `scope` at `generation` whose similarity to `embedding` (a unit
    /// vector) is >= threshold and that the guard accepts against `normalized_query`. A scope
    /// stored at another generation, or with other dimensions, never matches.
    SemanticLookup lookup(std::string_view scope,
                          std::uint64_t generation,
                          std::string_view normalized_query,
                          std::span<const float> embedding) const;

    /// Stores (or replaces, for the same normalized_query) an entry expiring `ttl` from now.
    /// A newer generation empties the scope first; an older one is dropped. Returns false when
    /// nothing was stored: ttl <= 0, empty embedding, null value, stale generation, or
    /// dimensions differing from the scope's current entries.
    bool store(std::string scope,
               std::uint64_t generation,
               std::string normalized_query,
               std::span<const float> embedding,
               CachedValue value,
               std::chrono::milliseconds ttl);

    void clear();
    SemanticStats stats() const;
    const SemanticCacheOptions& options() const { return options_; }

private:
    struct Scope;

    std::shared_ptr<Scope> find_scope(std::string_view scope) const;
    std::shared_ptr<Scope> find_or_create_scope(std::string scope);

    SemanticCacheOptions options_;
    NowFn now_;
    mutable std::shared_mutex mutex_;
    std::unordered_map<std::string, std::shared_ptr<Scope>> scopes_;
};

/// Cosine for unit vectors.
using core::dot_product;

}  // namespace ragd::cache
