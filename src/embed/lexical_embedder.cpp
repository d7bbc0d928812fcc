// Signed feature hashing for the built-in embedder. The hot loop works on one text at a time
// with per-thread scratch tables, so embedding allocates nothing per token.
#include "embed/lexical_embedder.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <unordered_set>

#include <xapian.h>

namespace ragd::embed {
namespace {

constexpr std::size_t kMinDimensions = 64;
constexpr std::size_t kMaxDimensions = 4096;
// Words longer than this are identifiers, hashes or base64: hashed whole, no stem or n-grams.
constexpr std::size_t kMaxWordBytes = 32;
constexpr std::size_t kMaxNgram = 8;
constexpr std::size_t kLogTableSize = 256;

// Distinct seeds keep feature kinds apart in hash space ("run" the word vs n-gram "run").
constexpr std::uint64_t kSeedWord = 0x9e3779b97f4a7c15ULL;
constexpr std::uint64_t kSeedNgram = 0xc2b2ae3d27d4eb4fULL;
constexpr std::uint64_t kSeedBigram = 0x165667b19e3779f9ULL;
constexpr std::uint64_t kSeedCompound = 0x27d4eb2f165667c5ULL;
constexpr std::uint64_t kFnvPrime = 0x100000001b3ULL;

inline std::uint64_t fnv1a(std::uint64_t seed, std::string_view bytes) {
    std::uint64_t hash = seed;
    for (unsigned char c : bytes) {
        hash = (hash ^ c) * kFnvPrime;
    }
    return hash;
}

// Murmur3's finaliser: FNV's low bits are weak, and the bucket and sign come from them.
inline std::uint64_t mix64(std::uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb3fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

// Classic English function words (the Snowball list, trimmed): they carry no topic, and a
// corpus-free embedder has no IDF to push them down.
const std::unordered_set<std::string_view>& stopwords() {
    // clang-format off
    static const std::unordered_set<std::string_view> kWords = {
        "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any",
        "are", "as", "at", "be", "because", "been", "before", "being", "below", "between",
        "both", "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during",
        "each", "few", "for", "from", "further", "had", "has", "have", "having", "he", "her",
        "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into",
        "is", "it", "its", "itself", "just", "me", "more", "most", "my", "myself", "no", "nor",
        "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours",
        "ourselves", "out", "over", "own", "same", "she", "should", "so", "some", "such",
        "than", "that", "the", "their", "theirs", "them", "themselves", "then", "there",
        "these", "they", "this", "those", "through", "to", "too", "under", "until", "up",
        "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom",
        "why", "will", "with", "would", "you", "your", "yours", "yourself", "yourselves",
        "also", "may", "must", "might", "shall", "e", "g", "etc", "eg", "ie", "via", "per",
    };
    // clang-format on
    return kWords;
}

// Stand-in for IDF: very short tokens and bare numbers are usually noise.
inline float rarity_weight(std::string_view word, bool all_digits) {
    if (all_digits) {
        return 0.5f;
    }
    switch (word.size()) {
        case 1:
            return 0.0f;
        case 2:
            return 0.5f;
        case 3:
            return 0.8f;
        default:
            return 1.0f;
    }
}

/// Per-text feature counts: open addressing keyed by the 64-bit feature hash, so that the
/// sublinear TF is applied per feature, not per bucket. Key, count and weight share a slot:
/// one cache line per probe. A slot keeps mix64(hash | 1) rather than the hash: mix64 is a
/// bijection, so equal keys are still equal hashes, and the mixed value is what both the slot
/// index and the output bucket come from, computed once per occurrence instead of again per
/// feature. It is never 0 (mix64 maps only 0 to 0), which marks an empty slot.
class FeatureTable {
public:
    void clear() {
        for (std::uint32_t slot : used_) {
            slots_[slot].key = 0;
        }
        used_.clear();
    }

    void add(std::uint64_t key, float weight) {
        if (weight <= 0.0f) {
            return;
        }
        key = mix64(key | 1);
        if ((used_.size() + 1) * 2 > slots_.size()) {
            grow();
        }
        std::size_t mask = slots_.size() - 1;
        std::size_t index = key & mask;
        while (slots_[index].key != 0 && slots_[index].key != key) {
            index = (index + 1) & mask;
        }
        Slot& slot = slots_[index];
        if (slot.key == 0) {
            slot = Slot{key, 1, weight};
            used_.push_back(static_cast<std::uint32_t>(index));
        } else {
            ++slot.count;
            slot.weight = std::max(slot.weight, weight);
        }
    }

    /// Visits features (as mixed keys) in first-seen order, so that float sums are reproducible.
    template <class Visit>
    void for_each(Visit&& visit) const {
        for (std::uint32_t index : used_) {
            const Slot& slot = slots_[index];
            visit(slot.key, slot.count, slot.weight);
        }
    }

private:
    struct Slot {
        std::uint64_t key = 0;
        std::uint32_t count = 0;
        float weight = 0.0f;
    };

    void grow() {
        std::vector<Slot> old_slots = std::move(slots_);
        std::vector<std::uint32_t> old_used = std::move(used_);
        std::size_t capacity = std::max<std::size_t>(1024, old_slots.size() * 2);
        slots_.assign(capacity, Slot{});
        used_.clear();
        used_.reserve(capacity / 2);
        std::size_t mask = capacity - 1;
        for (std::uint32_t old_index : old_used) {
            std::size_t index = old_slots[old_index].key & mask;
            while (slots_[index].key != 0) {
                index = (index + 1) & mask;
            }
            slots_[index] = old_slots[old_index];
            used_.push_back(static_cast<std::uint32_t>(index));
        }
    }

    std::vector<Slot> slots_;
    std::vector<std::uint32_t> used_;
};

/// Word hash → stem hash (0 for a stopword), open addressing: the lookup runs for every word of
/// every text, and a node-based map cost a chain of cache misses each time. Word hash 0 marks
/// an empty slot, so that one hash is never cached (stem_hash() then recomputes it, same value).
class StemCache {
public:
    bool find(std::uint64_t word_hash, std::uint64_t& stem) const {
        if (word_hash == 0 || slots_.empty()) {
            return false;
        }
        std::size_t mask = slots_.size() - 1;
        for (std::size_t index = mix64(word_hash) & mask;; index = (index + 1) & mask) {
            if (slots_[index].word == word_hash) {
                stem = slots_[index].stem;
                return true;
            }
            if (slots_[index].word == 0) {
                return false;
            }
        }
    }

    void insert(std::uint64_t word_hash, std::uint64_t stem) {
        if (word_hash == 0) {
            return;
        }
        if ((size_ + 1) * 2 > slots_.size()) {
            if (slots_.size() >= kMaxSlots) {
                std::fill(slots_.begin(), slots_.end(), Slot{});  // full: start over
                size_ = 0;
            } else {
                grow();
            }
        }
        std::size_t mask = slots_.size() - 1;
        std::size_t index = mix64(word_hash) & mask;
        while (slots_[index].word != 0 && slots_[index].word != word_hash) {
            index = (index + 1) & mask;
        }
        if (slots_[index].word == 0) {
            ++size_;
        }
        slots_[index] = Slot{word_hash, stem};
    }

private:
    struct Slot {
        std::uint64_t word = 0;
        std::uint64_t stem = 0;
    };
    static constexpr std::size_t kMaxSlots = std::size_t{1} << 19;  // 8 MiB, 256k words

    void grow() {
        std::vector<Slot> old_slots = std::move(slots_);
        slots_.assign(std::max<std::size_t>(4096, old_slots.size() * 2), Slot{});
        size_ = 0;
        for (const Slot& slot : old_slots) {
            if (slot.word != 0) {
                insert(slot.word, slot.stem);
            }
        }
    }

    std::vector<Slot> slots_;
    std::size_t size_ = 0;
};

/// Per-thread state: Xapian::Stem is not safe to share, and caching word → stem hash keeps the
/// Snowball stemmer (and its std::string round trip) off the hot path for repeated words.
struct ThreadScratch {
    Xapian::Stem stemmer{"english"};
    StemCache stem_cache;
    FeatureTable features;
    std::string word_buffer;
};

ThreadScratch& scratch() {
    thread_local ThreadScratch state;
    return state;
}

inline bool is_word_byte(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

inline char lower_ascii(unsigned char c) {
    return static_cast<char>((c >= 'A' && c <= 'Z') ? c + 32 : c);
}

/// Returns the stem hash of a lower-case word, or 0 for a stopword.
std::uint64_t stem_hash(ThreadScratch& state, std::string_view word) {
    std::uint64_t word_hash = fnv1a(kSeedWord, word);
    std::uint64_t result = 0;
    if (state.stem_cache.find(word_hash, result)) {
        return result;
    }
    if (!stopwords().contains(word)) {
        state.word_buffer.assign(word);
        std::string stem = state.stemmer(state.word_buffer);
        result = fnv1a(kSeedWord, stem) | 1;
    }
    state.stem_cache.insert(word_hash, result);
    return result;
}

void add_ngrams(const LexicalEmbedderOptions& options,
                std::string_view word,
                float weight,
                FeatureTable& features) {
    // Boundary markers make prefixes and suffixes distinct features ("<ind" vs "ind").
    std::array<char, kMaxWordBytes + 2> marked{};
    marked[0] = '<';
    std::memcpy(marked.data() + 1, word.data(), word.size());
    marked[word.size() + 1] = '>';
    std::size_t length = word.size() + 2;
    for (std::size_t begin = 0; begin + options.ngram_min <= length; ++begin) {
        std::uint64_t hash = kSeedNgram;
        std::size_t end = std::min(length, begin + options.ngram_max);
        for (std::size_t pos = begin; pos < end; ++pos) {
            hash = (hash ^ static_cast<unsigned char>(marked[pos])) * kFnvPrime;
            std::size_t n = pos - begin + 1;
            if (n >= options.ngram_min) {
                features.add(hash + n, weight);
            }
        }
    }
}

void extract_features(const LexicalEmbedderOptions& options,
                      std::string_view text,
                      ThreadScratch& state) {
    FeatureTable& features = state.features;
    std::array<char, kMaxWordBytes> word_chars{};
    std::uint64_t previous_stem = 0;  // for bigrams; reset by stopwords and punctuation runs
    std::uint64_t compound_hash = kSeedCompound;
    std::size_t compound_parts = 0;

    auto finish_compound = [&]() {
        if (compound_parts >= 2 && options.compound_weight > 0.0f) {
            features.add(compound_hash, options.compound_weight);
        }
        compound_hash = kSeedCompound;
        compound_parts = 0;
    };

    std::size_t pos = 0;
    const std::size_t size = text.size();
    while (pos < size) {
        auto c = static_cast<unsigned char>(text[pos]);
        if (!is_word_byte(c)) {
            if (c != '_') {
                finish_compound();
                if (c != ' ' && c != '\n' && c != '\t' && c != '-' && c != '\'') {
                    previous_stem = 0;  // sentence or clause punctuation breaks a bigram
                }
            } else {
                compound_hash = (compound_hash ^ '_') * kFnvPrime;
            }
            ++pos;
            continue;
        }
        std::size_t length = 0;
        bool all_digits = true;
        std::uint64_t whole_hash = kSeedWord;
        while (pos < size && is_word_byte(static_cast<unsigned char>(text[pos]))) {
            char lower = lower_ascii(static_cast<unsigned char>(text[pos]));
            all_digits = all_digits && lower >= '0' && lower <= '9';
            if (length < kMaxWordBytes) {
                word_chars[length] = lower;
            }
            whole_hash = (whole_hash ^ static_cast<unsigned char>(lower)) * kFnvPrime;
            compound_hash = (compound_hash ^ static_cast<unsigned char>(lower)) * kFnvPrime;
            ++length;
            ++pos;
        }
        ++compound_parts;
        if (length > kMaxWordBytes) {
            features.add(whole_hash, options.word_weight * 0.5f);
            previous_stem = 0;
            continue;
        }
        std::string_view word(word_chars.data(), length);
        float rarity = rarity_weight(word, all_digits);
        std::uint64_t stem = rarity > 0.0f ? stem_hash(state, word) : 0;
        if (stem == 0) {
            previous_stem = 0;
            continue;
        }
        features.add(stem, options.word_weight * rarity);
        if (options.bigram_weight > 0.0f && previous_stem != 0) {
            features.add(mix64(previous_stem ^ kSeedBigram) ^ stem, options.bigram_weight);
        }
        previous_stem = stem;
        if (options.ngram_weight > 0.0f && !all_digits) {
            add_ngrams(options, word, options.ngram_weight * rarity, features);
        }
    }
    finish_compound();
}

std::uint64_t options_fingerprint(const LexicalEmbedderOptions& options) {
    std::string text =
        std::to_string(options.word_weight) + "/" + std::to_string(options.bigram_weight) + "/" +
        std::to_string(options.ngram_weight) + "/" + std::to_string(options.ngram_min) + "/" +
        std::to_string(options.ngram_max) + "/" + std::to_string(options.compound_weight);
    return mix64(fnv1a(kSeedWord, text));
}

}  // namespace

LexicalHashEmbedder::LexicalHashEmbedder(const LexicalEmbedderOptions& options)
    : options_(options) {
    if (options.dimensions < kMinDimensions || options.dimensions > kMaxDimensions) {
        throw std::invalid_argument("lexical embedder dimensions " +
                                    std::to_string(options.dimensions) + " is outside 64..4096");
    }
    if (options.ngram_min < 2 || options.ngram_max > kMaxNgram ||
        options.ngram_min > options.ngram_max) {
        throw std::invalid_argument("lexical embedder n-gram range " +
                                    std::to_string(options.ngram_min) + ".." +
                                    std::to_string(options.ngram_max) + " is outside 2..8");
    }
    model_id_ = "lexical-hash-v1-" + std::to_string(options.dimensions);
    LexicalEmbedderOptions defaults;
    defaults.dimensions = options.dimensions;
    if (options_fingerprint(options) != options_fingerprint(defaults)) {
        char suffix[24];
        std::snprintf(suffix,
                      sizeof suffix,
                      "-o%08x",
                      static_cast<unsigned>(options_fingerprint(options) & 0xffffffffU));
        model_id_ += suffix;
    }
}

void LexicalHashEmbedder::embed_one(std::string_view text, Vector& out) const {
    out.assign(options_.dimensions, 0.0f);
    ThreadScratch& state = scratch();
    state.features.clear();
    extract_features(options_, text, state);
    const std::uint64_t dims = options_.dimensions;
    // A mask equals the modulo for a power of two (the default 512) and avoids a division per
    // feature; counts are small, so their logarithms come from a table (same logf, same bits).
    const bool power_of_two = (dims & (dims - 1)) == 0;
    static const std::array<float, kLogTableSize> kLogOfCount = [] {
        std::array<float, kLogTableSize> table{};
        for (std::size_t count = 1; count < kLogTableSize; ++count) {
            table[count] = std::log(static_cast<float>(count));
        }
        return table;
    }();
    state.features.for_each([&](std::uint64_t mixed, std::uint32_t count, float weight) {
        float log_count =
            count < kLogTableSize ? kLogOfCount[count] : std::log(static_cast<float>(count));
        float value = weight * (1.0f + log_count);
        // The sign comes from a bit the bucket does not use, so collisions cancel on average.
        std::uint64_t bucket = power_of_two ? (mixed >> 1) & (dims - 1) : (mixed >> 1) % dims;
        out[bucket] += (mixed & 1) ? value : -value;
    });
    double norm_sq = 0;
    for (float value : out) {
        norm_sq += static_cast<double>(value) * value;
    }
    if (norm_sq > 0) {
        auto scale = static_cast<float>(1.0 / std::sqrt(norm_sq));
        for (float& value : out) {
            value *= scale;
        }
    }
}

core::Result<std::vector<Vector>> LexicalHashEmbedder::embed(
    std::span<const std::string_view> texts, EmbedKind /*kind: symmetric model*/) const {
    std::vector<Vector> vectors(texts.size());
    for (std::size_t text_idx = 0; text_idx < texts.size(); ++text_idx) {
        embed_one(texts[text_idx], vectors[text_idx]);
    }
    return vectors;
}

std::unique_ptr<Embedder> make_lexical_embedder(std::size_t dimensions) {
    LexicalEmbedderOptions options;
    options.dimensions = dimensions;
    return std::make_unique<LexicalHashEmbedder>(options);
}

std::unique_ptr<Embedder> make_lexical_embedder(const LexicalEmbedderOptions& options) {
    return std::make_unique<LexicalHashEmbedder>(options);
}

std::string compose_embedding_text(std::string_view title,
                                   std::span<const std::string> heading_path,
                                   std::string_view text) {
    std::string out;
    out.reserve(text.size() + 2 * title.size() + 64);
    // Twice the title: one short line would otherwise drown in a 300-word body.
    for (int repeat = 0; repeat < 2 && !title.empty(); ++repeat) {
        out.append(title);
        out.append(".\n");
    }
    for (const std::string& heading : heading_path) {
        if (heading == title) {
            continue;
        }
        out.append(heading);
        out.append(".\n");
    }
    out.append(text);
    return out;
}

}  // namespace ragd::embed
