// Key parsing and lookup. The key a client presents is hashed before anything else is done
// with it, so no code path compares, logs or stores the key itself.
#include "api/api_keys.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "core/hash.hpp"

namespace ragd::api {
namespace {

std::string lower_hex(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) {
        return static_cast<char>(std::tolower(c));
    });
    return text;
}

bool is_hex64(std::string_view text) {
    return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
               return std::isxdigit(static_cast<unsigned char>(c)) != 0;
           });
}

}  // namespace

std::string_view scope_name(Scope scope) {
    switch (scope) {
        case Scope::kQuery:
            return "query";
        case Scope::kIngest:
            return "ingest";
        case Scope::kAdmin:
            return "admin";
    }
    return "unknown";
}

bool ApiKey::allows_collection(std::string_view collection) const {
    return collections.empty() ||
           std::any_of(collections.begin(), collections.end(), [collection](const std::string& c) {
               return c == "*" || c == collection;
           });
}

core::Result<ApiKeyStore> ApiKeyStore::from_config(const std::vector<core::ApiKeyConfig>& keys) {
    ApiKeyStore store;
    store.keys_.reserve(keys.size());
    for (std::size_t key_idx = 0; key_idx < keys.size(); ++key_idx) {
        const core::ApiKeyConfig& config = keys[key_idx];
        const std::string path = "auth.keys[" + std::to_string(key_idx) + "].";
        if (config.name.empty()) {
            return core::fail(core::ErrorCode::kInvalidArgument, path + "name: is required");
        }
        if (!is_hex64(config.sha256)) {
            return core::fail(core::ErrorCode::kInvalidArgument,
                              path + "sha256: must be 64 hex digits (key \"" + config.name + "\")");
        }
        ApiKey key;
        key.name = config.name;
        key.sha256_hex = lower_hex(config.sha256);
        for (const std::string& scope : config.scopes) {
            if (scope == "query") {
                key.scopes |= static_cast<std::uint8_t>(Scope::kQuery);
            } else if (scope == "ingest") {
                key.scopes |= static_cast<std::uint8_t>(Scope::kIngest);
            } else if (scope == "admin") {
                key.scopes |= static_cast<std::uint8_t>(Scope::kAdmin);
            } else {
                return core::fail(
                    core::ErrorCode::kInvalidArgument,
                    path + "scopes: unknown scope '" + scope + "' (key \"" + config.name + "\")");
            }
        }
        key.collections = config.collections;
        key.filter.assign(config.filter.begin(), config.filter.end());
        std::sort(key.filter.begin(), key.filter.end());
        key.limits.requests_per_second = config.requests_per_second;
        key.limits.burst =
            config.burst > 0 ? config.burst : std::max(1.0, config.requests_per_second);
        key.limits.tokens_per_minute = config.tokens_per_minute;
        key.limits.daily_tokens = config.daily_tokens;
        if (!store.index_by_digest_.emplace(key.sha256_hex, key_idx).second) {
            return core::fail(
                core::ErrorCode::kInvalidArgument,
                path + "sha256: is the same as an earlier key's (key \"" + config.name + "\")");
        }
        store.keys_.push_back(std::move(key));
    }
    return store;
}

const ApiKey* ApiKeyStore::find(std::string_view presented) const {
    const std::string digest = core::sha256_hex(presented);
    const auto found = index_by_digest_.find(digest);
    if (found == index_by_digest_.end()) {
        return nullptr;
    }
    const ApiKey& key = keys_[found->second];
    // Equal by construction of the map; compared again in constant time so that correctness
    // never rests on the map's (variable-time) key comparison alone.
    if (key.sha256_hex.size() != digest.size() ||
        CRYPTO_memcmp(key.sha256_hex.data(), digest.data(), digest.size()) != 0) {
        return nullptr;
    }
    return &key;
}

core::Result<std::string> generate_api_key() {
    std::array<unsigned char, 32> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
        return core::fail(core::ErrorCode::kInternal,
                          "cannot generate an API key: the system random source failed");
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string key = "ragd_";
    for (unsigned char byte : bytes) {
        key.push_back(kHex[byte >> 4]);
        key.push_back(kHex[byte & 0xF]);
    }
    OPENSSL_cleanse(bytes.data(), bytes.size());
    return key;
}

}  // namespace ragd::api
