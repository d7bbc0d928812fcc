// The mock's embeddings endpoint: OpenAI's POST /v1/embeddings. Each input becomes a vector of
// signed hashed words (ASCII letters and digits, lower-cased), L2-normalised: deterministic,
// and texts that share words point the same way, so retrieval over them is meaningful.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace ragd::mock {

/// Vector length when the request does not ask for "dimensions".
inline constexpr std::size_t kDefaultEmbeddingDimensions = 64;

/// The vector of `text` (what the endpoint returns for it).
std::vector<float> mock_embedding(std::string_view text, std::size_t dimensions);

/// The response body for an embeddings request `body`. kInvalidArgument (naming the field)
/// for a malformed request.
core::Result<std::string> embeddings_response(std::string_view body);

}  // namespace ragd::mock
