// Tokeniser, stop list and suffix stripper behind the extractive answerer's term overlap.
// Precision matters less than consistency: question and sentences go through the same code.
#include "llm/text_terms.hpp"

#include <algorithm>
#include <array>

namespace ragd::llm {

namespace {

bool is_ascii_alnum(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

std::size_t utf8_length(unsigned char lead) {
    if (lead >= 0xf0) {
        return 4;
    }
    if (lead >= 0xe0) {
        return 3;
    }
    if (lead >= 0xc0) {
        return 2;
    }
    return 1;  // a stray continuation byte: consume it alone
}

/// Latin-1 punctuation (U+00A0–U+00BF, also ×/÷), general punctuation (U+2000–U+206F) and CJK
/// punctuation (U+3000–U+303F) separate words even though they are non-ASCII.
bool is_unicode_separator(std::string_view seq) {
    const auto b0 = static_cast<unsigned char>(seq[0]);
    const auto b1 = seq.size() > 1 ? static_cast<unsigned char>(seq[1]) : 0;
    if (seq.size() == 2 && b0 == 0xc2 && b1 >= 0xa0 && b1 <= 0xbf) {
        return true;
    }
    if (seq.size() == 2 && b0 == 0xc3 && (b1 == 0x97 || b1 == 0xb7)) {
        return true;
    }
    if (seq.size() == 3 && b0 == 0xe2 && (b1 == 0x80 || b1 == 0x81)) {
        return true;
    }
    if (seq.size() == 3 && b0 == 0xe3 && b1 == 0x80) {
        return true;
    }
    // Fullwidth punctuation used with CJK: ！（），．：；？
    if (seq.size() == 3 && b0 == 0xef && b1 == 0xbc) {
        const auto b2 = static_cast<unsigned char>(seq[2]);
        return b2 == 0x81 || b2 == 0x88 || b2 == 0x89 || b2 == 0x8c || b2 == 0x8e || b2 == 0x9a ||
               b2 == 0x9b || b2 == 0x9f;
    }
    return false;
}

/// Kana and CJK ideographs (U+3040–U+9FFF): one character is one word.
bool is_cjk(std::string_view seq) {
    if (seq.size() != 3) {
        return false;
    }
    const auto b0 = static_cast<unsigned char>(seq[0]);
    const auto b1 = static_cast<unsigned char>(seq[1]);
    return (b0 == 0xe3 && b1 >= 0x81) || (b0 >= 0xe4 && b0 <= 0xe9);
}

bool ends_with(std::string_view word, std::string_view suffix) {
    return word.size() >= suffix.size() && word.substr(word.size() - suffix.size()) == suffix;
}

bool is_vowel(char c) {
    return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || c == 'y';
}

bool has_vowel(std::string_view s) {
    return std::any_of(s.begin(), s.end(), is_vowel);
}

// Sorted for binary search.
constexpr auto kStopwords = std::to_array<std::string_view>({
    "a",     "about", "above",  "after",  "again", "all",  "also",    "am",      "an",    "and",
    "any",   "are",   "as",     "at",     "be",    "been", "before",  "being",   "below", "both",
    "but",   "by",    "can",    "could",  "did",   "do",   "does",    "doing",   "down",  "during",
    "each",  "else",  "etc",    "few",    "for",   "from", "further", "get",     "gets",  "had",
    "has",   "have",  "having", "he",     "her",   "here", "hers",    "him",     "his",   "how",
    "i",     "if",    "in",     "into",   "is",    "it",   "its",     "itself",  "just",  "may",
    "me",    "might", "more",   "most",   "much",  "must", "my",      "of",      "off",   "on",
    "once",  "only",  "or",     "other",  "our",   "ours", "out",     "over",    "own",   "same",
    "shall", "she",   "should", "so",     "some",  "such", "than",    "that",    "the",   "their",
    "them",  "then",  "there",  "these",  "they",  "this", "those",   "through", "to",    "too",
    "under", "until", "up",     "us",     "very",  "was",  "we",      "were",    "what",  "when",
    "where", "which", "while",  "who",    "whom",  "why",  "will",    "with",    "would", "you",
    "your",  "yours", "tell",   "please", "s",     "t",    "let",     "way",     "using", "use",
});

const std::array<std::string_view, kStopwords.size()>& sorted_stopwords() {
    static const auto sorted = [] {
        auto copy = kStopwords;
        std::sort(copy.begin(), copy.end());
        return copy;
    }();
    return sorted;
}

}  // namespace

std::vector<std::string> tokenize(std::string_view text) {
    std::vector<std::string> words;
    std::string current;
    auto flush = [&] {
        if (!current.empty()) {
            words.push_back(std::move(current));
            current.clear();
        }
    };
    std::size_t pos = 0;
    while (pos < text.size()) {
        const auto c = static_cast<unsigned char>(text[pos]);
        if (c < 0x80) {
            if (is_ascii_alnum(c)) {
                current.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c));
            } else if (c == '\'' && !current.empty() && pos + 1 < text.size() &&
                       is_ascii_alnum(static_cast<unsigned char>(text[pos + 1]))) {
                // "don't", "ragd's": drop the apostrophe's tail so "ragd's" meets "ragd".
                flush();
                while (pos + 1 < text.size() &&
                       is_ascii_alnum(static_cast<unsigned char>(text[pos + 1]))) {
                    ++pos;
                }
            } else {
                flush();
            }
            ++pos;
            continue;
        }
        const std::size_t len = std::min(utf8_length(c), text.size() - pos);
        const std::string_view seq = text.substr(pos, len);
        if (is_unicode_separator(seq)) {
            flush();
        } else if (is_cjk(seq)) {
            flush();
            words.emplace_back(seq);
        } else {
            current.append(seq);
        }
        pos += len;
    }
    flush();
    return words;
}

bool is_stopword(std::string_view word) {
    const auto& words = sorted_stopwords();
    return std::binary_search(words.begin(), words.end(), word);
}

std::string stem(std::string_view input) {
    std::string word(input);
    if (word.size() <= 3 ||
        std::any_of(word.begin(), word.end(), [](char c) { return (c & 0x80) != 0; })) {
        return word;
    }
    // Plurals: "-es" after a sibilant ("classes", "indexes", "matches"), "-ies", plain "-s".
    if (ends_with(word, "sses") || ends_with(word, "xes") || ends_with(word, "ches") ||
        ends_with(word, "shes") || ends_with(word, "zes")) {
        word.resize(word.size() - 2);
    } else if (ends_with(word, "ies") && word.size() > 4) {
        word.replace(word.size() - 3, 3, "y");
    } else if (ends_with(word, "s") && !ends_with(word, "ss") && !ends_with(word, "us") &&
               !ends_with(word, "is")) {
        word.pop_back();
    }
    // One derivational or inflectional suffix, keeping a stem of at least three letters.
    bool verb_suffix = false;
    struct Rule {
        std::string_view suffix;
        std::size_t min_stem;
        bool verb;
    };
    constexpr Rule kRules[] = {{"ation", 4, false},
                               {"ness", 3, false},
                               {"ment", 4, false},
                               {"ing", 3, true},
                               {"ed", 4, true},
                               {"ly", 3, false}};
    for (const Rule& rule : kRules) {
        if (ends_with(word, rule.suffix) && word.size() - rule.suffix.size() >= rule.min_stem &&
            has_vowel(std::string_view(word).substr(0, word.size() - rule.suffix.size()))) {
            word.resize(word.size() - rule.suffix.size());
            verb_suffix = rule.verb;
            break;
        }
    }
    // "running" → "runn" → "run"; but "install" and "pass" keep their double letter.
    if (verb_suffix && word.size() >= 3) {
        const char last = word.back();
        if (last == word[word.size() - 2] && !is_vowel(last) && last != 'l' && last != 's' &&
            last != 'z') {
            word.pop_back();
        }
    }
    // "configure" and "configur(ed)" meet at "configur".
    if (word.size() > 4 && word.back() == 'e') {
        word.pop_back();
    }
    return word;
}

std::vector<std::string> content_terms(std::string_view text) {
    std::vector<std::string> terms;
    for (const std::string& word : tokenize(text)) {
        if (!is_stopword(word)) {
            terms.push_back(stem(word));
        }
    }
    return terms;
}

}  // namespace ragd::llm
