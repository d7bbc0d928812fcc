// Decoding of the two request bodies the mock accepts: OpenAI Chat Completions and Anthropic
// Messages. Only what shapes the answer is kept; unknown fields are ignored, as providers do.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace ragd::mock {

enum class Api {
    kOpenAi,     ///< POST /v1/chat/completions
    kAnthropic,  ///< POST /v1/messages
    kBedrock,    ///< POST /model/{modelId}/converse and /converse-stream
};

struct ChatRequest {
    /// Echoed back; "mock-model" when the request names none.
    std::string model;
    bool stream = false;
    /// OpenAI stream_options.include_usage: a usage chunk before [DONE].
    bool include_usage = false;
    /// Text of the last message with role "user" (text parts joined by newlines).
    std::string last_user_message;
    /// Words across system prompt and all messages (the mock's token count).
    std::size_t prompt_tokens = 0;
    /// max_tokens (or OpenAI max_completion_tokens), when given.
    std::optional<std::size_t> max_tokens;
};

/// Parses `body`. For Bedrock the model and streaming come from the path (the caller sets
/// them), the system prompt is an array of text blocks and the cap is inferenceConfig.maxTokens.
/// kInvalidArgument (naming the field) for invalid JSON, a non-object body, a
/// missing or empty "messages" array, a message without a string role, or a wrongly typed
/// "stream", "model" or "max_tokens".
core::Result<ChatRequest> parse_chat_request(Api api, std::string_view body);

}  // namespace ragd::mock
