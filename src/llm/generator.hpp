// The Generator interface: a question and numbered passages in, an answer with [n] citations
// out. The built-in extractive answerer works offline; LLM providers come later.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace ragd::llm {

struct Passage {
    std::size_t number = 0;  ///< 1-based; an answer cites it as [number]
    std::string text;
    std::string title;
    std::vector<std::string> heading_path;
    std::string document_id;
    std::string source;
};

struct GenerationRequest {
    std::string question;
    std::vector<Passage> passages;  ///< best first
    std::size_t max_tokens = 512;
};

struct Generation {
    std::string text;                ///< the answer, with [n] markers pointing into passages
    std::string generator;           ///< which generator produced it, e.g. "extractive"
    std::vector<std::size_t> cited;  ///< passage numbers the answer cites, in first-use order
};

class Generator {
public:
    virtual ~Generator() = default;
    virtual std::string name() const = 0;
    virtual core::Result<Generation> generate(const GenerationRequest& request) const = 0;
};

}  // namespace ragd::llm
