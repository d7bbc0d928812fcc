// Word splitting follows Xapian's TermGenerator closely enough that the BM25 tuning done with
// Xapian (title and heading weights, identifier parts) carries over to the in-memory index.
#include "retrieval/bm25_terms.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_set>

#include <xapian.h>

#include "retrieval/flat_string_map.hpp"

namespace ragd::retrieval {
namespace {

// Xapian's TermGenerator drops longer words: they are hashes, base64 or URLs, never queried.
constexpr std::size_t kMaxWordBytes = 64;
// Distinct words cached per thread before the cache starts over (~20 MB at worst).
constexpr std::size_t kMaxCachedWords = 200000;
constexpr unsigned kRightSingleQuote = 0x2019;

struct CodePoint {
    unsigned value = 0;
    std::size_t bytes = 1;
};

/// Decodes the UTF-8 sequence at `pos`; an invalid byte decodes as itself (a non-word char).
CodePoint decode(std::string_view text, std::size_t pos) {
    auto lead = static_cast<unsigned char>(text[pos]);
    if (lead < 0x80) {
        return {lead, 1};
    }
    std::size_t length = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 0;
    if (length == 0 || pos + length > text.size()) {
        return {0xfffd, 1};
    }
    unsigned value = lead & (0x7f >> length);
    for (std::size_t at = 1; at < length; ++at) {
        auto next = static_cast<unsigned char>(text[pos + at]);
        if ((next & 0xc0) != 0x80) {
            return {0xfffd, 1};
        }
        value = (value << 6) | (next & 0x3f);
    }
    return {value, length};
}

inline bool is_word_char(unsigned cp) {
    if (cp < 0x80) {
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') ||
               cp == '_';
    }
    return cp != 0xfffd && Xapian::Unicode::is_wordchar(cp);
}

inline bool is_digit(unsigned cp) {
    return cp >= '0' && cp <= '9';
}

const std::unordered_set<std::string_view>& query_stopwords() {
    // The list the Xapian backend's query stopper uses.
    static const std::unordered_set<std::string_view> kWords = {
        "a",    "an",  "and",  "are", "as",  "at",    "be",   "by",   "for",
        "from", "in",  "into", "is",  "it",  "its",   "of",   "on",   "or",
        "that", "the", "this", "to",  "was", "which", "with", "when", "will"};
    return kWords;
}

/// Lower-case word → stem, with words and stems packed into append-only blocks so a returned
/// stem stays put until clear(). Looked up for every word indexed.
class StemCache {
public:
    /// The stem of `word`, computing and caching it on a miss.
    std::string_view stem(const std::string& word, Xapian::Stem& stemmer) {
        const std::uint64_t hash = Words::hash_of(word);
        if (const std::string_view* found = words_.find(word, hash)) {
            return *found;
        }
        const std::string stemmed = stemmer(word);
        const std::string_view stored_word = store(word);
        const std::string_view stored_stem = stemmed == word ? stored_word : store(stemmed);
        return *words_.insert(stored_word, hash, stored_stem);
    }

    std::size_t size() const { return words_.size(); }

    void clear() {
        words_.clear();
        blocks_.clear();
        block_used_ = kBlockBytes;
    }

private:
    using Words = FlatStringMap<std::string_view>;
    static constexpr std::size_t kBlockBytes = std::size_t{64} * 1024;

    std::string_view store(std::string_view bytes) {
        if (block_used_ + bytes.size() > kBlockBytes) {
            // Words are at most kMaxWordBytes; a longer one would get a block of its own.
            blocks_.push_back(std::make_unique<char[]>(std::max(kBlockBytes, bytes.size())));
            block_used_ = 0;
        }
        char* at = blocks_.back().get() + block_used_;
        std::memcpy(at, bytes.data(), bytes.size());
        block_used_ += bytes.size();
        return {at, bytes.size()};
    }

    Words words_;
    std::vector<std::unique_ptr<char[]>> blocks_;
    std::size_t block_used_ = kBlockBytes;
};

}  // namespace

struct TermExtractor::State {
    Xapian::Stem stemmer{"english"};
    StemCache stems;   ///< lower-case word → stem
    std::string word;  ///< scratch: the current word
    std::string part;  ///< scratch: an identifier part
};

TermExtractor::TermExtractor() : state_(std::make_unique<State>()) {}
TermExtractor::~TermExtractor() = default;

TermExtractor& TermExtractor::for_this_thread() {
    thread_local TermExtractor extractor;
    return extractor;
}

void TermExtractor::begin() {
    if (state_->stems.size() > kMaxCachedWords) {
        state_->stems.clear();
    }
}

void TermExtractor::extract(std::string_view text,
                            const ExtractOptions& options,
                            std::vector<TermOccurrence>& out) {
    State& state = *state_;
    auto emit = [&](const std::string& lower, std::uint32_t wdf) {
        if (lower.empty() || lower.size() > kMaxWordBytes) {
            return;
        }
        if (options.skip_stopwords && query_stopwords().contains(lower)) {
            return;
        }
        const std::string_view stem = state.stems.stem(lower, state.stemmer);
        if (!stem.empty()) {
            out.push_back(TermOccurrence{stem, wdf});
        }
    };

    std::size_t pos = 0;
    const std::size_t size = text.size();
    while (pos < size) {
        CodePoint cp = decode(text, pos);
        if (!is_word_char(cp.value)) {
            pos += cp.bytes;
            continue;
        }
        std::string& word = state.word;
        word.clear();
        bool ascii = true;
        bool has_underscore = false;
        unsigned previous = 0;
        while (pos < size) {
            cp = decode(text, pos);
            if (is_word_char(cp.value)) {
                word.append(text.substr(pos, cp.bytes));
                ascii = ascii && cp.value < 0x80;
                has_underscore = has_underscore || cp.value == '_';
                previous = cp.value;
                pos += cp.bytes;
                continue;
            }
            // "don't" and "planner's" stay one word (the stemmer strips the possessive);
            // "9.6" and "1,000" too, as Xapian keeps them.
            bool apostrophe = cp.value == '\'' || cp.value == kRightSingleQuote;
            bool separator = (cp.value == '.' || cp.value == ',') && is_digit(previous);
            if ((apostrophe || separator) && pos + cp.bytes < size) {
                CodePoint next = decode(text, pos + cp.bytes);
                if ((apostrophe && is_word_char(next.value)) ||
                    (separator && is_digit(next.value))) {
                    word.push_back(apostrophe ? '\'' : static_cast<char>(cp.value));
                    pos += cp.bytes;
                    continue;
                }
            }
            break;
        }
        // "C++" and "C#": up to three trailing '+' or '#' when no word character follows.
        std::size_t suffix = 0;
        while (pos + suffix < size && suffix < 3 &&
               (text[pos + suffix] == '+' || text[pos + suffix] == '#')) {
            ++suffix;
        }
        if (suffix > 0 &&
            (pos + suffix == size || !is_word_char(decode(text, pos + suffix).value))) {
            word.append(text.substr(pos, suffix));
            pos += suffix;
        }
        if (ascii) {
            for (char& c : word) {
                if (c >= 'A' && c <= 'Z') {
                    c = static_cast<char>(c + ('a' - 'A'));
                }
            }
        } else {
            word = Xapian::Unicode::tolower(word);
        }
        emit(word, options.wdf);
        if (options.identifier_parts && has_underscore) {
            // The parts count once each, whatever field they came from (as tuned with Xapian).
            std::size_t begin = 0;
            while (begin <= word.size()) {
                std::size_t end = std::min(word.find('_', begin), word.size());
                if (end > begin) {
                    state.part.assign(word, begin, end - begin);
                    emit(state.part, 1);
                }
                begin = end + 1;
            }
        }
    }
}

}  // namespace ragd::retrieval
