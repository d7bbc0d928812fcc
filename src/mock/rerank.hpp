// The mock's rerank endpoints: Cohere's POST /v1/rerank and text-embeddings-inference's
// POST /rerank, scoring each document by the share of the query's words it contains (ASCII
// letters and digits, lower-cased). Deterministic and simple enough for a test to recompute.
#pragma once

#include <string>
#include <string_view>

#include "core/error.hpp"

namespace ragd::mock {

/// The share of `query`'s distinct words found in `document`, in [0, 1].
double overlap_score(std::string_view query, std::string_view document);

/// The response body for a rerank request `body` (`tei` picks the dialect), best first.
/// kInvalidArgument (naming the field) for a malformed request.
core::Result<std::string> rerank_response(bool tei, std::string_view body);

}  // namespace ragd::mock
