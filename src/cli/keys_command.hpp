// `ragd keys create`: mints an API key and prints the [[auth.keys]] table that lets ragd accept
// it. ragd never stores keys, only their SHA-256, so the key is shown this once.
#pragma once

#include <string>
#include <vector>

namespace ragd::cli {

struct KeyCreateOptions {
    std::string name;                  ///< the key's name in logs and errors (required)
    std::string scopes = "query";      ///< comma-separated: query, ingest, admin
    std::string tenant;                ///< shorthand for --filter tenant=VALUE
    std::vector<std::string> filters;  ///< KEY=VALUE pairs forced on every query and document
    std::string collections;           ///< comma-separated; empty = all
    double requests_per_second = 0;    ///< 0 = unlimited
    double burst = 0;                  ///< 0 = max(1, requests_per_second)
    double tokens_per_minute = 0;      ///< 0 = unlimited
    double daily_tokens = 0;           ///< 0 = unlimited
};

/// Prints the new key on the first line of standard output, then the TOML table (with the
/// key's SHA-256, never the key) to paste into the config file. Returns the exit code: 2 for
/// invalid options (each problem on standard error), 1 when no key could be generated.
int run_keys_create(const KeyCreateOptions& options);

}  // namespace ragd::cli
