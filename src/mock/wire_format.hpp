// The bytes the mock sends: response bodies, error bodies and server-sent events in the shapes
// of OpenAI Chat Completions and Anthropic Messages. Beast-free: the server frames them, unit
// tests parse them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "mock/chat_request.hpp"
#include "mock/text_generator.hpp"

namespace ragd::mock {

/// Names one response: "chatcmpl-..." / "msg_..." id, the model echoed, creation time.
struct ResponseIdentity {
    std::string id;
    std::string model;
    std::int64_t created_unix_s = 0;
};

/// A response identity for request number `request_index` under `seed` (unique per index).
ResponseIdentity make_identity(Api api,
                               std::string model,
                               std::uint64_t seed,
                               std::uint64_t request_index,
                               std::int64_t created_unix_s);

struct Usage {
    std::size_t prompt_tokens = 0;
    std::size_t completion_tokens = 0;
};

/// The non-streaming answer body. `truncated` (cut by max_tokens) sets finish_reason "length"
/// / stop_reason "max_tokens" instead of "stop" / "end_turn".
std::string completion_body(
    Api api, const ResponseIdentity& identity, std::string_view text, bool truncated, Usage usage);

/// A provider-shaped error body for `status` (400, 401, 404, 405, 429, 500 ...):
/// OpenAI {"error":{"message","type","param","code"}},
/// Anthropic {"type":"error","error":{"type","message"}}, Bedrock {"message"}.
std::string error_body(Api api, int status, std::string_view message);

/// Bedrock names an error's kind in a header: "x-amzn-ErrorType: ThrottlingException\r\n".
std::string bedrock_error_header(int status);

/// Encodes one streamed answer as SSE events (Bedrock: AWS event stream messages). Precomputes the
/// bytes around each token so the per-token cost is one escaped append into the caller's reused
/// buffer.
class StreamEncoder {
public:
    StreamEncoder(Api api, const ResponseIdentity& identity, Usage usage, bool include_usage);

    /// OpenAI: the role chunk. Anthropic: message_start, content_block_start, ping. Bedrock:
    /// messageStart.
    void append_start(std::string& out) const;
    /// One token's event: a content delta / text_delta.
    void append_token(std::string& out, std::string_view token) const;
    /// OpenAI: the finish_reason chunk, the usage chunk (if asked for) and "data: [DONE]".
    /// Anthropic: content_block_stop, message_delta (stop_reason, usage), message_stop.
    /// Bedrock: contentBlockStop, messageStop, metadata (usage).
    void append_finish(std::string& out, bool truncated) const;

private:
    Api api_;
    bool include_usage_;
    Usage usage_;
    /// Everything of a token event (Bedrock: of its JSON payload) before / after the escaped
    /// token text.
    std::string token_prefix_;
    std::string token_suffix_;
    /// OpenAI: the chunk's fields up to "choices" (id, object, created, model).
    std::string chunk_head_;
    std::string message_id_;
    std::string model_json_;  ///< the model as a quoted JSON string
};

}  // namespace ragd::mock
