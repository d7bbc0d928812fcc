// What every Storage implementation must agree on: how metadata and heading paths are stored as
// JSON text, which upserts are rejected before touching the database, and the default clock.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.hpp"
#include "storage/storage.hpp"

namespace ragd::storage {

/// Unix time in ms from std::chrono::system_clock (the default `now_ms` of every backend).
std::int64_t system_now_ms();

/// `metadata` as a JSON object of strings.
std::string encode_metadata(const Metadata& metadata);
/// A JSON object back to sorted pairs; non-string values come back as their JSON text.
/// kCorrupt (naming `document_id`) if `json` is not an object.
core::Result<Metadata> decode_metadata(std::string_view json, std::string_view document_id);

/// `strings` as a JSON array (heading paths).
std::string encode_strings(const std::vector<std::string>& strings);
/// A JSON array back to strings. kCorrupt (naming `chunk_id`) if `json` is not an array.
core::Result<std::vector<std::string>> decode_strings(std::string_view json, std::int64_t chunk_id);

/// The chunks of `found` in the order of `ids` (get_chunks' promise), leaving out ids that were
/// not found; an id asked for twice comes back twice.
std::vector<IndexableChunk> in_requested_order(
    std::span<const std::int64_t> ids,
    const std::unordered_map<std::int64_t, IndexableChunk>& found);

/// kInvalidArgument for an upsert no backend accepts: an empty id, embeddings of different
/// sizes or with non-finite values, duplicate ordinals, embeddings without a model id.
core::Result<void> validate_upsert(const DocumentRecord& doc,
                                   std::span<const NewChunk> chunks,
                                   const std::string& model_id);

}  // namespace ragd::storage
