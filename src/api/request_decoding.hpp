// Decodes and validates JSON request bodies of the /v1 routes into plain structs. Every error
// names the offending field, so a client can fix its request from the message alone.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "pipeline/ingest_service.hpp"
#include "pipeline/query_service.hpp"

namespace ragd::api {

struct QueryRequest {
    std::string query;
    pipeline::QueryOptions options;
    bool stream = false;           ///< answer as Server-Sent Events (/v1/query only)
    std::size_t max_tokens = 0;    ///< 0: the server default (llm.max_tokens)
    double temperature = -1;       ///< negative: the server default (llm.temperature)
    bool rerank = true;            ///< false skips a configured reranker for this request
};

struct Limits {
    std::size_t default_top_k = 5;
    std::size_t max_top_k = 100;
    std::size_t max_query_bytes = 8192;    ///< longest query text
    std::size_t max_filter_terms = 16;     ///< metadata filter pairs
    std::size_t max_batch_documents = 1000;
    std::size_t max_tokens_limit = 4096;   ///< largest max_tokens a request may ask for
};

/// Body of POST /v1/query and /v1/search.
core::Result<QueryRequest> decode_query_request(std::string_view body, const Limits& limits);

/// Body of POST /v1/documents: one document object, or {"documents": [...]}.
core::Result<std::vector<pipeline::IngestRequest>> decode_documents_request(std::string_view body,
                                                                            const Limits& limits);

}  // namespace ragd::api
