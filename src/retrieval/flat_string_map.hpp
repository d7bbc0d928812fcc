// A string-keyed hash map for the term lookups of BM25 indexing (word → stem, stem → term id),
// which run once per word of every chunk indexed. Open addressing over one slot array with the
// key's hash stored beside it: a lookup touches one slot and, on a hash match, the key bytes.
// std::unordered_map spent most of the same lookups in cache misses on its nodes (profile in
// bench/README.md). The map does not own key bytes: callers keep them alive and in place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace ragd::retrieval {

template <class Value>
class FlatStringMap {
public:
    /// FNV-1a with a final mix: terms are short, and the low bits pick the slot.
    static std::uint64_t hash_of(std::string_view key) {
        std::uint64_t hash = 0xcbf29ce484222325ULL;
        for (char c : key) {
            hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
        }
        return hash ^ (hash >> 29);
    }

    /// The value of `key` (whose hash_of is `hash`), or nullptr. Valid until the next insert.
    Value* find(std::string_view key, std::uint64_t hash) {
        return const_cast<Value*>(std::as_const(*this).find(key, hash));
    }
    const Value* find(std::string_view key, std::uint64_t hash) const {
        if (slots_.empty()) {
            return nullptr;
        }
        for (std::size_t index = hash & mask_;; index = (index + 1) & mask_) {
            const Slot& slot = slots_[index];
            if (!slot.used) {
                return nullptr;
            }
            if (slot.hash == hash && slot.key == key) {
                return &slot.value;
            }
        }
    }

    /// Adds `key` (not present; its bytes must stay put until clear()) and returns its value.
    /// Valid until the next insert.
    Value* insert(std::string_view key, std::uint64_t hash, Value value) {
        if ((size_ + 1) * 2 > slots_.size()) {
            grow();
        }
        Slot& slot = free_slot(hash);
        slot = Slot{hash, key, std::move(value), true};
        ++size_;
        return &slot.value;
    }

    std::size_t size() const { return size_; }

    void clear() {
        slots_.clear();
        mask_ = 0;
        size_ = 0;
    }

private:
    struct Slot {
        std::uint64_t hash = 0;
        std::string_view key;
        Value value{};
        bool used = false;
    };

    Slot& free_slot(std::uint64_t hash) {
        std::size_t index = hash & mask_;
        while (slots_[index].used) {
            index = (index + 1) & mask_;
        }
        return slots_[index];
    }

    void grow() {
        std::vector<Slot> old = std::move(slots_);
        slots_.assign(old.empty() ? 1024 : old.size() * 2, Slot{});
        mask_ = slots_.size() - 1;
        for (Slot& slot : old) {
            if (slot.used) {
                free_slot(slot.hash) = std::move(slot);
            }
        }
    }

    std::vector<Slot> slots_;
    std::size_t mask_ = 0;
    std::size_t size_ = 0;
};

}  // namespace ragd::retrieval
