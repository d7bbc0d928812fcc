#include "mock/embeddings.hpp"

#include <cmath>
#include <cstdint>

#include <boost/json.hpp>

namespace ragd::mock {
namespace json = boost::json;

namespace {

core::Error invalid(std::string detail) {
    return core::fail(core::ErrorCode::kInvalidArgument, std::move(detail));
}

bool is_word_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

}  // namespace

std::vector<float> mock_embedding(std::string_view text, std::size_t dimensions) {
    std::vector<float> vector(dimensions, 0.0f);
    std::size_t pos = 0;
    while (pos < text.size()) {
        while (pos < text.size() && !is_word_char(text[pos])) {
            ++pos;
        }
        std::uint64_t hash = 1469598103934665603ULL;  // FNV-1a
        std::size_t length = 0;
        while (pos < text.size() && is_word_char(text[pos])) {
            char c = text[pos];
            if (c >= 'A' && c <= 'Z') {
                c = static_cast<char>(c - 'A' + 'a');
            }
            hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
            ++pos;
            ++length;
        }
        if (length > 0) {
            const float sign = (hash >> 63) != 0 ? -1.0f : 1.0f;
            vector[(hash >> 1) % dimensions] += sign;
        }
    }
    double norm = 0;
    for (float v : vector) {
        norm += static_cast<double>(v) * v;
    }
    if (norm > 0) {
        const auto scale = static_cast<float>(1.0 / std::sqrt(norm));
        for (float& v : vector) {
            v *= scale;
        }
    }
    return vector;
}

core::Result<std::string> embeddings_response(std::string_view body) {
    boost::system::error_code ec;
    json::value parsed = json::parse(body, ec);
    if (ec || !parsed.is_object()) {
        return invalid("the body is not a JSON object");
    }
    const json::object& request = parsed.get_object();
    const json::value* model = request.if_contains("model");
    if (model == nullptr || !model->is_string() || model->get_string().empty()) {
        return invalid("model: must be a non-empty string");
    }
    std::vector<std::string_view> inputs;
    const json::value* input = request.if_contains("input");
    if (input != nullptr && input->is_string()) {
        inputs.emplace_back(input->get_string());
    } else if (input != nullptr && input->is_array() && !input->get_array().empty()) {
        for (const json::value& item : input->get_array()) {
            if (!item.is_string()) {
                return invalid("input: must be a string or an array of strings");
            }
            inputs.emplace_back(item.get_string());
        }
    } else {
        return invalid("input: must be a string or a non-empty array of strings");
    }
    std::size_t dimensions = kDefaultEmbeddingDimensions;
    if (const json::value* asked = request.if_contains("dimensions")) {
        if (!asked->is_int64() || asked->get_int64() < 1 || asked->get_int64() > 4096) {
            return invalid("dimensions: must be an integer between 1 and 4096");
        }
        dimensions = static_cast<std::size_t>(asked->get_int64());
    }
    if (const json::value* format = request.if_contains("encoding_format")) {
        if (!format->is_string() || format->get_string() != "float") {
            return invalid("encoding_format: mock-llm answers only \"float\"");
        }
    }
    json::array data;
    data.reserve(inputs.size());
    std::size_t tokens = 0;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        json::array components;
        for (float v : mock_embedding(inputs[i], dimensions)) {
            components.emplace_back(static_cast<double>(v));
        }
        tokens += inputs[i].size() / 4 + 1;
        data.emplace_back(json::object{
            {"object", "embedding"}, {"index", i}, {"embedding", std::move(components)}});
    }
    json::object response{
        {"object", "list"},
        {"data", std::move(data)},
        {"model", model->get_string()},
        {"usage", json::object{{"prompt_tokens", tokens}, {"total_tokens", tokens}}},
    };
    return json::serialize(response);
}

}  // namespace ragd::mock
