// Word-level text normalisation for the extractive answerer: tokenising, stop words and a small
// English suffix stripper. Deliberately tiny; llm/ must not depend on the search engine's stemmer.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ragd::llm {

/// Words of `text` in order: runs of ASCII letters/digits (lower-cased) and non-ASCII letters.
/// Common Unicode punctuation separates words; each CJK ideograph or kana is a word of its own,
/// since those scripts do not put spaces between words.
std::vector<std::string> tokenize(std::string_view text);

/// true for English function words ("the", "what", "is", ...) that carry no topic.
bool is_stopword(std::string_view word);

/// Strips common English inflections so "embeddings", "embedded" and "embed" meet:
/// plurals, -ing, -ed, -ly, -ment, -ness, -ation, and a final -e. Expects a lower-case word;
/// words of three bytes or fewer, and non-ASCII words, are returned unchanged.
std::string stem(std::string_view word);

/// tokenize → drop stop words → stem.
std::vector<std::string> content_terms(std::string_view text);

}  // namespace ragd::llm
