// Requests are written directly (JsonWriter: each chunk text is copied once); responses are
// parsed with Boost.JSON and checked strictly, since every vector lands in the index.
#include "embed/embedding_protocol.hpp"

#include <cmath>

#include <boost/json.hpp>

#include "core/json_writer.hpp"

namespace ragd::embed {
namespace json = boost::json;

namespace {

core::Error corrupt(std::string detail) {
    return core::fail(core::ErrorCode::kCorrupt, "embeddings response: " + std::move(detail));
}

std::optional<double> number(const json::value& value) {
    if (value.is_double()) {
        return value.get_double();
    }
    if (value.is_int64()) {
        return static_cast<double>(value.get_int64());
    }
    if (value.is_uint64()) {
        return static_cast<double>(value.get_uint64());
    }
    return std::nullopt;
}

}  // namespace

std::string build_embeddings_request(std::string_view model,
                                     std::span<const std::string> inputs,
                                     std::optional<std::size_t> dimensions) {
    std::string body;
    std::size_t size = 64 + model.size();
    for (const auto& input : inputs) {
        size += input.size() + 8;
    }
    body.reserve(size);
    core::JsonWriter writer(body);
    writer.begin_object().member("model", model).key("input").begin_array();
    for (const auto& input : inputs) {
        writer.string(input);
    }
    writer.end_array().member("encoding_format", "float");
    if (dimensions) {
        writer.key("dimensions").unsigned_integer(*dimensions);
    }
    writer.end_object();
    return body;
}

core::Result<std::vector<Vector>> parse_embeddings_response(std::string_view body,
                                                            std::size_t inputs,
                                                            std::size_t dimensions) {
    boost::system::error_code ec;
    json::value parsed = json::parse(body, ec);
    if (ec) {
        return corrupt("not JSON (" + ec.message() + ")");
    }
    const json::object* root = parsed.if_object();
    const json::value* data = root != nullptr ? root->if_contains("data") : nullptr;
    if (data == nullptr || !data->is_array()) {
        return corrupt("no \"data\" array");
    }
    const json::array& items = data->get_array();
    if (items.size() != inputs) {
        return corrupt(std::to_string(items.size()) + " embeddings for " + std::to_string(inputs) +
                       " inputs");
    }
    std::vector<Vector> vectors(inputs);
    std::vector<bool> seen(inputs, false);
    for (std::size_t position = 0; position < items.size(); ++position) {
        const json::object* item = items[position].if_object();
        if (item == nullptr) {
            return corrupt("data[" + std::to_string(position) + "] is not an object");
        }
        // "index" is optional in some servers' answers; then the order is the input order.
        std::size_t index = position;
        if (const json::value* given = item->if_contains("index")) {
            if (given->is_uint64()) {
                index = static_cast<std::size_t>(given->get_uint64());
            } else if (given->is_int64() && given->get_int64() >= 0) {
                index = static_cast<std::size_t>(given->get_int64());
            } else {
                return corrupt("data[" + std::to_string(position) + "].index is not an index");
            }
        }
        if (index >= inputs || seen[index]) {
            return corrupt("data[" + std::to_string(position) + "].index " + std::to_string(index) +
                           " is out of range or repeated");
        }
        seen[index] = true;
        const json::value* embedding = item->if_contains("embedding");
        if (embedding == nullptr || !embedding->is_array()) {
            return corrupt("data[" + std::to_string(position) +
                           "].embedding is not an array of numbers (encoding_format float)");
        }
        const json::array& components = embedding->get_array();
        if (components.size() != dimensions) {
            return corrupt("the model returned " + std::to_string(components.size()) +
                           " dimensions, embed.dimensions is " + std::to_string(dimensions));
        }
        Vector& vector = vectors[index];
        vector.resize(dimensions);
        double norm = 0;
        for (std::size_t dim = 0; dim < dimensions; ++dim) {
            auto value = number(components[dim]);
            if (!value || !std::isfinite(*value) || std::fabs(*value) > 1e30) {
                return corrupt("data[" + std::to_string(position) + "].embedding[" +
                               std::to_string(dim) + "] is not a finite number");
            }
            vector[dim] = static_cast<float>(*value);
            norm += *value * *value;
        }
        // The index compares by inner product: every vector must be unit length. Most models
        // already normalize; rescaling here keeps the others (and rounding) correct.
        if (norm > 0) {
            const auto scale = static_cast<float>(1.0 / std::sqrt(norm));
            for (float& component : vector) {
                component *= scale;
            }
        }
    }
    return vectors;
}

}  // namespace ragd::embed
