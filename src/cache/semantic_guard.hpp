// The semantic cache's veto: embeddings put "can X be used with Y" and "can X not be used with
// Y" (or "postgres 15" and "postgres 16") next to each other, yet their answers differ. Before a
// near-duplicate question may reuse an answer, its negations, numbers and content words must
// match those of the cached question. Deliberately conservative: a refused hit costs one normal
// query, a wrong hit serves a wrong answer.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ragd::cache {

/// The parts of a question the guard compares, precomputed once per cached entry.
struct QueryTerms {
    /// Negation markers, canonical and sorted, repeats kept: "not" (not, cannot, any "n't"
    /// form), "no", "never", "without", "except", "exclude" (exclude/excludes/excluded/
    /// excluding), "neither" (neither, nor), "none", "nothing", "nobody", "nowhere", "unless".
    std::vector<std::string> negations;
    /// Tokens containing a digit ("15", "v1.2.3", "http2"), sorted, repeats kept.
    std::vector<std::string> numbers;
    /// Suffix-stemmed words that are not stopwords, negations or numbers; sorted, unique.
    std::vector<std::string> content;
};

struct GuardVerdict {
    bool allowed = false;
    std::string reason;  ///< why a hit was refused; empty when allowed
};

/// Splits `query` (ASCII case is ignored; bytes >= 0x80 are word characters) into terms.
QueryTerms analyze_query(std::string_view query);

/// Allows reuse only when negations, numbers and content words are identical.
GuardVerdict compare_terms(const QueryTerms& a, const QueryTerms& b);

/// analyze_query both, then compare_terms.
GuardVerdict semantic_guard(std::string_view query_a, std::string_view query_b);

/// The light suffix stemmer used for content words ("indexes" → "index", "creating" and
/// "created" → "creat"); exposed for tests.
std::string stem_word(std::string word);

}  // namespace ragd::cache
