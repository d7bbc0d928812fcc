#include "api/request_decoding.hpp"

#include <boost/json.hpp>

#include "ingest/parser.hpp"

namespace ragd::api {
namespace json = boost::json;
namespace {

core::Error invalid(const std::string& message) {
    return core::fail(core::ErrorCode::kInvalidArgument, message);
}

core::Result<json::object> parse_object(std::string_view body) {
    if (body.empty()) {
        return invalid("request body is empty; expected a JSON object");
    }
    boost::system::error_code ec;
    json::parse_options options;
    options.max_depth = 32;  // deeply nested input is refused, not recursed into
    json::value value = json::parse(body, ec, {}, options);
    if (ec) {
        return invalid("malformed JSON: " + ec.message());
    }
    if (!value.is_object()) {
        return invalid("request body must be a JSON object");
    }
    return std::move(value.as_object());
}

core::Result<std::string> optional_string(const json::object& obj, std::string_view field,
                                          std::string_view path) {
    auto it = obj.find(field);
    if (it == obj.end() || it->value().is_null()) {
        return std::string{};
    }
    if (!it->value().is_string()) {
        return invalid(std::string(path) + ": must be a string");
    }
    return std::string(it->value().as_string());
}

core::Result<storage::Metadata> decode_string_map(const json::value& value, std::string_view path,
                                                  std::size_t max_entries) {
    if (!value.is_object()) {
        return invalid(std::string(path) + ": must be an object of string values");
    }
    storage::Metadata out;
    for (const auto& [key, item] : value.as_object()) {
        if (!item.is_string()) {
            return invalid(std::string(path) + "." + std::string(key) + ": must be a string");
        }
        if (key.empty()) {
            return invalid(std::string(path) + ": keys must not be empty");
        }
        out.emplace_back(std::string(key), std::string(item.as_string()));
    }
    if (out.size() > max_entries) {
        return invalid(std::string(path) + ": at most " + std::to_string(max_entries) +
                       " entries allowed");
    }
    std::sort(out.begin(), out.end());
    return out;
}

bool is_blank(std::string_view text) {
    return text.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

core::Result<pipeline::IngestRequest> decode_document(const json::value& value,
                                                      const std::string& path) {
    if (!value.is_object()) {
        return invalid(path + ": must be an object");
    }
    const auto& obj = value.as_object();
    pipeline::IngestRequest request;
    auto text_it = obj.find("text");
    if (text_it == obj.end() || text_it->value().is_null()) {
        return invalid(path + "text: is required");
    }
    if (!text_it->value().is_string()) {
        return invalid(path + "text: must be a string");
    }
    request.content = std::string(text_it->value().as_string());
    if (is_blank(request.content)) {
        return invalid(path + "text: must not be empty");
    }
    auto id = optional_string(obj, "id", path + "id");
    auto title = optional_string(obj, "title", path + "title");
    auto source = optional_string(obj, "source", path + "source");
    auto format = optional_string(obj, "format", path + "format");
    for (auto* field : {&id, &title, &source, &format}) {
        if (!*field) {
            return field->error();
        }
    }
    request.id = std::move(*id);
    if (request.id.size() > 512) {
        return invalid(path + "id: at most 512 bytes");
    }
    request.title = std::move(*title);
    request.source = std::move(*source);
    if (!format->empty()) {
        auto parsed = ingest::format_from_name(*format);
        if (!parsed) {
            return invalid(path + "format: must be one of text, markdown, html");
        }
        request.format = *parsed;
    }
    if (auto meta = obj.find("metadata"); meta != obj.end() && !meta->value().is_null()) {
        auto decoded = decode_string_map(meta->value(), path + "metadata", 64);
        if (!decoded) {
            return decoded.error();
        }
        request.metadata = std::move(*decoded);
    }
    return request;
}

}  // namespace

core::Result<QueryRequest> decode_query_request(std::string_view body, const Limits& limits) {
    auto parsed = parse_object(body);
    if (!parsed) {
        return parsed.error();
    }
    const json::object& obj = *parsed;
    QueryRequest request;
    auto query_it = obj.find("query");
    if (query_it == obj.end() || query_it->value().is_null()) {
        return invalid("query: is required");
    }
    if (!query_it->value().is_string()) {
        return invalid("query: must be a string");
    }
    request.query = std::string(query_it->value().as_string());
    if (is_blank(request.query)) {
        return invalid("query: must not be empty");
    }
    if (request.query.size() > limits.max_query_bytes) {
        return invalid("query: longer than the limit of " + std::to_string(limits.max_query_bytes) +
                       " bytes");
    }
    request.options.top_k = limits.default_top_k;
    if (auto it = obj.find("top_k"); it != obj.end() && !it->value().is_null()) {
        const auto& v = it->value();
        std::int64_t top_k = 0;
        if (v.is_int64()) {
            top_k = v.as_int64();
        } else if (v.is_uint64()) {
            top_k = static_cast<std::int64_t>(std::min<std::uint64_t>(v.as_uint64(), INT64_MAX));
        } else {
            return invalid("top_k: must be an integer");
        }
        if (top_k < 1 || static_cast<std::uint64_t>(top_k) > limits.max_top_k) {
            return invalid("top_k: must be between 1 and " + std::to_string(limits.max_top_k));
        }
        request.options.top_k = static_cast<std::size_t>(top_k);
    }
    if (auto it = obj.find("mode"); it != obj.end() && !it->value().is_null()) {
        if (!it->value().is_string()) {
            return invalid("mode: must be a string");
        }
        std::string_view mode = it->value().as_string();
        if (mode == "hybrid") {
            request.options.mode = pipeline::RetrievalMode::kHybrid;
        } else if (mode == "vector") {
            request.options.mode = pipeline::RetrievalMode::kVector;
        } else if (mode == "bm25") {
            request.options.mode = pipeline::RetrievalMode::kBm25;
        } else {
            return invalid("mode: must be one of hybrid, vector, bm25");
        }
    }
    if (auto it = obj.find("filter"); it != obj.end() && !it->value().is_null()) {
        if (!it->value().is_object()) {
            return invalid("filter: must be an object");
        }
        const auto& filter = it->value().as_object();
        for (const auto& [key, value] : filter) {
            if (key == "source_prefix") {
                if (!value.is_string()) {
                    return invalid("filter.source_prefix: must be a string");
                }
                request.options.filter.source_prefix = std::string(value.as_string());
            } else if (key == "metadata") {
                auto decoded = decode_string_map(value, "filter.metadata", limits.max_filter_terms);
                if (!decoded) {
                    return decoded.error();
                }
                request.options.filter.metadata = std::move(*decoded);
            } else {
                return invalid("filter." + std::string(key) +
                               ": unknown filter (use source_prefix or metadata)");
            }
        }
    }
    if (auto it = obj.find("stream"); it != obj.end() && !it->value().is_null()) {
        if (!it->value().is_bool()) {
            return invalid("stream: must be true or false");
        }
        request.stream = it->value().as_bool();
    }
    if (auto it = obj.find("rerank"); it != obj.end() && !it->value().is_null()) {
        if (!it->value().is_bool()) {
            return invalid("rerank: must be true or false");
        }
        request.rerank = it->value().as_bool();
    }
    if (auto it = obj.find("max_tokens"); it != obj.end() && !it->value().is_null()) {
        const auto& v = it->value();
        const bool integral = v.is_int64() || v.is_uint64();
        const std::uint64_t tokens =
            v.is_uint64() ? v.as_uint64()
                          : (v.is_int64() && v.as_int64() > 0 ? static_cast<std::uint64_t>(v.as_int64())
                                                              : 0);
        if (!integral || tokens < 1 || tokens > limits.max_tokens_limit) {
            return invalid("max_tokens: must be an integer between 1 and " +
                           std::to_string(limits.max_tokens_limit));
        }
        request.max_tokens = static_cast<std::size_t>(tokens);
    }
    if (auto it = obj.find("temperature"); it != obj.end() && !it->value().is_null()) {
        const auto& v = it->value();
        if (!v.is_number()) {
            return invalid("temperature: must be a number between 0 and 2");
        }
        const double temperature = v.to_number<double>();
        if (!(temperature >= 0 && temperature <= 2)) {
            return invalid("temperature: must be a number between 0 and 2");
        }
        request.temperature = temperature;
    }
    return request;
}

core::Result<std::vector<pipeline::IngestRequest>> decode_documents_request(std::string_view body,
                                                                            const Limits& limits) {
    auto parsed = parse_object(body);
    if (!parsed) {
        return parsed.error();
    }
    std::vector<pipeline::IngestRequest> out;
    auto batch = parsed->find("documents");
    if (batch == parsed->end()) {
        auto one = decode_document(*parsed, "");
        if (!one) {
            return one.error();
        }
        out.push_back(std::move(*one));
        return out;
    }
    if (!batch->value().is_array()) {
        return invalid("documents: must be an array");
    }
    const auto& items = batch->value().as_array();
    if (items.empty()) {
        return invalid("documents: must not be empty");
    }
    if (items.size() > limits.max_batch_documents) {
        return invalid("documents: at most " + std::to_string(limits.max_batch_documents) +
                       " documents per request");
    }
    for (std::size_t i = 0; i < items.size(); ++i) {
        auto one = decode_document(items[i], "documents[" + std::to_string(i) + "].");
        if (!one) {
            return one.error();
        }
        out.push_back(std::move(*one));
    }
    return out;
}

}  // namespace ragd::api
