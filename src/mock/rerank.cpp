#include "mock/rerank.hpp"

#include <algorithm>
#include <cstdint>
#include <set>
#include <vector>

#include <boost/json.hpp>

namespace ragd::mock {
namespace json = boost::json;
namespace {

std::set<std::string> words(std::string_view text) {
    std::set<std::string> out;
    std::string word;
    for (char c : text) {
        const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (c >= 'A' && c <= 'Z') {
            word.push_back(static_cast<char>(c - 'A' + 'a'));
        } else if (alnum) {
            word.push_back(c);
        } else if (!word.empty()) {
            out.insert(std::move(word));
            word.clear();
        }
    }
    if (!word.empty()) {
        out.insert(std::move(word));
    }
    return out;
}

core::Error invalid(std::string detail) {
    return core::fail(core::ErrorCode::kInvalidArgument, std::move(detail));
}

}  // namespace

double overlap_score(std::string_view query, std::string_view document) {
    const std::set<std::string> wanted = words(query);
    if (wanted.empty()) {
        return 0.0;
    }
    const std::set<std::string> present = words(document);
    std::size_t found = 0;
    for (const std::string& word : wanted) {
        found += present.count(word);
    }
    return static_cast<double>(found) / static_cast<double>(wanted.size());
}

core::Result<std::string> rerank_response(bool tei, std::string_view body) {
    boost::system::error_code ec;
    const json::value root = json::parse(body, ec);
    const json::object* request = ec ? nullptr : root.if_object();
    if (request == nullptr) {
        return invalid("request body must be a JSON object");
    }
    const json::value* query = request->if_contains("query");
    if (query == nullptr || !query->is_string()) {
        return invalid("query: expected a string");
    }
    const char* list_name = tei ? "texts" : "documents";
    const json::value* list = request->if_contains(list_name);
    if (list == nullptr || !list->is_array()) {
        return invalid(std::string(list_name) + ": expected an array");
    }
    std::vector<std::pair<std::size_t, double>> scores;
    const json::array& documents = list->get_array();
    for (std::size_t doc_idx = 0; doc_idx < documents.size(); ++doc_idx) {
        const json::value& document = documents[doc_idx];
        std::string_view text;
        if (document.is_string()) {
            text = document.get_string();
        } else if (const json::object* object = document.if_object();
                   !tei && object != nullptr && object->if_contains("text") != nullptr &&
                   object->at("text").is_string()) {
            text = object->at("text").get_string();  // Cohere also takes {"text": ...}
        } else {
            return invalid(std::string(list_name) + "[" + std::to_string(doc_idx) +
                           "]: expected a string");
        }
        scores.emplace_back(doc_idx, overlap_score(query->get_string(), text));
    }
    std::stable_sort(scores.begin(), scores.end(), [](const auto& a, const auto& b) {
        return a.second > b.second;
    });
    std::size_t top_n = scores.size();
    if (const json::value* limit = request->if_contains("top_n"); !tei && limit != nullptr) {
        // Read the integer in its own kind: a uint64 above INT64_MAX is a valid (huge) limit,
        // and converting it to int64 would throw.
        if (limit->is_uint64()) {
            top_n = std::min<std::uint64_t>(top_n, limit->get_uint64());
        } else if (limit->is_int64() && limit->get_int64() >= 0) {
            top_n = std::min<std::uint64_t>(top_n, static_cast<std::uint64_t>(limit->get_int64()));
        } else {
            return invalid("top_n: expected a non-negative integer");
        }
    }
    json::array results;
    for (std::size_t rank = 0; rank < top_n; ++rank) {
        const auto& [index, score] = scores[rank];
        if (tei) {
            results.push_back(json::object{{"index", index}, {"score", score}});
        } else {
            results.push_back(json::object{{"index", index}, {"relevance_score", score}});
        }
    }
    if (tei) {
        return json::serialize(results);
    }
    return json::serialize(json::object{{"id", "rerank-mock"}, {"results", std::move(results)}});
}

}  // namespace ragd::mock
