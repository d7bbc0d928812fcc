// The two rerank APIs on the wire, as pure functions of bytes (unit-tested and fuzzed without a
// server):
//   cohere: POST /v1/rerank {"model","query","documents":[...],"top_n"} →
//           {"results":[{"index","relevance_score"}, ...]}: Cohere, and the servers that copy
//           it (Jina, Voyage, vLLM, Infinity, LiteLLM);
//   tei:    POST /rerank {"query","texts":[...]} → [{"index","score"}, ...]: Hugging Face's
//           text-embeddings-inference serving a cross-encoder.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace ragd::llm {

/// One document's relevance to the query, by its position in the request.
struct RerankScore {
    std::size_t index = 0;
    double score = 0;
};

struct RerankWireRequest {
    std::string target;  ///< "/v1/rerank" or "/rerank"
    std::string body;
};

/// True for "cohere" and "tei".
bool known_rerank_dialect(std::string_view dialect);

RerankWireRequest build_rerank_request(std::string_view dialect,
                                       std::string_view model,
                                       std::string_view query,
                                       std::span<const std::string> documents);

/// The scores, best first (ties keep request order). kCorrupt when the body is not the
/// dialect's shape, an index is out of range or repeated, or a score is not a finite number.
/// Documents the reranker left out (a top_n below their count) are simply absent.
core::Result<std::vector<RerankScore>> parse_rerank_response(std::string_view dialect,
                                                             std::string_view body,
                                                             std::size_t document_count);

}  // namespace ragd::llm
