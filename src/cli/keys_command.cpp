// Key creation reuses the config's own validation and TOML rendering, so a printed table is
// always one that `ragd serve` accepts.
#include "cli/keys_command.hpp"

#include <algorithm>
#include <iostream>

#include "api/api_keys.hpp"
#include "core/auth_config.hpp"
#include "core/hash.hpp"

namespace ragd::cli {
namespace {

std::vector<std::string> split_list(const std::string& text) {
    std::vector<std::string> items;
    std::size_t start = 0;
    while (start <= text.size()) {
        std::size_t comma = text.find(',', start);
        if (comma == std::string::npos) {
            comma = text.size();
        }
        std::string item = text.substr(start, comma - start);
        item.erase(0, item.find_first_not_of(" \t"));
        item.erase(item.find_last_not_of(" \t") + 1);
        if (!item.empty()) {
            items.push_back(std::move(item));
        }
        start = comma + 1;
    }
    return items;
}

}  // namespace

int run_keys_create(const KeyCreateOptions& options) {
    core::ApiKeyConfig key;
    key.name = options.name;
    key.scopes = split_list(options.scopes);
    key.collections = split_list(options.collections);
    std::vector<std::string> problems;
    if (!options.tenant.empty()) {
        key.filter.emplace_back("tenant", options.tenant);
    }
    for (const std::string& pair : options.filters) {
        const auto eq = pair.find('=');
        if (eq == std::string::npos || eq == 0) {
            problems.push_back("--filter: expected KEY=VALUE, got '" + pair + "'");
            continue;
        }
        key.filter.emplace_back(pair.substr(0, eq), pair.substr(eq + 1));
    }
    std::sort(key.filter.begin(), key.filter.end());
    key.requests_per_second = options.requests_per_second;
    key.burst = options.burst;
    key.tokens_per_minute = options.tokens_per_minute;
    key.daily_tokens = options.daily_tokens;

    auto secret = api::generate_api_key();
    if (!secret) {
        std::cerr << "ragd keys create: " << secret.error().detail << "\n";
        return 1;
    }
    key.sha256 = core::sha256_hex(*secret);
    core::AuthConfig check;
    check.keys.push_back(key);
    // "auth.keys[0].burst: ..." reads as "--burst: ..." here: name the option the user typed.
    constexpr std::string_view kPrefix = "auth.keys[0].";
    for (std::string& problem : core::validate_auth_config(check)) {
        if (problem.rfind(kPrefix, 0) == 0) {
            std::string option = problem.substr(kPrefix.size(), problem.find(':') - kPrefix.size());
            std::replace(option.begin(), option.end(), '_', '-');
            problem = "--" + option + problem.substr(problem.find(':'));
        }
        problems.push_back(std::move(problem));
    }
    if (!problems.empty()) {
        for (const std::string& problem : problems) {
            std::cerr << "ragd keys create: " << problem << "\n";
        }
        return 2;
    }
    std::cout << *secret << "\n"
              << "# The line above is the API key for \"" << key.name
              << "\". It is shown only now: ragd stores\n"
              << "# its SHA-256 alone. Clients send it as 'Authorization: Bearer KEY' or "
                 "'X-API-Key: KEY'.\n"
              << "# Add this table to the config file and restart ragd serve:\n"
              << core::format_api_key_toml(key);
    return 0;
}

}  // namespace ragd::cli
