// The OpenAI and Anthropic dialects (Bedrock's is in bedrock_protocol.cpp). Boost.JSON builds
// and parses the bodies; SSE framing comes from http/sse_parser, so both dialects share one
// incremental parser.
#include "llm/wire_protocol.hpp"

#include <boost/json.hpp>

#include "core/json_writer.hpp"
#include "core/utf8.hpp"
#include "http/sse_parser.hpp"
#include "llm/wire_json.hpp"

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

void add_common_headers(WireRequest& request, const Endpoint& endpoint, bool stream) {
    request.headers.push_back({"Content-Type", "application/json"});
    request.headers.push_back({"Accept", stream ? "text/event-stream" : "application/json"});
    for (const http::Header& header : endpoint.extra_headers) {
        request.headers.push_back(header);
    }
}

/// Bytes of text a request body carries for `prompt` (its JSON adds a little on top).
std::size_t prompt_bytes(const Prompt& prompt) {
    std::size_t bytes = prompt.system.size();
    for (const ChatMessage& message : prompt.messages) {
        bytes += message.content.size() + 32;
    }
    return bytes;
}

void write_message(core::JsonWriter& out, std::string_view role, std::string_view content) {
    out.begin_object().member("role", role).member("content", content).end_object();
}

std::string with_query(std::string target, const Endpoint& endpoint) {
    if (!endpoint.extra_query.empty()) {
        target += '?';
        target += endpoint.extra_query;
    }
    return target;
}

/// SSE framing shared by both dialects; each decodes its own event payloads.
class SseStreamDecoder : public StreamDecoder {
public:
    void feed(std::string_view bytes, std::vector<StreamEvent>& out) final {
        events_.clear();
        parser_.feed(bytes, events_);
        // Events completed before a failure in the same read still count: what the client
        // sees must not depend on how the upstream's bytes were split.
        for (const http::SseParser::Event& event : events_) {
            decode(event, out);
        }
        if (parser_.failed() && !failed_) {
            failed_ = true;
            out.push_back({StreamEvent::Kind::kError, "upstream stream event too large", {}});
        }
    }

protected:
    virtual void decode(const http::SseParser::Event& event, std::vector<StreamEvent>& out) = 0;

private:
    http::SseParser parser_;
    std::vector<http::SseParser::Event> events_;
    bool failed_ = false;
};

// ---- OpenAI Chat Completions -------------------------------------------------------------

class OpenAiDecoder final : public SseStreamDecoder {
private:
    void decode(const http::SseParser::Event& event, std::vector<StreamEvent>& out) override {
        if (event.data.empty()) {
            return;
        }
        if (event.data == "[DONE]") {
            out.push_back({StreamEvent::Kind::kDone, {}, {}});
            return;
        }
        EventArena arena;
        auto value = parse_json(event.data, arena.storage());
        if (!value) {
            out.push_back({StreamEvent::Kind::kError, "malformed JSON in upstream stream", {}});
            return;
        }
        if (find_path(*value, {"error"}) != nullptr) {
            std::string message = string_at(*value, {"error", "message"});
            out.push_back(
                {StreamEvent::Kind::kError,
                 cut(message.empty() ? "upstream sent an error event" : message, kErrorDetailBytes),
                 {}});
            return;
        }
        if (const json::value* choices = find_path(*value, {"choices"});
            choices != nullptr && choices->is_array() && !choices->get_array().empty()) {
            const json::value& choice = choices->get_array().front();
            std::string text = string_at(choice, {"delta", "content"});
            if (!text.empty()) {
                out.push_back({StreamEvent::Kind::kDelta, std::move(text), {}});
            }
        }
        if (auto prompt = count_at(*value, {"usage", "prompt_tokens"})) {
            Usage usage;
            usage.prompt_tokens = *prompt;
            usage.completion_tokens = count_at(*value, {"usage", "completion_tokens"}).value_or(0);
            usage.reported = true;
            out.push_back({StreamEvent::Kind::kUsage, {}, usage});
        }
    }
};

class OpenAiProtocol final : public WireProtocol {
public:
    std::string_view dialect() const override { return "openai"; }

    WireRequest build_request(const Prompt& prompt,
                              const CallParams& params,
                              const Endpoint& endpoint) const override {
        // Written directly: the prompt (passages included, ~6 KB) is copied once, into the body.
        std::string body;
        body.reserve(prompt_bytes(prompt) + 256);
        core::JsonWriter out(body);
        out.begin_object();
        out.member("model", params.model);
        out.key("messages").begin_array();
        if (!prompt.system.empty()) {
            write_message(out, "system", prompt.system);
        }
        for (const ChatMessage& message : prompt.messages) {
            write_message(out, message.role, message.content);
        }
        out.end_array();
        out.key("max_tokens").unsigned_integer(params.max_tokens);
        out.key("temperature").number(params.temperature);
        out.key("stream").boolean(params.stream);
        if (params.stream) {
            out.key("stream_options")
                .begin_object()
                .key("include_usage")
                .boolean(true)
                .end_object();
        }
        out.end_object();
        WireRequest request;
        request.target = with_query("/v1/chat/completions", endpoint);
        request.body = std::move(body);
        if (!endpoint.api_key.empty()) {
            if (endpoint.api_key_header.empty()) {
                request.headers.push_back({"Authorization", "Bearer " + endpoint.api_key});
            } else {
                request.headers.push_back({endpoint.api_key_header, endpoint.api_key});
            }
        }
        add_common_headers(request, endpoint, params.stream);
        return request;
    }

    core::Result<Completion> parse_completion(std::string_view body) const override {
        auto value = parse_json(body);
        const json::value* choices = value ? find_path(*value, {"choices"}) : nullptr;
        if (choices == nullptr || !choices->is_array() || choices->get_array().empty()) {
            return core::fail(core::ErrorCode::kCorrupt,
                              "upstream response is not a chat completion (no choices)");
        }
        const json::value& choice = choices->get_array().front();
        Completion completion;
        completion.text = string_at(choice, {"message", "content"});
        completion.finish_reason = string_at(choice, {"finish_reason"});
        if (auto prompt = count_at(*value, {"usage", "prompt_tokens"})) {
            completion.usage.prompt_tokens = *prompt;
            completion.usage.completion_tokens =
                count_at(*value, {"usage", "completion_tokens"}).value_or(0);
            completion.usage.reported = true;
        }
        return completion;
    }

    std::unique_ptr<StreamDecoder> stream_decoder() const override {
        return std::make_unique<OpenAiDecoder>();
    }
};

// ---- Anthropic Messages --------------------------------------------------------------------

class AnthropicDecoder final : public SseStreamDecoder {
private:
    void decode(const http::SseParser::Event& event, std::vector<StreamEvent>& out) override {
        if (event.data.empty()) {
            return;
        }
        EventArena arena;
        auto value = parse_json(event.data, arena.storage());
        if (!value) {
            out.push_back({StreamEvent::Kind::kError, "malformed JSON in upstream stream", {}});
            return;
        }
        // The event name is repeated in the payload's "type"; trust the payload.
        const std::string type = string_at(*value, {"type"});
        if (type == "content_block_delta") {
            std::string text = string_at(*value, {"delta", "text"});
            if (!text.empty()) {
                out.push_back({StreamEvent::Kind::kDelta, std::move(text), {}});
            }
        } else if (type == "message_start") {
            if (auto input = count_at(*value, {"message", "usage", "input_tokens"})) {
                usage_.prompt_tokens = *input;
                usage_.reported = true;
                out.push_back({StreamEvent::Kind::kUsage, {}, usage_});
            }
        } else if (type == "message_delta") {
            if (auto output = count_at(*value, {"usage", "output_tokens"})) {
                usage_.completion_tokens = *output;
                usage_.reported = true;
                out.push_back({StreamEvent::Kind::kUsage, {}, usage_});
            }
        } else if (type == "message_stop") {
            out.push_back({StreamEvent::Kind::kDone, {}, {}});
        } else if (type == "error") {
            std::string message = string_at(*value, {"error", "message"});
            out.push_back(
                {StreamEvent::Kind::kError,
                 cut(message.empty() ? "upstream sent an error event" : message, kErrorDetailBytes),
                 {}});
        }
        // ping, content_block_start/stop: nothing to do.
    }

    Usage usage_;
};

class AnthropicProtocol final : public WireProtocol {
public:
    std::string_view dialect() const override { return "anthropic"; }

    WireRequest build_request(const Prompt& prompt,
                              const CallParams& params,
                              const Endpoint& endpoint) const override {
        std::string body;
        body.reserve(prompt_bytes(prompt) + 256);
        core::JsonWriter out(body);
        out.begin_object();
        out.member("model", params.model);
        out.key("max_tokens").unsigned_integer(params.max_tokens);
        out.key("temperature").number(params.temperature);
        out.key("messages").begin_array();
        for (const ChatMessage& message : prompt.messages) {
            write_message(out, message.role, message.content);
        }
        out.end_array();
        out.key("stream").boolean(params.stream);
        if (!prompt.system.empty()) {
            out.member("system", prompt.system);
        }
        out.end_object();
        WireRequest request;
        request.target = with_query("/v1/messages", endpoint);
        request.body = std::move(body);
        if (!endpoint.api_key.empty()) {
            request.headers.push_back(
                {endpoint.api_key_header.empty() ? "x-api-key" : endpoint.api_key_header,
                 endpoint.api_key});
        }
        request.headers.push_back({"anthropic-version", endpoint.anthropic_version});
        add_common_headers(request, endpoint, params.stream);
        return request;
    }

    core::Result<Completion> parse_completion(std::string_view body) const override {
        auto value = parse_json(body);
        const json::value* content = value ? find_path(*value, {"content"}) : nullptr;
        if (content == nullptr || !content->is_array()) {
            return core::fail(core::ErrorCode::kCorrupt,
                              "upstream response is not an Anthropic message (no content)");
        }
        Completion completion;
        for (const json::value& block : content->get_array()) {
            if (string_at(block, {"type"}) == "text") {
                completion.text += string_at(block, {"text"});
            }
        }
        completion.finish_reason = string_at(*value, {"stop_reason"});
        if (auto input = count_at(*value, {"usage", "input_tokens"})) {
            completion.usage.prompt_tokens = *input;
            completion.usage.completion_tokens =
                count_at(*value, {"usage", "output_tokens"}).value_or(0);
            completion.usage.reported = true;
        }
        return completion;
    }

    std::unique_ptr<StreamDecoder> stream_decoder() const override {
        return std::make_unique<AnthropicDecoder>();
    }
};

std::string_view trim(std::string_view text) {
    const std::size_t first = text.find_first_not_of(" \t");
    if (first == std::string_view::npos) {
        return {};
    }
    const std::size_t last = text.find_last_not_of(" \t");
    return text.substr(first, last - first + 1);
}

}  // namespace

std::string WireProtocol::error_detail(std::string_view body) {
    if (auto value = parse_json(body)) {
        std::string message = string_at(*value, {"error", "message"});
        if (message.empty()) {
            message = string_at(*value, {"message"});
        }
        if (!message.empty()) {
            return cut(std::move(message), kErrorDetailBytes);
        }
    }
    // One byte past the limit, so cut() sees the text is long and trims at a UTF-8 boundary.
    // The body may be any bytes (an HTML page in another charset, binary garbage), and the
    // detail ends up inside JSON sent to clients and in logs: invalid UTF-8 becomes U+FFFD.
    std::string excerpt = core::sanitize_utf8(body.substr(0, kErrorDetailBytes + 1));
    for (char& c : excerpt) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            c = ' ';
        }
    }
    return cut(std::move(excerpt), kErrorDetailBytes);
}

std::unique_ptr<WireProtocol> make_openai_protocol() {
    return std::make_unique<OpenAiProtocol>();
}

std::unique_ptr<WireProtocol> make_anthropic_protocol() {
    return std::make_unique<AnthropicProtocol>();
}

std::unique_ptr<WireProtocol> make_wire_protocol(std::string_view dialect) {
    if (dialect == "openai") {
        return make_openai_protocol();
    }
    if (dialect == "anthropic") {
        return make_anthropic_protocol();
    }
    if (dialect == "bedrock") {
        return make_bedrock_protocol();
    }
    return nullptr;
}

core::Result<std::vector<http::Header>> parse_header_list(std::string_view text) {
    std::vector<http::Header> headers;
    while (!text.empty()) {
        const std::size_t semicolon = text.find(';');
        const std::string_view entry = trim(text.substr(0, semicolon));
        text =
            semicolon == std::string_view::npos ? std::string_view{} : text.substr(semicolon + 1);
        if (entry.empty()) {
            continue;
        }
        const std::size_t colon = entry.find(':');
        const std::string_view name =
            colon == std::string_view::npos ? entry : trim(entry.substr(0, colon));
        const bool name_ok =
            colon != std::string_view::npos && !name.empty() &&
            name.find_first_of(" \t\r\n\"(),/:;<=>?@[\\]{}") == std::string_view::npos;
        const std::string_view value =
            colon == std::string_view::npos ? std::string_view{} : trim(entry.substr(colon + 1));
        if (!name_ok || value.find_first_of("\r\n") != std::string_view::npos) {
            return core::fail(
                core::ErrorCode::kInvalidArgument,
                "extra_headers: entry '" + std::string(name) + "' is not 'Name: value'");
        }
        headers.push_back({std::string(name), std::string(value)});
    }
    return headers;
}

}  // namespace ragd::llm
