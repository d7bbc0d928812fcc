// The [auth] section's checks and TOML rendering. API keys are arrays of tables
// ([[auth.keys]]), which do not fit config_loader's table of scalar keys, so they live here.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"

namespace ragd::core {

/// The scopes an API key may hold, in documentation order.
inline constexpr std::array<std::string_view, 3> kApiKeyScopes = {"query", "ingest", "admin"};

/// Every problem of `auth`, each naming its key by index and field, e.g.
/// `auth.keys[2].sha256: must be 64 hex digits (key "acme")`. Empty when valid.
std::vector<std::string> validate_auth_config(const AuthConfig& auth);

/// One `[[auth.keys]]` table as TOML, ready to paste into a config file (what `ragd keys
/// create` prints and `ragd serve --print-config` shows). Only the key's hash appears.
std::string format_api_key_toml(const ApiKeyConfig& key);

/// A TOML basic string: quoted, with '"', '\\' and control characters escaped.
std::string toml_quote(std::string_view text);

}  // namespace ragd::core
