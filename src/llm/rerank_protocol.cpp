// Rerank request bodies are written directly (JsonWriter: passages are copied once); responses
// are parsed with Boost.JSON and checked strictly, since their indexes decide which passages
// the answer is built from.
#include "llm/rerank_protocol.hpp"

#include <algorithm>
#include <cmath>

#include <boost/json.hpp>

#include "core/json_writer.hpp"

namespace ragd::llm {
namespace json = boost::json;

namespace {

core::Error corrupt(std::string detail) {
    return core::fail(core::ErrorCode::kCorrupt, "rerank response: " + std::move(detail));
}

std::optional<double> number(const json::value* value) {
    if (value == nullptr) {
        return std::nullopt;
    }
    if (value->is_double()) {
        return value->get_double();
    }
    if (value->is_int64()) {
        return static_cast<double>(value->get_int64());
    }
    if (value->is_uint64()) {
        return static_cast<double>(value->get_uint64());
    }
    return std::nullopt;
}

std::optional<std::size_t> index_of(const json::value* value) {
    if (value == nullptr) {
        return std::nullopt;
    }
    if (value->is_uint64()) {
        return static_cast<std::size_t>(value->get_uint64());
    }
    if (value->is_int64() && value->get_int64() >= 0) {
        return static_cast<std::size_t>(value->get_int64());
    }
    return std::nullopt;
}

}  // namespace

bool known_rerank_dialect(std::string_view dialect) {
    return dialect == "cohere" || dialect == "tei";
}

RerankWireRequest build_rerank_request(std::string_view dialect,
                                       std::string_view model,
                                       std::string_view query,
                                       std::span<const std::string> documents) {
    std::size_t bytes = query.size() + model.size() + 128;
    for (const std::string& document : documents) {
        bytes += document.size() + 8;
    }
    RerankWireRequest request;
    request.body.reserve(bytes);
    core::JsonWriter out(request.body);
    out.begin_object();
    if (dialect == "tei") {
        request.target = "/rerank";
        out.member("query", query);
        out.key("texts").begin_array();
        for (const std::string& document : documents) {
            out.string(document);
        }
        out.end_array();
    } else {
        request.target = "/v1/rerank";
        if (!model.empty()) {
            out.member("model", model);
        }
        out.member("query", query);
        out.key("documents").begin_array();
        for (const std::string& document : documents) {
            out.string(document);
        }
        out.end_array();
        out.key("top_n").unsigned_integer(documents.size());
    }
    out.end_object();
    return request;
}

core::Result<std::vector<RerankScore>> parse_rerank_response(std::string_view dialect,
                                                             std::string_view body,
                                                             std::size_t document_count) {
    boost::system::error_code ec;
    const json::value root = json::parse(body, ec);
    if (ec) {
        return corrupt("not JSON");
    }
    const json::array* items = nullptr;
    const char* score_field = "relevance_score";
    if (dialect == "tei") {
        items = root.if_array();
        score_field = "score";
    } else if (const json::object* object = root.if_object()) {
        if (const json::value* results = object->if_contains("results")) {
            items = results->if_array();
        }
    }
    if (items == nullptr) {
        return corrupt(dialect == "tei" ? "expected an array of {index, score}"
                                        : "expected {\"results\": [...]}");
    }
    std::vector<RerankScore> scores;
    scores.reserve(items->size());
    std::vector<bool> seen(document_count, false);
    for (const json::value& item : *items) {
        const json::object* fields = item.if_object();
        const auto index = index_of(fields != nullptr ? fields->if_contains("index") : nullptr);
        const auto score = number(fields != nullptr ? fields->if_contains(score_field) : nullptr);
        if (!index || !score) {
            return corrupt(std::string("an entry lacks an integer index or a numeric ") +
                           score_field);
        }
        if (*index >= document_count || seen[*index]) {
            return corrupt("index " + std::to_string(*index) + " is out of range or repeated (" +
                           std::to_string(document_count) + " documents sent)");
        }
        if (!std::isfinite(*score)) {
            return corrupt("a score is not finite");
        }
        seen[*index] = true;
        scores.push_back({*index, *score});
    }
    std::stable_sort(scores.begin(), scores.end(), [](const RerankScore& a, const RerankScore& b) {
        return a.score > b.score;
    });
    return scores;
}

}  // namespace ragd::llm
