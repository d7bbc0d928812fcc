#include "cache/semantic_cache.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <utility>
#include <vector>

#include "cache/semantic_guard.hpp"

namespace ragd::cache {
namespace {

struct Slot {
    std::string query;
    QueryTerms terms;  ///< precomputed so a lookup analyses only its own question
    CachedValue value;
    SteadyClock::time_point expires_at;
};

float norm_of(std::span<const float> vector) {
    return std::sqrt(dot_product(vector.data(), vector.data(), vector.size()));
}

}  // namespace


// One collection + parameters combination. Vectors live in one flat array, slot-major, so a
// lookup streams through memory once.
struct SemanticCache::Scope {
    mutable std::shared_mutex mutex;
    std::uint64_t generation = 0;
    std::size_t dimensions = 0;
    std::vector<float> vectors;  ///< slots.size() x dimensions, unit length
    std::vector<Slot> slots;
    std::unordered_map<std::string, std::size_t> slot_of_query;
    std::size_t next_victim = 0;  ///< FIFO once full: oldest stored ≈ first to expire
    std::atomic<SteadyClock::rep> last_used{0};

    void reset(std::uint64_t new_generation, std::size_t new_dimensions) {
        generation = new_generation;
        dimensions = new_dimensions;
        vectors.clear();
        slots.clear();
        slot_of_query.clear();
        next_victim = 0;
    }
};

SemanticCache::SemanticCache(SemanticCacheOptions options, NowFn now)
    : options_(options), now_(default_now(std::move(now))) {
    options_.max_entries_per_scope = std::max<std::size_t>(options_.max_entries_per_scope, 1);
    options_.max_scopes = std::max<std::size_t>(options_.max_scopes, 1);
}

SemanticCache::~SemanticCache() = default;

std::shared_ptr<SemanticCache::Scope> SemanticCache::find_scope(std::string_view scope) const {
    const std::shared_lock lock(mutex_);
    const auto it = scopes_.find(std::string(scope));
    return it == scopes_.end() ? nullptr : it->second;
}

std::shared_ptr<SemanticCache::Scope> SemanticCache::find_or_create_scope(std::string scope) {
    const std::unique_lock lock(mutex_);
    if (const auto it = scopes_.find(scope); it != scopes_.end()) {
        return it->second;
    }
    if (scopes_.size() >= options_.max_scopes) {
        // Scopes of superseded generations stop being used, so least recently used goes first.
        const auto coldest =
            std::min_element(scopes_.begin(), scopes_.end(), [](const auto& a, const auto& b) {
                return a.second->last_used.load(std::memory_order_relaxed) <
                       b.second->last_used.load(std::memory_order_relaxed);
            });
        scopes_.erase(coldest);
    }
    auto created = std::make_shared<Scope>();
    created->last_used.store(now_().time_since_epoch().count(), std::memory_order_relaxed);
    scopes_.emplace(std::move(scope), created);
    return created;
}

SemanticLookup SemanticCache::lookup(std::string_view scope_name,
                                     std::uint64_t generation,
                                     std::string_view normalized_query,
                                     std::span<const float> embedding) const {
    SemanticLookup out;
    const auto scope = find_scope(scope_name);
    if (!scope || embedding.empty()) {
        return out;
    }
    const float query_norm = norm_of(embedding);
    if (!(query_norm > 0.0f)) {
        return out;
    }
    const auto now = now_();
    scope->last_used.store(now.time_since_epoch().count(), std::memory_order_relaxed);

    const std::shared_lock lock(scope->mutex);
    if (scope->generation != generation || scope->dimensions != embedding.size()) {
        return out;
    }
    const std::size_t dims = scope->dimensions;
    std::vector<std::pair<float, std::size_t>> candidates;
    for (std::size_t slot_idx = 0; slot_idx < scope->slots.size(); ++slot_idx) {
        if (scope->slots[slot_idx].expires_at <= now) {
            continue;
        }
        const float similarity =
            dot_product(embedding.data(), scope->vectors.data() + slot_idx * dims, dims) /
            query_norm;
        out.best_similarity = std::max(out.best_similarity, similarity);
        if (similarity >= options_.threshold) {
            candidates.emplace_back(similarity, slot_idx);
        }
    }
    if (candidates.empty()) {
        return out;
    }
    // The closest candidate may be refused ("not") while a slightly farther one is an exact
    // paraphrase, so try them in order.
    std::sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
        return a.first > b.first;
    });
    const QueryTerms terms = analyze_query(normalized_query);
    for (const auto& [similarity, slot_idx] : candidates) {
        const Slot& slot = scope->slots[slot_idx];
        GuardVerdict verdict = compare_terms(terms, slot.terms);
        if (verdict.allowed) {
            out.hit = SemanticHit{slot.value, similarity, slot.query};
            return out;
        }
        if (out.refused_reason.empty()) {
            out.refused_reason = std::move(verdict.reason);
        }
    }
    return out;
}

bool SemanticCache::store(std::string scope_name,
                          std::uint64_t generation,
                          std::string normalized_query,
                          std::span<const float> embedding,
                          CachedValue value,
                          std::chrono::milliseconds ttl) {
    if (ttl.count() <= 0 || embedding.empty() || !value) {
        return false;
    }
    const float norm = norm_of(embedding);
    if (!(norm > 0.0f)) {
        return false;
    }
    QueryTerms terms = analyze_query(normalized_query);
    const auto expires_at = now_() + ttl;
    const auto scope = find_or_create_scope(std::move(scope_name));

    const std::unique_lock lock(scope->mutex);
    if (generation < scope->generation) {
        return false;  // computed from data that has changed since
    }
    if (generation > scope->generation || scope->slots.empty()) {
        scope->reset(generation, embedding.size());
    }
    if (embedding.size() != scope->dimensions) {
        return false;
    }
    std::size_t slot_idx = 0;
    if (const auto it = scope->slot_of_query.find(normalized_query);
        it != scope->slot_of_query.end()) {
        slot_idx = it->second;
    } else if (scope->slots.size() < options_.max_entries_per_scope) {
        slot_idx = scope->slots.size();
        scope->slots.emplace_back();
        scope->vectors.resize(scope->vectors.size() + scope->dimensions);
        scope->slot_of_query.emplace(normalized_query, slot_idx);
    } else {
        slot_idx = scope->next_victim;
        scope->next_victim = (scope->next_victim + 1) % options_.max_entries_per_scope;
        scope->slot_of_query.erase(scope->slots[slot_idx].query);
        scope->slot_of_query.emplace(normalized_query, slot_idx);
    }
    float* target = scope->vectors.data() + slot_idx * scope->dimensions;
    for (std::size_t dim = 0; dim < scope->dimensions; ++dim) {
        target[dim] = embedding[dim] / norm;
    }
    Slot& slot = scope->slots[slot_idx];
    slot.query = std::move(normalized_query);
    slot.terms = std::move(terms);
    slot.value = std::move(value);
    slot.expires_at = expires_at;
    return true;
}

void SemanticCache::clear() {
    const std::unique_lock lock(mutex_);
    scopes_.clear();
}

SemanticStats SemanticCache::stats() const {
    SemanticStats out;
    const std::shared_lock lock(mutex_);
    out.scopes = scopes_.size();
    for (const auto& [name, scope] : scopes_) {
        const std::shared_lock scope_lock(scope->mutex);
        out.entries += scope->slots.size();
    }
    return out;
}

}  // namespace ragd::cache
