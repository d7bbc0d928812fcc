// Validation of API keys at startup (every problem at once, each naming the key) and their TOML
// form, shared by the config printout and `ragd keys create` so the two cannot drift.
#include "core/auth_config.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>

namespace ragd::core {
namespace {

bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

bool is_hex_digit(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) {
        return static_cast<char>(std::tolower(c));
    });
    return text;
}

/// A bare TOML key ([A-Za-z0-9_-]+) is written as is, anything else quoted.
std::string toml_key(std::string_view key) {
    const bool bare = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
        return is_name_char(c) && c != '.';
    });
    return bare ? std::string(key) : toml_quote(key);
}

std::string toml_number(double value) {
    if (value == std::floor(value) && std::abs(value) < 1e15) {
        return std::to_string(static_cast<long long>(value));
    }
    std::ostringstream out;
    out << value;
    return out.str();
}

std::string toml_string_array(const std::vector<std::string>& items) {
    std::string out = "[";
    for (std::size_t item_idx = 0; item_idx < items.size(); ++item_idx) {
        out += (item_idx == 0 ? "" : ", ") + toml_quote(items[item_idx]);
    }
    return out + "]";
}

}  // namespace

std::string toml_quote(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(c);
        } else if (byte < 0x20 || byte == 0x7f) {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\u%04x", byte);
            out += escaped;
        } else {
            out.push_back(c);
        }
    }
    return out + "\"";
}

std::vector<std::string> validate_auth_config(const AuthConfig& auth) {
    std::vector<std::string> problems;
    if (auth.enabled != "auto" && auth.enabled != "true" && auth.enabled != "false") {
        problems.push_back("auth.enabled: must be auto, true or false (got '" + auth.enabled +
                           "')");
    }
    if (auth.enabled == "true" && auth.keys.empty()) {
        problems.push_back("auth.enabled: is true but no [[auth.keys]] table is configured");
    }
    if (auth.rate_limit_store != "local" && auth.rate_limit_store != "redis") {
        problems.push_back("auth.rate_limit_store: must be local or redis (got '" +
                           auth.rate_limit_store + "')");
    }
    if (auth.redis_timeout.count() <= 0) {
        problems.push_back("auth.redis_timeout_ms: must be positive");
    }
    std::set<std::string> names;
    std::set<std::string> digests;
    for (std::size_t key_idx = 0; key_idx < auth.keys.size(); ++key_idx) {
        const ApiKeyConfig& key = auth.keys[key_idx];
        const std::string path = "auth.keys[" + std::to_string(key_idx) + "].";
        const std::string which = key.name.empty() ? "" : " (key \"" + key.name + "\")";
        auto require = [&](bool ok, const std::string& field, const std::string& message) {
            if (!ok) {
                problems.push_back(path + field + ": " + message + which);
            }
        };
        require(!key.name.empty() && key.name.size() <= 64 &&
                    std::all_of(key.name.begin(), key.name.end(), is_name_char),
                "name",
                "must be 1 to 64 characters of A-Z a-z 0-9 . _ -");
        require(
            names.insert(key.name).second || key.name.empty(), "name", "is used by an earlier key");
        require(key.sha256.size() == 64 &&
                    std::all_of(key.sha256.begin(), key.sha256.end(), is_hex_digit),
                "sha256",
                "must be 64 hex digits (the SHA-256 of the key, not the key)");
        require(
            digests.insert(lower(key.sha256)).second, "sha256", "is the same as an earlier key's");
        require(!key.scopes.empty(), "scopes", "must name at least one scope");
        for (const std::string& scope : key.scopes) {
            require(
                std::find(kApiKeyScopes.begin(), kApiKeyScopes.end(), scope) != kApiKeyScopes.end(),
                "scopes",
                "unknown scope '" + scope + "' (available: query, ingest, admin)");
        }
        for (const std::string& collection : key.collections) {
            require(!collection.empty(), "collections", "must not contain an empty name");
        }
        std::set<std::string> filter_keys;
        for (const auto& [name, value] : key.filter) {
            require(!name.empty(), "filter", "keys must not be empty");
            require(filter_keys.insert(name).second, "filter", "key '" + name + "' appears twice");
        }
        const auto rate_ok = [](double value) {
            return std::isfinite(value) && value >= 0;
        };
        require(rate_ok(key.requests_per_second),
                "requests_per_second",
                "must be a non-negative number");
        require(rate_ok(key.burst), "burst", "must be a non-negative number");
        require(key.burst == 0 || key.requests_per_second > 0,
                "burst",
                "needs requests_per_second (a burst alone would never refill)");
        require(
            rate_ok(key.tokens_per_minute), "tokens_per_minute", "must be a non-negative number");
        require(rate_ok(key.daily_tokens), "daily_tokens", "must be a non-negative number");
    }
    return problems;
}

std::string format_api_key_toml(const ApiKeyConfig& key) {
    std::string out = "[[auth.keys]]\n";
    out += "name = " + toml_quote(key.name) + "\n";
    out += "sha256 = " + toml_quote(key.sha256) + "\n";
    out += "scopes = " + toml_string_array(key.scopes) + "\n";
    if (!key.collections.empty()) {
        out += "collections = " + toml_string_array(key.collections) + "\n";
    }
    if (!key.filter.empty()) {
        out += "filter = { ";
        for (std::size_t pair_idx = 0; pair_idx < key.filter.size(); ++pair_idx) {
            out += (pair_idx == 0 ? "" : ", ") + toml_key(key.filter[pair_idx].first) + " = " +
                   toml_quote(key.filter[pair_idx].second);
        }
        out += " }\n";
    }
    const std::pair<const char*, double> limits[] = {
        {"requests_per_second", key.requests_per_second},
        {"burst", key.burst},
        {"tokens_per_minute", key.tokens_per_minute},
        {"daily_tokens", key.daily_tokens},
    };
    for (const auto& [field, value] : limits) {
        if (value != 0) {
            out += std::string(field) + " = " + toml_number(value) + "\n";
        }
    }
    return out;
}

}  // namespace ragd::core
