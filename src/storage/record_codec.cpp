// Shared by the SQLite and PostgreSQL backends so that both store and reject exactly the same.
#include "storage/record_codec.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <unordered_set>

#include <boost/json.hpp>

namespace ragd::storage {

std::int64_t system_now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string encode_metadata(const Metadata& metadata) {
    boost::json::object object;
    for (const auto& [key, value] : metadata) {
        object[key] = value;
    }
    return boost::json::serialize(object);
}

core::Result<Metadata> decode_metadata(std::string_view json, std::string_view document_id) {
    boost::system::error_code ec;
    boost::json::value value = boost::json::parse(json, ec);
    if (ec || !value.is_object()) {
        return core::fail(
            core::ErrorCode::kCorrupt,
            "metadata of document '" + std::string(document_id) + "' is not a JSON object");
    }
    Metadata metadata;
    for (const auto& [key, v] : value.as_object()) {
        metadata.emplace_back(
            std::string(key),
            v.is_string() ? std::string(v.as_string()) : boost::json::serialize(v));
    }
    std::sort(metadata.begin(), metadata.end());
    return metadata;
}

std::string encode_strings(const std::vector<std::string>& strings) {
    boost::json::array array;
    array.reserve(strings.size());
    for (const auto& s : strings) {
        array.emplace_back(s);
    }
    return boost::json::serialize(array);
}

core::Result<std::vector<std::string>> decode_strings(std::string_view json,
                                                      std::int64_t chunk_id) {
    boost::system::error_code ec;
    boost::json::value value = boost::json::parse(json, ec);
    if (ec || !value.is_array()) {
        return core::fail(
            core::ErrorCode::kCorrupt,
            "heading_path of chunk " + std::to_string(chunk_id) + " is not a JSON array");
    }
    std::vector<std::string> strings;
    for (const auto& v : value.as_array()) {
        strings.push_back(v.is_string() ? std::string(v.as_string()) : boost::json::serialize(v));
    }
    return strings;
}

core::Result<void> validate_upsert(const DocumentRecord& doc,
                                   std::span<const NewChunk> chunks,
                                   const std::string& model_id) {
    if (doc.id.empty()) {
        return core::fail(core::ErrorCode::kInvalidArgument, "document id must not be empty");
    }
    if (chunks.empty()) {
        return {};
    }
    const std::size_t dims = chunks.front().embedding.size();
    std::unordered_set<std::uint32_t> ordinals;
    for (const NewChunk& chunk : chunks) {
        if (chunk.embedding.size() != dims) {
            return core::fail(
                core::ErrorCode::kInvalidArgument,
                "chunk " + std::to_string(chunk.ordinal) + " of document '" + doc.id + "' has a " +
                    std::to_string(chunk.embedding.size()) + "-dim embedding, but chunk " +
                    std::to_string(chunks.front().ordinal) + " has " + std::to_string(dims));
        }
        if (!std::all_of(chunk.embedding.begin(), chunk.embedding.end(), [](float value) {
                return std::isfinite(value);
            })) {
            return core::fail(core::ErrorCode::kInvalidArgument,
                              "chunk " + std::to_string(chunk.ordinal) + " of document '" + doc.id +
                                  "' has a non-finite value in its embedding");
        }
        if (!ordinals.insert(chunk.ordinal).second) {
            return core::fail(core::ErrorCode::kInvalidArgument,
                              "document '" + doc.id + "' has two chunks with ordinal " +
                                  std::to_string(chunk.ordinal));
        }
    }
    if (dims > 0 && model_id.empty()) {
        return core::fail(
            core::ErrorCode::kInvalidArgument,
            "model_id must not be empty when chunks of '" + doc.id + "' carry embeddings");
    }
    return {};
}

std::vector<IndexableChunk> in_requested_order(
    std::span<const std::int64_t> ids,
    const std::unordered_map<std::int64_t, IndexableChunk>& found) {
    std::vector<IndexableChunk> out;
    out.reserve(found.size());
    for (const std::int64_t id : ids) {
        if (auto it = found.find(id); it != found.end()) {
            out.push_back(it->second);
        }
    }
    return out;
}

}  // namespace ragd::storage
