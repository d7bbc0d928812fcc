// The OpenAI embeddings API on the wire, as pure functions of bytes (unit-tested and fuzzed
// without a server): POST /v1/embeddings {"model","input":[...],"encoding_format":"float"
// [,"dimensions"]} → {"data":[{"index","embedding":[...]}, ...]}. OpenAI, Azure OpenAI's
// v1 API, and the servers that copy it (vLLM, Ollama, LiteLLM, text-embeddings-inference,
// Infinity, LocalAI) speak it.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "embed/embedder.hpp"

namespace ragd::embed {

/// The request body. `dimensions` is sent only when set (models that can shorten their
/// vectors, such as OpenAI's text-embedding-3, accept it; others refuse it).
std::string build_embeddings_request(std::string_view model,
                                     std::span<const std::string> inputs,
                                     std::optional<std::size_t> dimensions);

/// One vector per input, in input order, each scaled to unit length (an all-zero vector stays
/// zero). kCorrupt when the body is not the API's shape, an index is missing, repeated or out
/// of range, a vector does not have `dimensions` components, or a component is not a finite
/// number.
core::Result<std::vector<Vector>> parse_embeddings_response(std::string_view body,
                                                            std::size_t inputs,
                                                            std::size_t dimensions);

}  // namespace ragd::embed
