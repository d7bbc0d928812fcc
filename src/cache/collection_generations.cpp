#include "cache/collection_generations.hpp"

#include <algorithm>
#include <mutex>

namespace ragd::cache {

std::uint64_t CollectionGenerations::get(std::string_view collection) const {
    const std::shared_lock lock(mutex_);
    const auto it = generations_.find(collection);
    return it == generations_.end() ? floor_ : it->second;
}

std::uint64_t CollectionGenerations::bump(std::string_view collection) {
    const std::unique_lock lock(mutex_);
    auto it = generations_.find(collection);
    if (it == generations_.end()) {
        it = generations_.emplace(std::string(collection), floor_).first;
    }
    return ++it->second;
}

void CollectionGenerations::bump_all() {
    const std::unique_lock lock(mutex_);
    // Known collections start at the floor and only grow, so they stay >= floor_.
    ++floor_;
    for (auto& [name, generation] : generations_) {
        ++generation;
    }
}

std::uint64_t CollectionGenerations::advance_to(std::string_view collection,
                                                std::uint64_t generation) {
    const std::unique_lock lock(mutex_);
    auto it = generations_.find(collection);
    if (it == generations_.end()) {
        it = generations_.emplace(std::string(collection), floor_).first;
    }
    it->second = std::max(it->second, generation);
    return it->second;
}

}  // namespace ragd::cache
