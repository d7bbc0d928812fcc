// Lenient JSON lookups for the wire dialects (see wire_json.hpp).
#include "llm/wire_json.hpp"

namespace ragd::llm::wire {
namespace json = boost::json;

const json::value* find_path(const json::value& root,
                             std::initializer_list<std::string_view> path) {
    const json::value* node = &root;
    for (std::string_view key : path) {
        const json::object* object = node->if_object();
        if (object == nullptr) {
            return nullptr;
        }
        node = object->if_contains(key);
        if (node == nullptr) {
            return nullptr;
        }
    }
    return node;
}

std::string string_at(const json::value& root, std::initializer_list<std::string_view> path) {
    const json::value* node = find_path(root, path);
    if (node == nullptr || !node->is_string()) {
        return {};
    }
    return std::string(node->get_string());
}

std::optional<std::size_t> count_at(const json::value& root,
                                    std::initializer_list<std::string_view> path) {
    const json::value* node = find_path(root, path);
    if (node == nullptr) {
        return std::nullopt;
    }
    if (node->is_uint64()) {
        return static_cast<std::size_t>(node->get_uint64());
    }
    if (node->is_int64() && node->get_int64() >= 0) {
        return static_cast<std::size_t>(node->get_int64());
    }
    return std::nullopt;
}

std::optional<json::value> parse_json(std::string_view text, json::storage_ptr storage) {
    boost::system::error_code ec;
    json::value value = json::parse(text, ec, std::move(storage));
    if (ec) {
        return std::nullopt;
    }
    return value;
}

std::string cut(std::string text, std::size_t limit) {
    if (text.size() <= limit) {
        return text;
    }
    std::size_t end = limit;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0U) == 0x80U) {
        --end;  // keep UTF-8 whole
    }
    text.resize(end);
    text += "...";
    return text;
}

}  // namespace ragd::llm::wire
