// Builds the effective Config: defaults, then a TOML file, then RAGD_SECTION_KEY environment
// variables, then command-line overrides. One table of keys drives all three and the printout.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/error.hpp"

namespace ragd::core {

struct ConfigKey {
    std::string name;  ///< "section.key"
    std::string help;  ///< one line, with unit and default
    std::function<std::string(const Config&)> get;
    /// Parses and stores the value; returns an error message or "" on success.
    std::function<std::string(Config&, const std::string&)> set;
};

/// Every configurable key, in documentation order.
const std::vector<ConfigKey>& config_keys();

/// "server.listen" -> "RAGD_SERVER_LISTEN".
std::string env_name_for(const std::string& key);

struct ConfigSources {
    std::string file;                              ///< TOML file; empty for none
    bool use_environment = true;                   ///< read RAGD_* variables
    std::map<std::string, std::string> overrides;  ///< "section.key" -> value, from flags
    /// The TOML text itself, parsed instead of reading `file` (which then only names it in
    /// messages, "config" when empty): for tests and the config fuzzer.
    std::optional<std::string> file_text;
    /// RAGD_* variables to read instead of the process environment (when use_environment), so
    /// tests and the fuzzer need not change the real one.
    std::optional<std::map<std::string, std::string>> environment;
};

/// Loads and validates; on failure the error lists every problem found, one per line.
Result<Config> load_config(const ConfigSources& sources);

/// Checks cross-field constraints (ranges, non-empty); returns every problem.
std::vector<std::string> validate_config(const Config& config);

/// The effective config as TOML (what `ragd serve --print-config` shows).
std::string print_config(const Config& config);

}  // namespace ragd::core
