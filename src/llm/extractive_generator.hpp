// The offline answerer: picks the passage sentences that best match the question and cites
// them, so ragd answers with no LLM configured and tests have a deterministic generator.
#pragma once

#include <cstddef>
#include <string>

#include "llm/generator.hpp"

namespace ragd::llm {

/// Answer text used when no passage sentence shares a content word with the question.
inline constexpr const char* kNoAnswerText =
    "I could not find an answer to that in the indexed documents.";

/// Scores each passage sentence by IDF-weighted overlap of stemmed content terms with the
/// question (earlier passages slightly preferred, very short/long sentences, code and
/// restated questions penalised), keeps the best `max_sentences` distinct ones, and writes
/// them in passage order as "sentence [n] sentence [m]". Stateless and thread-safe.
class ExtractiveGenerator : public Generator {
public:
    /// `max_sentences` of 0 is treated as 1.
    explicit ExtractiveGenerator(std::size_t max_sentences = 3);

    /// "extractive".
    std::string name() const override;
    /// kInvalidArgument for a blank question or a passage numbered 0. No passages, or nothing
    /// relevant in them, is a success whose text is kNoAnswerText and whose `cited` is empty.
    core::Result<Generation> generate(const GenerationRequest& request) const override;

private:
    std::size_t max_sentences_;
};

}  // namespace ragd::llm
