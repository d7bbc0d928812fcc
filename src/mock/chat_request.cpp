// Request decoding with Boost.JSON: lenient about fields the mock does not use, strict about
// the ones it does, so a client bug shows up as the provider's 400, not as a silent default.
#include "mock/chat_request.hpp"

#include <boost/json.hpp>

#include "mock/text_generator.hpp"

namespace ragd::mock {

namespace json = boost::json;

namespace {

core::Error invalid(std::string detail) {
    return core::fail(core::ErrorCode::kInvalidArgument, std::move(detail));
}

/// A message's text: a string, or the "text" of each {"type":"text"} part joined by newlines.
/// Other parts (images, tool results) carry no text the mock can echo.
std::string content_text(const json::value& content) {
    if (const json::string* text = content.if_string()) {
        return std::string(*text);
    }
    std::string joined;
    if (const json::array* parts = content.if_array()) {
        for (const json::value& part : *parts) {
            const json::object* object = part.if_object();
            if (object == nullptr) {
                continue;
            }
            const json::value* text = object->if_contains("text");
            if (text != nullptr && text->is_string()) {
                if (!joined.empty()) {
                    joined += '\n';
                }
                joined += text->get_string();
            }
        }
    }
    return joined;
}

core::Result<std::optional<std::size_t>> read_max_tokens(const json::object& body,
                                                         std::string_view field) {
    const json::value* value = body.if_contains(field);
    if (value == nullptr || value->is_null()) {
        return std::optional<std::size_t>();
    }
    if (const auto* number = value->if_int64(); number != nullptr && *number > 0) {
        return std::optional<std::size_t>(static_cast<std::size_t>(*number));
    }
    if (const auto* number = value->if_uint64(); number != nullptr && *number > 0) {
        return std::optional<std::size_t>(static_cast<std::size_t>(*number));
    }
    return invalid(std::string(field) + ": expected a positive integer");
}

}  // namespace

core::Result<ChatRequest> parse_chat_request(Api api, std::string_view body) {
    boost::system::error_code parse_error;
    const json::value document = json::parse(body, parse_error);
    if (parse_error) {
        return invalid("request body is not valid JSON: " + parse_error.message());
    }
    const json::object* object = document.if_object();
    if (object == nullptr) {
        return invalid("request body must be a JSON object");
    }

    ChatRequest request;
    request.model = "mock-model";
    // Bedrock names the model and asks for a stream in the path (the caller sets both).
    if (api != Api::kBedrock) {
        if (const json::value* model = object->if_contains("model"); model != nullptr) {
            if (!model->is_string()) {
                return invalid("model: expected a string");
            }
            request.model = std::string(model->get_string());
        }
        if (const json::value* stream = object->if_contains("stream");
            stream != nullptr && !stream->is_null()) {
            if (!stream->is_bool()) {
                return invalid("stream: expected true or false");
            }
            request.stream = stream->get_bool();
        }
    }
    if (api == Api::kOpenAi) {
        if (const json::value* options = object->if_contains("stream_options");
            options != nullptr && options->is_object()) {
            const json::value* usage = options->get_object().if_contains("include_usage");
            request.include_usage = usage != nullptr && usage->is_bool() && usage->get_bool();
        }
    }

    if (api == Api::kBedrock) {
        if (const json::value* config = object->if_contains("inferenceConfig");
            config != nullptr && !config->is_null()) {
            if (!config->is_object()) {
                return invalid("inferenceConfig: expected an object");
            }
            auto max_tokens = read_max_tokens(config->get_object(), "maxTokens");
            if (!max_tokens) {
                return max_tokens.error();
            }
            request.max_tokens = *max_tokens;
        }
    } else {
        auto max_tokens = read_max_tokens(*object, "max_tokens");
        if (!max_tokens) {
            return max_tokens.error();
        }
        request.max_tokens = *max_tokens;
    }
    if (api == Api::kOpenAi && !request.max_tokens) {
        auto completion_tokens = read_max_tokens(*object, "max_completion_tokens");
        if (!completion_tokens) {
            return completion_tokens.error();
        }
        request.max_tokens = *completion_tokens;
    }

    if (api == Api::kAnthropic || api == Api::kBedrock) {
        if (const json::value* system = object->if_contains("system"); system != nullptr) {
            request.prompt_tokens += count_words(content_text(*system));
        }
    }
    const json::value* messages_value = object->if_contains("messages");
    const json::array* messages = messages_value != nullptr ? messages_value->if_array() : nullptr;
    if (messages == nullptr || messages->empty()) {
        return invalid("messages: expected a non-empty array");
    }
    for (std::size_t message_idx = 0; message_idx < messages->size(); ++message_idx) {
        const json::object* message = (*messages)[message_idx].if_object();
        const json::value* role = message != nullptr ? message->if_contains("role") : nullptr;
        if (role == nullptr || !role->is_string()) {
            return invalid("messages[" + std::to_string(message_idx) + "].role: expected a string");
        }
        const json::value* content = message->if_contains("content");
        std::string text = content != nullptr ? content_text(*content) : std::string();
        request.prompt_tokens += count_words(text);
        if (role->get_string() == "user") {
            request.last_user_message = std::move(text);
        }
    }
    return request;
}

}  // namespace ragd::mock
