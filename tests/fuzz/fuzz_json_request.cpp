// libFuzzer: JSON bodies of /v1/query, /v1/search and /v1/documents must decode to a value or a
// named error, never crash, and a decoded request must respect the limits it was given.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/request_decoding.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    ragd::api::Limits limits;
    limits.max_query_bytes = 256;
    limits.max_filter_terms = 4;
    limits.max_batch_documents = 8;
    auto query = ragd::api::decode_query_request(body, limits);
    if (query) {
        if (query->query.empty() || query->query.size() > limits.max_query_bytes ||
            query->options.top_k < 1 || query->options.top_k > limits.max_top_k ||
            query->options.filter.metadata.size() > limits.max_filter_terms) {
            std::abort();
        }
    } else if (query.error().detail.empty()) {
        std::abort();  // every error must say what is wrong
    }
    auto documents = ragd::api::decode_documents_request(body, limits);
    if (documents) {
        if (documents->empty() || documents->size() > limits.max_batch_documents) {
            std::abort();
        }
        for (const auto& document : *documents) {
            if (document.content.empty()) {
                std::abort();
            }
        }
    } else if (documents.error().detail.empty()) {
        std::abort();
    }
    return 0;
}
