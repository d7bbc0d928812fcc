// Answer-cache keys: which requests may share one cached answer. Two requests get the same key
// exactly when they would get the same answer from the same data, so everything that changes
// retrieval or generation is part of the key, and everything that does not is left out (each
// extra field splits the cache and lowers the hit rate).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ragd::cache {

/// Trims, collapses runs of ASCII whitespace to one space, lower-cases ASCII letters and strips
/// trailing '?', '.' and '!' (with any whitespace between them). Bytes >= 0x80 are copied
/// unchanged: no Unicode case folding or normalisation, so "Ä" and "ä" stay distinct.
std::string normalize_query(std::string_view query);

/// What the answer depends on besides the question. Part of the key:
///  - collection and its generation (bumped on every ingest/delete in it, so answers computed
///    before a change are never served after it; old entries simply age out);
///  - retrieval: top_k, mode, every filter (sorted, so their order does not matter), the tenant
///    filter, the embedding model (vectors of different models are not comparable);
///  - generation: generator/model, max_tokens, temperature, prompt version;
///  - `extra`: anything else that changes the cached bytes (e.g. a response option that adds
///    passages to the answer JSON). Add it here rather than caching a different answer shape
///    under the same key.
/// Not part of the key: request id, deadline, stream vs. non-stream (a cached answer is replayed
/// as a stream), the client's identity beyond the tenant filter, and the question's case,
/// spacing and trailing punctuation (normalize_query).
struct KeyParams {
    std::string collection = "default";
    std::uint64_t generation = 0;  ///< CollectionGenerations::get(collection)
    std::size_t top_k = 0;
    std::string mode;                                          ///< e.g. "hybrid", "vector"
    std::vector<std::pair<std::string, std::string>> filters;  ///< name, canonical value
    std::string tenant;                                        ///< "" = no tenant filter
    std::string embed_model;
    std::string generator;  ///< provider/model, e.g. "openai/gpt-4o-mini"
    std::size_t max_tokens = 0;
    double temperature = 0.0;
    std::string prompt_version;
    std::vector<std::pair<std::string, std::string>> extra;  ///< name, canonical value
};

struct CacheKey {
    /// Lower-case hex SHA-256 of the normalized query and every KeyParams field: the L1 and
    /// L2 (Redis) key. 64 characters.
    std::string exact;
    /// Lower-case hex SHA-256 of every KeyParams field except the query and the generation:
    /// the semantic cache compares questions only within one scope.
    std::string scope;
    std::uint64_t generation = 0;  ///< copied from KeyParams
    std::string normalized_query;  ///< normalize_query(question)
};

/// Canonical, unambiguous text of `params` (fields are length-prefixed, filters sorted) without
/// the generation; the scope hash is taken over it. Exposed for tests and debugging.
std::string canonical_params(const KeyParams& params);

/// Builds the key for `question` under `params`.
CacheKey make_cache_key(std::string_view question, const KeyParams& params);

}  // namespace ragd::cache
