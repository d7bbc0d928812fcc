// Deterministic answer text: words of the question mixed with filler, in sentences that cite
// the prompt's numbered passages. Cheap (no allocation per word beyond the result's growth) since
// it runs once per request on the I/O thread.
#include "mock/text_generator.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include "mock/options.hpp"

namespace ragd::mock {

namespace {

/// Longest message word reused in answers, in bytes; longer "words" (URLs, base64) are skipped.
constexpr std::size_t kMaxWordBytes = 24;
/// At most this many distinct message words feed the answer.
constexpr std::size_t kMaxVocabulary = 64;
constexpr std::size_t kMinSentenceWords = 6;
constexpr std::size_t kMaxSentenceWords = 14;

constexpr std::array<std::string_view, 40> kFiller = {
    "the",       "of",       "and",       "to",      "in",       "is",      "that",      "for",
    "with",      "as",       "on",        "by",      "this",     "which",   "are",       "from",
    "results",   "system",   "source",    "context", "answer",   "shows",   "between",   "over",
    "described", "based",    "according", "data",    "process",  "several", "important", "when",
    "used",      "provides", "also",      "example", "approach", "each",    "after",     "within",
};

constexpr std::array<std::string_view, 24> kStopwords = {
    "the", "and", "for",  "are",  "was",  "were", "with", "that", "this", "what", "which", "who",
    "how", "why", "when", "does", "from", "into", "your", "you",  "have", "has",  "not",   "can",
};

bool is_word_byte(unsigned char byte) {
    // Bytes of multi-byte UTF-8 sequences count as word bytes, so a word never splits one.
    return std::isalnum(byte) != 0 || byte >= 0x80 || byte == '-' || byte == '\'';
}

std::uint64_t fnv1a(std::string_view text) {
    std::uint64_t hash = 0xcbf29ce484222325ULL;
    for (const char byte : text) {
        hash = (hash ^ static_cast<unsigned char>(byte)) * 0x100000001b3ULL;
    }
    return hash;
}

/// The message's distinct words (ASCII lower-cased), in order of first use, minus stopwords
/// and numbers.
std::vector<std::string> vocabulary_of(std::string_view text) {
    std::vector<std::string> words;
    std::size_t pos = 0;
    while (pos < text.size() && words.size() < kMaxVocabulary) {
        while (pos < text.size() && !is_word_byte(static_cast<unsigned char>(text[pos]))) {
            ++pos;
        }
        const std::size_t start = pos;
        bool has_letter = false;
        while (pos < text.size() && is_word_byte(static_cast<unsigned char>(text[pos]))) {
            has_letter = has_letter || std::isdigit(static_cast<unsigned char>(text[pos])) == 0;
            ++pos;
        }
        const std::size_t length = pos - start;
        if (length < 3 || length > kMaxWordBytes || !has_letter) {
            continue;
        }
        std::string word(text.substr(start, length));
        for (char& byte : word) {
            byte = static_cast<char>(std::tolower(static_cast<unsigned char>(byte)));
        }
        if (std::find(kStopwords.begin(), kStopwords.end(), word) != kStopwords.end() ||
            std::find(words.begin(), words.end(), word) != words.end()) {
            continue;
        }
        words.push_back(std::move(word));
    }
    return words;
}

}  // namespace

std::string_view Completion::token(std::size_t index) const {
    return tokens(index, index + 1);
}

std::string_view Completion::tokens(std::size_t first, std::size_t last) const {
    if (first >= last) {
        return {};
    }
    const std::size_t begin = first == 0 ? 0 : token_ends[first - 1];
    return std::string_view(text).substr(begin, token_ends[last - 1] - begin);
}

std::vector<unsigned> passage_numbers(std::string_view text) {
    std::vector<unsigned> numbers;
    for (std::size_t open = text.find('['); open != std::string_view::npos;
         open = text.find('[', open + 1)) {
        unsigned number = 0;
        std::size_t pos = open + 1;
        while (pos < text.size() && pos - open <= 3 &&
               std::isdigit(static_cast<unsigned char>(text[pos])) != 0) {
            number = number * 10 + static_cast<unsigned>(text[pos] - '0');
            ++pos;
        }
        if (pos < text.size() && text[pos] == ']' && pos > open + 1 && number >= 1 &&
            std::find(numbers.begin(), numbers.end(), number) == numbers.end()) {
            numbers.push_back(number);
        }
    }
    return numbers;
}

std::size_t count_words(std::string_view text) {
    std::size_t words = 0;
    bool in_word = false;
    for (const char byte : text) {
        const bool space = std::isspace(static_cast<unsigned char>(byte)) != 0;
        words += !space && !in_word ? 1 : 0;
        in_word = !space;
    }
    return words;
}

TokenGenerator::TokenGenerator(std::string_view last_user_message,
                               std::uint64_t seed,
                               std::size_t token_count)
    : vocabulary_(vocabulary_of(last_user_message)),
      passages_(passage_numbers(last_user_message)),
      rng_state_(mix64(seed) ^ fnv1a(last_user_message)),
      token_count_(token_count) {}

std::uint64_t TokenGenerator::next_random() {
    return mix64(rng_state_++);
}

void TokenGenerator::append_next(std::string& out) {
    const bool sentence_start = sentence_left_ == 0;
    if (sentence_start) {
        sentence_left_ =
            kMinSentenceWords + random_below(kMaxSentenceWords - kMinSentenceWords + 1);
    }
    if (produced_ > 0) {
        out += ' ';
    }
    // Two words in three come from the question, so answers "talk about" the prompt.
    const bool from_message = !vocabulary_.empty() && random_below(3) != 0;
    const std::string_view word =
        from_message ? std::string_view(vocabulary_[random_below(vocabulary_.size())])
                     : kFiller[random_below(kFiller.size())];
    const std::size_t word_start = out.size();
    out += word;
    if (sentence_start) {
        out[word_start] =
            static_cast<char>(std::toupper(static_cast<unsigned char>(out[word_start])));
    }
    --sentence_left_;
    ++produced_;
    if (sentence_left_ == 0 || produced_ == token_count_) {
        if (!passages_.empty()) {
            out += " [";
            out += std::to_string(passages_[sentence_index_ % passages_.size()]);
            out += ']';
        }
        out += '.';
        sentence_left_ = 0;
        ++sentence_index_;
    }
}

Completion generate_completion(std::string_view last_user_message,
                               std::uint64_t seed,
                               std::size_t token_count) {
    TokenGenerator generator(last_user_message, seed, token_count);
    Completion completion;
    completion.text.reserve(token_count * 8);
    completion.token_ends.reserve(token_count);
    while (!generator.done()) {
        generator.append_next(completion.text);
        completion.token_ends.push_back(static_cast<std::uint32_t>(completion.text.size()));
    }
    return completion;
}

}  // namespace ragd::mock
