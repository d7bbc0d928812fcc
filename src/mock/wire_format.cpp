// Response and event encoding. Whole bodies go through Boost.JSON (once per request); token
// events are spliced from precomputed strings, because they are the mock's hot path.
#include "mock/wire_format.hpp"

#include <array>
#include <cstdio>

#include <boost/json.hpp>

#include "core/json_escape.hpp"
#include "http/aws_event_stream.hpp"
#include "mock/options.hpp"

namespace ragd::mock {

namespace json = boost::json;

namespace {

std::string quoted(std::string_view text) {
    std::string out = "\"";
    core::append_json_escaped(out, text);
    out += '"';
    return out;
}

struct ErrorNames {
    const char* openai_type;
    const char* openai_code;  ///< nullptr for JSON null
    const char* anthropic_type;
};

ErrorNames error_names(int status) {
    switch (status) {
        case 400:
            return {"invalid_request_error", nullptr, "invalid_request_error"};
        case 401:
            return {"invalid_request_error", "invalid_api_key", "authentication_error"};
        case 404:
            return {"invalid_request_error", "unknown_url", "not_found_error"};
        case 405:
            return {"invalid_request_error", "method_not_allowed", "invalid_request_error"};
        case 413:
            return {"invalid_request_error", "request_too_large", "request_too_large"};
        case 429:
            return {"requests", "rate_limit_exceeded", "rate_limit_error"};
        default:
            return {"server_error", "internal_error", "api_error"};
    }
}

/// Bedrock's x-amzn-ErrorType for a status.
const char* bedrock_error_type(int status) {
    switch (status) {
        case 400:
        case 405:
            return "ValidationException";
        case 401:
        case 403:
            return "UnrecognizedClientException";
        case 404:
            return "ResourceNotFoundException";
        case 429:
            return "ThrottlingException";
        default:
            return "InternalServerException";
    }
}

void append_bedrock_event(std::string& out, const char* type, std::string_view payload) {
    http::append_event_stream_message(
        out,
        {{":event-type", type}, {":content-type", "application/json"}, {":message-type", "event"}},
        payload);
}

}  // namespace

std::string bedrock_error_header(int status) {
    return std::string("x-amzn-ErrorType: ") + bedrock_error_type(status) + "\r\n";
}

ResponseIdentity make_identity(Api api,
                               std::string model,
                               std::uint64_t seed,
                               std::uint64_t request_index,
                               std::int64_t created_unix_s) {
    std::array<char, 17> hex{};
    std::snprintf(hex.data(),
                  hex.size(),
                  "%016llx",
                  static_cast<unsigned long long>(mix64(seed ^ mix64(request_index))));
    ResponseIdentity identity;
    const char* prefix = api == Api::kOpenAi ? "chatcmpl-mock" : "msg_mock";
    identity.id = prefix + std::string(hex.data());
    identity.model = std::move(model);
    identity.created_unix_s = created_unix_s;
    return identity;
}

std::string completion_body(
    Api api, const ResponseIdentity& identity, std::string_view text, bool truncated, Usage usage) {
    json::object body;
    if (api == Api::kOpenAi) {
        body["id"] = identity.id;
        body["object"] = "chat.completion";
        body["created"] = identity.created_unix_s;
        body["model"] = identity.model;
        body["choices"] = json::array{json::object{
            {"index", 0},
            {"message", json::object{{"role", "assistant"}, {"content", text}}},
            {"logprobs", nullptr},
            {"finish_reason", truncated ? "length" : "stop"},
        }};
        body["usage"] = json::object{
            {"prompt_tokens", usage.prompt_tokens},
            {"completion_tokens", usage.completion_tokens},
            {"total_tokens", usage.prompt_tokens + usage.completion_tokens},
        };
    } else if (api == Api::kBedrock) {
        body["output"] =
            json::object{{"message",
                          json::object{{"role", "assistant"},
                                       {"content", json::array{json::object{{"text", text}}}}}}};
        body["stopReason"] = truncated ? "max_tokens" : "end_turn";
        body["usage"] = json::object{
            {"inputTokens", usage.prompt_tokens},
            {"outputTokens", usage.completion_tokens},
            {"totalTokens", usage.prompt_tokens + usage.completion_tokens},
        };
        body["metrics"] = json::object{{"latencyMs", 0}};
    } else {
        body["id"] = identity.id;
        body["type"] = "message";
        body["role"] = "assistant";
        body["model"] = identity.model;
        body["content"] = json::array{json::object{{"type", "text"}, {"text", text}}};
        body["stop_reason"] = truncated ? "max_tokens" : "end_turn";
        body["stop_sequence"] = nullptr;
        body["usage"] = json::object{
            {"input_tokens", usage.prompt_tokens},
            {"output_tokens", usage.completion_tokens},
        };
    }
    return json::serialize(body);
}

std::string error_body(Api api, int status, std::string_view message) {
    if (api == Api::kBedrock) {
        return json::serialize(json::object{{"message", message}});
    }
    const ErrorNames names = error_names(status);
    if (api == Api::kOpenAi) {
        json::object error{{"message", message}, {"type", names.openai_type}, {"param", nullptr}};
        if (names.openai_code != nullptr) {
            error["code"] = names.openai_code;
        } else {
            error["code"] = nullptr;
        }
        return json::serialize(json::object{{"error", std::move(error)}});
    }
    return json::serialize(json::object{
        {"type", "error"},
        {"error", json::object{{"type", names.anthropic_type}, {"message", message}}},
    });
}

StreamEncoder::StreamEncoder(Api api,
                             const ResponseIdentity& identity,
                             Usage usage,
                             bool include_usage)
    : api_(api),
      include_usage_(include_usage),
      usage_(usage),
      message_id_(quoted(identity.id)),
      model_json_(quoted(identity.model)) {
    if (api_ == Api::kOpenAi) {
        chunk_head_ = "data: {\"id\":" + message_id_ +
                      ",\"object\":\"chat.completion.chunk\",\"created\":" +
                      std::to_string(identity.created_unix_s) + ",\"model\":" + model_json_ +
                      ",\"system_fingerprint\":null,";
        token_prefix_ = chunk_head_ + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"";
        token_suffix_ = "\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n";
    } else if (api_ == Api::kBedrock) {
        // The event's JSON around the token; each event is framed (length, CRCs) when appended.
        token_prefix_ = "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"";
        token_suffix_ = "\"},\"p\":\"abcdefgh\"}";
    } else {
        token_prefix_ =
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
            "\"delta\":{\"type\":\"text_delta\",\"text\":\"";
        token_suffix_ = "\"}}\n\n";
    }
}

void StreamEncoder::append_start(std::string& out) const {
    if (api_ == Api::kBedrock) {
        append_bedrock_event(out, "messageStart", R"({"role":"assistant"})");
        return;
    }
    if (api_ == Api::kOpenAi) {
        out += chunk_head_;
        out +=
            "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
            "\"logprobs\":null,\"finish_reason\":null}]}\n\n";
        return;
    }
    out += "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":";
    out += message_id_;
    out += ",\"type\":\"message\",\"role\":\"assistant\",\"model\":";
    out += model_json_;
    out +=
        ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":";
    out += std::to_string(usage_.prompt_tokens);
    out += ",\"output_tokens\":1}}}\n\n";
    out +=
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
        "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n";
    out += "event: ping\ndata: {\"type\":\"ping\"}\n\n";
}

void StreamEncoder::append_token(std::string& out, std::string_view token) const {
    if (api_ == Api::kBedrock) {
        std::string payload = token_prefix_;
        core::append_json_escaped(payload, token);
        payload += token_suffix_;
        append_bedrock_event(out, "contentBlockDelta", payload);
        return;
    }
    out += token_prefix_;
    core::append_json_escaped(out, token);
    out += token_suffix_;
}

void StreamEncoder::append_finish(std::string& out, bool truncated) const {
    if (api_ == Api::kBedrock) {
        append_bedrock_event(out, "contentBlockStop", R"({"contentBlockIndex":0})");
        append_bedrock_event(
            out,
            "messageStop",
            truncated ? R"({"stopReason":"max_tokens"})" : R"({"stopReason":"end_turn"})");
        const std::string metadata =
            "{\"usage\":{\"inputTokens\":" + std::to_string(usage_.prompt_tokens) +
            ",\"outputTokens\":" + std::to_string(usage_.completion_tokens) +
            ",\"totalTokens\":" + std::to_string(usage_.prompt_tokens + usage_.completion_tokens) +
            "},\"metrics\":{\"latencyMs\":0}}";
        append_bedrock_event(out, "metadata", metadata);
        return;
    }
    if (api_ == Api::kOpenAi) {
        out += chunk_head_;
        out += "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"";
        out += truncated ? "length" : "stop";
        out += "\"}]}\n\n";
        if (include_usage_) {
            out += chunk_head_;
            out += "\"choices\":[],\"usage\":{\"prompt_tokens\":";
            out += std::to_string(usage_.prompt_tokens);
            out += ",\"completion_tokens\":";
            out += std::to_string(usage_.completion_tokens);
            out += ",\"total_tokens\":";
            out += std::to_string(usage_.prompt_tokens + usage_.completion_tokens);
            out += "}}\n\n";
        }
        out += "data: [DONE]\n\n";
        return;
    }
    out +=
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"";
    out += truncated ? "max_tokens" : "end_turn";
    out += "\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":";
    out += std::to_string(usage_.completion_tokens);
    out += "}}\n\n";
    out += "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
}

}  // namespace ragd::mock
