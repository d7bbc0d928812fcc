// Amazon Bedrock's Converse API, the one request shape Bedrock accepts for every chat model
// (Claude, Llama, Mistral, Nova ...): POST /model/{modelId}/converse, or /converse-stream, whose
// answer is an AWS event stream (http/aws_event_stream) of contentBlockDelta events ending with
// messageStop and metadata (usage). Requests carry a Bedrock API key as a Bearer token, or are
// signed with SigV4 (http/aws_sigv4) using the credentials provider's current set.
#include <chrono>
#include <memory>

#include <boost/json.hpp>

#include "core/json_writer.hpp"
#include "core/utf8.hpp"
#include "http/aws_credentials.hpp"
#include "http/aws_event_stream.hpp"
#include "http/aws_sigv4.hpp"
#include "llm/wire_json.hpp"
#include "llm/wire_protocol.hpp"

namespace ragd::llm {
namespace json = boost::json;
using wire::count_at;
using wire::cut;
using wire::EventArena;
using wire::find_path;
using wire::kErrorDetailBytes;
using wire::parse_json;
using wire::string_at;

namespace {

constexpr std::string_view kEventStreamType = "application/vnd.amazon.eventstream";

Usage usage_from(const json::value& root, std::initializer_list<std::string_view> usage_path) {
    Usage usage;
    const json::value* node = find_path(root, usage_path);
    if (node == nullptr) {
        return usage;
    }
    if (auto input = count_at(*node, {"inputTokens"})) {
        usage.prompt_tokens = *input;
        usage.completion_tokens = count_at(*node, {"outputTokens"}).value_or(0);
        usage.reported = true;
    }
    return usage;
}

class BedrockDecoder final : public StreamDecoder {
public:
    void feed(std::string_view bytes, std::vector<StreamEvent>& out) override {
        messages_.clear();
        parser_.feed(bytes, messages_);
        // Messages completed before a failure in the same read still count, as with SSE.
        for (const http::EventStreamMessage& message : messages_) {
            decode(message, out);
        }
        if (parser_.failed() && !failed_) {
            failed_ = true;
            out.push_back(
                {StreamEvent::Kind::kError,
                 // The parser's reason may quote a header name: upstream bytes.
                 cut(core::sanitize_utf8("upstream event stream is malformed: " + parser_.error()),
                     kErrorDetailBytes),
                 {}});
        }
    }

private:
    void decode(const http::EventStreamMessage& message, std::vector<StreamEvent>& out) {
        const std::string_view message_type = message.header(":message-type");
        if (message_type == "exception" || message_type == "error") {
            // {"message": "..."} with the kind in :exception-type, or the :error-code and
            // :error-message headers.
            std::string kind(message_type == "exception" ? message.header(":exception-type")
                                                         : message.header(":error-code"));
            std::string text(message.header(":error-message"));
            if (text.empty()) {
                if (auto value = parse_json(message.payload)) {
                    text = string_at(*value, {"message"});
                }
            }
            if (text.empty()) {
                text = "upstream sent an error event";
            }
            if (!kind.empty()) {
                text = kind + ": " + text;
            }
            out.push_back(
                {StreamEvent::Kind::kError, cut(core::sanitize_utf8(text), kErrorDetailBytes), {}});
            return;
        }
        const std::string_view event_type = message.header(":event-type");
        if (event_type != "contentBlockDelta" && event_type != "metadata") {
            return;  // messageStart, contentBlockStart/Stop, messageStop: nothing to relay
        }
        EventArena arena;
        auto value = parse_json(message.payload, arena.storage());
        if (!value) {
            out.push_back({StreamEvent::Kind::kError, "malformed JSON in upstream stream", {}});
            return;
        }
        if (event_type == "contentBlockDelta") {
            std::string text = string_at(*value, {"delta", "text"});
            if (!text.empty()) {
                out.push_back({StreamEvent::Kind::kDelta, std::move(text), {}});
            }
            return;
        }
        // metadata is the stream's last event: it follows messageStop and carries the usage.
        Usage usage = usage_from(*value, {"usage"});
        if (usage.reported) {
            out.push_back({StreamEvent::Kind::kUsage, {}, usage});
        }
        out.push_back({StreamEvent::Kind::kDone, {}, {}});
    }

    http::EventStreamParser parser_;
    std::vector<http::EventStreamMessage> messages_;
    bool failed_ = false;
};

void write_text_blocks(core::JsonWriter& out, std::string_view text) {
    out.begin_array().begin_object().member("text", text).end_object().end_array();
}

class BedrockProtocol final : public WireProtocol {
public:
    std::string_view dialect() const override { return "bedrock"; }

    WireRequest build_request(const Prompt& prompt,
                              const CallParams& params,
                              const Endpoint& endpoint) const override {
        std::string body;
        std::size_t prompt_bytes = prompt.system.size();
        for (const ChatMessage& message : prompt.messages) {
            prompt_bytes += message.content.size() + 48;
        }
        body.reserve(prompt_bytes + 256);
        core::JsonWriter out(body);
        out.begin_object();
        out.key("messages").begin_array();
        for (const ChatMessage& message : prompt.messages) {
            out.begin_object().member("role", message.role).key("content");
            write_text_blocks(out, message.content);
            out.end_object();
        }
        out.end_array();
        if (!prompt.system.empty()) {
            out.key("system");
            write_text_blocks(out, prompt.system);
        }
        out.key("inferenceConfig")
            .begin_object()
            .key("maxTokens")
            .unsigned_integer(params.max_tokens)
            .key("temperature")
            .number(params.temperature)
            .end_object();
        out.end_object();

        WireRequest request;
        // The model id (or an inference profile's ARN) is one path segment: ':' and '/' encoded.
        const std::string path = "/model/" + http::aws_uri_encode(params.model, true) +
                                 (params.stream ? "/converse-stream" : "/converse");
        request.target = path;
        if (!endpoint.extra_query.empty()) {
            request.target += '?';
            request.target += endpoint.extra_query;
        }
        request.body = std::move(body);
        request.headers.push_back({"Content-Type", "application/json"});
        request.headers.push_back(
            {"Accept", params.stream ? std::string(kEventStreamType) : "application/json"});
        for (const http::Header& header : endpoint.extra_headers) {
            request.headers.push_back(header);
        }
        if (!endpoint.api_key.empty()) {
            if (endpoint.api_key_header.empty()) {
                request.headers.push_back({"Authorization", "Bearer " + endpoint.api_key});
            } else {
                request.headers.push_back({endpoint.api_key_header, endpoint.api_key});
            }
        } else if (endpoint.aws_credentials) {
            const auto now = params.now == std::chrono::system_clock::time_point{}
                                 ? std::chrono::system_clock::now()
                                 : params.now;
            // Fetched per request: temporary credentials are swapped when refreshed, and a
            // request keeps the set it was signed with even if a refresh lands meanwhile.
            const std::shared_ptr<const http::AwsCredentials> credentials =
                endpoint.aws_credentials->current();
            http::sigv4_sign_headers(request.headers,
                                     "POST",
                                     endpoint.host_header,
                                     endpoint.path_prefix + path,
                                     endpoint.extra_query,
                                     request.body,
                                     *credentials,
                                     http::AwsScope{endpoint.aws_region, "bedrock"},
                                     now);
        }
        return request;
    }

    core::Result<Completion> parse_completion(std::string_view body) const override {
        auto value = parse_json(body);
        const json::value* content =
            value ? find_path(*value, {"output", "message", "content"}) : nullptr;
        if (content == nullptr || !content->is_array()) {
            return core::fail(core::ErrorCode::kCorrupt,
                              "upstream response is not a Bedrock Converse answer "
                              "(no output.message.content)");
        }
        Completion completion;
        for (const json::value& block : content->get_array()) {
            completion.text += string_at(block, {"text"});
        }
        completion.finish_reason = string_at(*value, {"stopReason"});
        completion.usage = usage_from(*value, {"usage"});
        return completion;
    }

    std::unique_ptr<StreamDecoder> stream_decoder() const override {
        return std::make_unique<BedrockDecoder>();
    }
};

}  // namespace

std::unique_ptr<WireProtocol> make_bedrock_protocol() {
    return std::make_unique<BedrockProtocol>();
}

}  // namespace ragd::llm
