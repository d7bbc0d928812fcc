// API keys as the server holds them: only their SHA-256, looked up by the digest of the key a
// client presents, with the scopes, collections, tenant filter and limits each key carries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/config.hpp"
#include "core/error.hpp"
#include "storage/storage.hpp"

namespace ragd::api {

/// What a key may do; a route requires exactly one. Scopes are independent: admin does not
/// imply query or ingest (least privilege: a metrics scraper gets admin alone).
enum class Scope : std::uint8_t {
    kQuery = 1,   ///< POST /v1/query, POST /v1/search, GET /v1/documents/{id}
    kIngest = 2,  ///< POST /v1/documents, DELETE /v1/documents/{id}
    kAdmin = 4,   ///< GET /v1/stats, GET /metrics (when auth.protect_metrics)
};

/// "query", "ingest" or "admin".
std::string_view scope_name(Scope scope);

/// Per-key limits; 0 means unlimited.
struct RateLimits {
    double requests_per_second = 0;
    double burst = 0;  ///< already defaulted: max(1, requests_per_second) when configured as 0
    double tokens_per_minute = 0;
    double daily_tokens = 0;

    bool limits_requests() const { return requests_per_second > 0; }
    bool limits_tokens() const { return tokens_per_minute > 0 || daily_tokens > 0; }
};

struct ApiKey {
    std::string name;         ///< the only thing about a key that is ever logged or shown
    std::string sha256_hex;   ///< lower-case hex SHA-256 of the key
    std::uint8_t scopes = 0;  ///< bit set of Scope
    std::vector<std::string> collections;  ///< empty: every collection
    storage::Metadata filter;              ///< mandatory metadata, sorted by key
    RateLimits limits;

    bool has_scope(Scope scope) const { return (scopes & static_cast<std::uint8_t>(scope)) != 0; }
    bool allows_collection(std::string_view collection) const;
};

/// The configured keys. Immutable after construction, so lookups need no lock.
class ApiKeyStore {
public:
    ApiKeyStore() = default;
    /// Builds the store from [[auth.keys]]. Errors name the key ("auth.keys[1].scopes: ...");
    /// core::validate_auth_config reports the same problems at startup, this is the backstop.
    static core::Result<ApiKeyStore> from_config(const std::vector<core::ApiKeyConfig>& keys);

    /// The key whose SHA-256 is the SHA-256 of `presented`, or null. The map is keyed by the
    /// digest, so the lookup's timing depends on the digest, never on the key's bytes; the
    /// digest found is still compared in constant time (CRYPTO_memcmp) before it counts.
    const ApiKey* find(std::string_view presented) const;

    const std::vector<ApiKey>& keys() const { return keys_; }
    bool empty() const { return keys_.empty(); }

private:
    std::vector<ApiKey> keys_;
    std::unordered_map<std::string, std::size_t> index_by_digest_;  ///< digest -> keys_ index
};

/// A new random API key: "ragd_" and 64 lower-case hex digits (32 bytes from OpenSSL's
/// RAND_bytes). Errors only when the system's random source fails.
core::Result<std::string> generate_api_key();

}  // namespace ragd::api
