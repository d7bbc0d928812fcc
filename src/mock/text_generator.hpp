// The mock's answer text: a deterministic function of the last user message and the seed, so a
// load test or a unit test sees the same words every run without calling a real model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ragd::mock {

/// One generated answer, split into tokens (one word each, with its leading space).
struct Completion {
    std::string text;
    /// Token i is text[token_ends[i-1], token_ends[i]) (token 0 starts at 0).
    std::vector<std::uint32_t> token_ends;

    std::size_t token_count() const { return token_ends.size(); }
    std::string_view token(std::size_t index) const;
    /// Tokens [first, last) as one view.
    std::string_view tokens(std::size_t first, std::size_t last) const;
};

/// Produces an answer one token at a time, so a long stream holds constant memory: `token_count`
/// words (≈ tokens) in sentences of 6 to 14 words, drawn from the message's own words mixed
/// with filler words. When the message contains numbered passages ("[1]", "[2]", ...), every
/// sentence ends with a citation of one of them, as a RAG answer would. Same (message, seed,
/// token_count), same text.
class TokenGenerator {
public:
    TokenGenerator(std::string_view last_user_message, std::uint64_t seed, std::size_t token_count);

    std::size_t token_count() const { return token_count_; }
    std::size_t produced() const { return produced_; }
    bool done() const { return produced_ == token_count_; }
    /// Appends the next token (a word with its leading space, except the first, and with
    /// " [n]." when it ends a sentence) to `out`. Precondition: !done().
    void append_next(std::string& out);

private:
    std::vector<std::string> vocabulary_;
    std::vector<unsigned> passages_;
    std::uint64_t rng_state_;
    std::size_t token_count_;
    std::size_t produced_ = 0;
    std::size_t sentence_index_ = 0;
    std::size_t sentence_left_ = 0;

    std::uint64_t next_random();
    std::size_t random_below(std::size_t bound) { return next_random() % bound; }
};

/// The whole answer of a TokenGenerator (for non-streaming responses and tests).
Completion generate_completion(std::string_view last_user_message,
                               std::uint64_t seed,
                               std::size_t token_count);

/// The distinct passage numbers n (1..999) written as "[n]" in `text`, in order of first use.
std::vector<unsigned> passage_numbers(std::string_view text);

/// Whitespace-separated words in `text`: the mock's stand-in for a tokenizer's count.
std::size_t count_words(std::string_view text);

}  // namespace ragd::mock
