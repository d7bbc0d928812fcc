#include "cache/semantic_guard.hpp"

#include <algorithm>
#include <array>
#include <iterator>

namespace ragd::cache {
namespace {

// Words that carry no topic of their own: question scaffolding, pronouns, auxiliaries,
// articles and common prepositions. Small on purpose; any word not listed counts as content,
// so unknown differences refuse the hit. Sorted for binary search.
constexpr std::string_view kStopwords[] = {
    "a",    "about",  "above",   "after",  "again", "all",   "also",   "am",     "an",    "and",
    "any",  "are",    "as",      "at",     "be",    "been",  "before", "being",  "below", "both",
    "but",  "by",     "can",     "could",  "did",   "do",    "does",   "doing",  "down",  "during",
    "each", "few",    "for",     "from",   "had",   "has",   "have",   "he",     "her",   "here",
    "hers", "him",    "his",     "how",    "i",     "if",    "in",     "into",   "is",    "it",
    "its",  "itself", "just",    "let",    "may",   "me",    "might",  "more",   "most",  "must",
    "my",   "of",     "off",     "on",     "once",  "only",  "or",     "other",  "our",   "ours",
    "out",  "over",   "own",     "please", "same",  "shall", "she",    "should", "so",    "some",
    "such", "than",   "that",    "the",    "their", "them",  "then",   "there",  "these", "they",
    "this", "those",  "through", "to",     "too",   "under", "until",  "up",     "very",  "was",
    "we",   "were",   "what",    "when",   "where", "which", "while",  "who",    "whom",  "why",
    "will", "with",   "would",   "you",    "your",  "yours", "s",      "t",      "d",     "ll",
    "ve",
};

bool is_stopword(std::string_view word) {
    static const auto sorted = [] {
        std::vector<std::string_view> copy(std::begin(kStopwords), std::end(kStopwords));
        std::sort(copy.begin(), copy.end());
        return copy;
    }();
    return std::binary_search(sorted.begin(), sorted.end(), word);
}

bool is_alnum(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

bool has_digit(std::string_view word) {
    return std::any_of(word.begin(), word.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool ends_with(std::string_view word, std::string_view suffix) {
    return word.size() >= suffix.size() && word.substr(word.size() - suffix.size()) == suffix;
}

bool is_vowel(char c) {
    return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

// "runn" → "run", "stopp" → "stop"; not "fall" or "pass", whose doubles are part of the word.
void undouble(std::string& word) {
    const std::size_t n = word.size();
    if (n >= 4 && word[n - 1] == word[n - 2] && !is_vowel(word[n - 1]) && word[n - 1] != 'l' &&
        word[n - 1] != 's' && word[n - 1] != 'z') {
        word.pop_back();
    }
}

// Words with ' or ’ inside: "can't" → {"can", not}, "user's" → {"user"}.
constexpr std::string_view kRightQuote = "\xE2\x80\x99";

// Splits a word at its "n't" ending; returns the base or "" when there is none.
std::string split_nt(std::string_view word) {
    std::string_view base;
    if (ends_with(word, "n't")) {
        base = word.substr(0, word.size() - 3);
    } else if (ends_with(word, "n" + std::string(kRightQuote) + "t")) {
        base = word.substr(0, word.size() - 2 - kRightQuote.size());
    } else {
        return "";
    }
    if (base == "ca") {
        return "can";
    }
    if (base == "wo") {
        return "will";
    }
    if (base == "sha") {
        return "shall";
    }
    return std::string(base);
}

std::string_view negation_of(std::string_view word) {
    if (word == "not" || word == "cannot") {
        return "not";
    }
    if (word == "exclude" || word == "excludes" || word == "excluded" || word == "excluding") {
        return "exclude";
    }
    if (word == "nor") {
        return "neither";
    }
    static constexpr std::array<std::string_view, 9> kSame = {
        "no", "never", "without", "except", "neither", "none", "nothing", "nobody", "nowhere"};
    for (std::string_view same : kSame) {
        if (word == same) {
            return same;
        }
    }
    if (word == "unless") {
        return "unless";
    }
    return {};
}

std::vector<std::string> tokenize(std::string_view text) {
    std::vector<std::string> tokens;
    std::string current;
    auto flush = [&] {
        if (!current.empty()) {
            tokens.push_back(std::move(current));
            current.clear();
        }
    };
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (is_alnum(c)) {
            current.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a')
                                                   : static_cast<char>(c));
            continue;
        }
        // Keep '.', '\'' and '_' inside a word ("1.2.3", "can't", "max_tokens"), not at its ends.
        const bool joiner = c == '.' || c == '\'' || c == '_';
        if (joiner && !current.empty() && i + 1 < text.size() &&
            is_alnum(static_cast<unsigned char>(text[i + 1]))) {
            current.push_back(static_cast<char>(c));
            continue;
        }
        flush();
    }
    flush();
    return tokens;
}

std::string join(const std::vector<std::string>& words) {
    std::string out;
    for (const auto& word : words) {
        if (!out.empty()) {
            out += ' ';
        }
        out += word;
    }
    return out.empty() ? "-" : out;
}

}  // namespace

std::string stem_word(std::string word) {
    if (word.size() <= 2) {
        return word;
    }
    if (ends_with(word, "ies") && word.size() > 4) {
        word.resize(word.size() - 3);
        word += 'y';
    } else if (ends_with(word, "xes") || ends_with(word, "ches") || ends_with(word, "shes") ||
               ends_with(word, "zes") || ends_with(word, "ses")) {
        word.resize(word.size() - 2);  // "classes" → "class", "indexes" → "index"
    } else if (ends_with(word, "s") && !ends_with(word, "ss") && !ends_with(word, "us") &&
               !ends_with(word, "is")) {
        word.pop_back();
    }
    if (ends_with(word, "ing") && word.size() > 4) {
        word.resize(word.size() - 3);
        undouble(word);
    } else if (ends_with(word, "ed") && word.size() > 4) {
        word.resize(word.size() - 2);
        undouble(word);
    }
    if (ends_with(word, "e") && word.size() > 2) {
        word.pop_back();
    }
    return word;
}

QueryTerms analyze_query(std::string_view query) {
    QueryTerms terms;
    for (std::string& token : tokenize(query)) {
        if (has_digit(token)) {
            terms.numbers.push_back(std::move(token));
            continue;
        }
        std::string word = std::move(token);
        if (std::string base = split_nt(word); !base.empty()) {
            terms.negations.emplace_back("not");
            word = std::move(base);
        } else if (const std::string_view negation = negation_of(word); !negation.empty()) {
            terms.negations.emplace_back(negation);
            if (word == "cannot") {
                word = "can";
            } else {
                continue;
            }
        }
        // Possessives: "user's" and "users'" are "user".
        if (ends_with(word, "'s")) {
            word.resize(word.size() - 2);
        } else if (ends_with(word, std::string(kRightQuote) + "s")) {
            word.resize(word.size() - kRightQuote.size() - 1);
        }
        if (word.empty() || is_stopword(word)) {
            continue;
        }
        terms.content.push_back(stem_word(std::move(word)));
    }
    std::sort(terms.negations.begin(), terms.negations.end());
    std::sort(terms.numbers.begin(), terms.numbers.end());
    std::sort(terms.content.begin(), terms.content.end());
    terms.content.erase(std::unique(terms.content.begin(), terms.content.end()),
                        terms.content.end());
    return terms;
}

GuardVerdict compare_terms(const QueryTerms& a, const QueryTerms& b) {
    if (a.negations != b.negations) {
        return {false, "negations differ (" + join(a.negations) + " vs " + join(b.negations) + ")"};
    }
    if (a.numbers != b.numbers) {
        return {false, "numbers differ (" + join(a.numbers) + " vs " + join(b.numbers) + ")"};
    }
    if (a.content != b.content) {
        std::vector<std::string> only_a;
        std::vector<std::string> only_b;
        std::set_difference(a.content.begin(),
                            a.content.end(),
                            b.content.begin(),
                            b.content.end(),
                            std::back_inserter(only_a));
        std::set_difference(b.content.begin(),
                            b.content.end(),
                            a.content.begin(),
                            a.content.end(),
                            std::back_inserter(only_b));
        return {false, "content words differ (" + join(only_a) + " vs " + join(only_b) + ")"};
    }
    return {true, ""};
}

GuardVerdict semantic_guard(std::string_view query_a, std::string_view query_b) {
    return compare_terms(analyze_query(query_a), analyze_query(query_b));
}

}  // namespace ragd::cache
