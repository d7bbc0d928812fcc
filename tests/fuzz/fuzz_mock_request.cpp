// libFuzzer harness for the mock LLM's request decoder (`ragd mock-llm` reads request bodies
// from the network like any server). The input, after one byte choosing the API (OpenAI,
// Anthropic, Bedrock, one of the two rerank endpoints, or (250 and up) the embeddings endpoint),
// is a request body. Decoding must either fail with kInvalidArgument and a message, or give a
// request whose counts agree with its own text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "mock/chat_request.hpp"
#include "mock/embeddings.hpp"
#include "mock/rerank.hpp"
#include "mock/text_generator.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) {
        return 0;
    }
    using ragd::mock::Api;
    const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
    if (data[0] >= 250) {
        // The embeddings endpoint: a JSON answer, or kInvalidArgument with a reason.
        const auto answer = ragd::mock::embeddings_response(body);
        if (!answer) {
            if (answer.error().code != ragd::core::ErrorCode::kInvalidArgument ||
                answer.error().detail.empty()) {
                std::abort();
            }
        } else if (answer->empty() || (*answer)[0] != '{') {
            std::abort();
        }
        return 0;
    }
    if (data[0] % 5 >= 3) {
        // The rerank endpoints (Cohere's, then TEI's): an answer that is a JSON document, or
        // kInvalidArgument with a reason.
        const auto answer = ragd::mock::rerank_response(data[0] % 5 == 4, body);
        if (!answer) {
            if (answer.error().code != ragd::core::ErrorCode::kInvalidArgument ||
                answer.error().detail.empty()) {
                std::abort();
            }
        } else if (answer->empty() || ((*answer)[0] != '{' && (*answer)[0] != '[')) {
            std::abort();
        }
        return 0;
    }
    const Api api = data[0] % 5 == 2   ? Api::kBedrock
                    : data[0] % 5 == 1 ? Api::kAnthropic
                                       : Api::kOpenAi;

    const auto request = ragd::mock::parse_chat_request(api, body);
    if (!request) {
        if (request.error().code != ragd::core::ErrorCode::kInvalidArgument ||
            request.error().detail.empty()) {
            std::abort();
        }
        return 0;
    }
    // The last user message is one of the counted texts.
    if (request->prompt_tokens < ragd::mock::count_words(request->last_user_message)) {
        std::abort();
    }
    if (request->max_tokens && *request->max_tokens == 0) {
        std::abort();  // documented as positive
    }
    if (api == Api::kBedrock && (request->stream || request->model != "mock-model")) {
        std::abort();  // Bedrock's model and streaming come from the path
    }
    if (api != Api::kOpenAi && request->include_usage) {
        std::abort();  // stream_options is OpenAI's
    }
    return 0;
}
