// libFuzzer harness for the config loader: arbitrary bytes as the TOML file and as RAGD_*
// variables go through core::load_config, which must never crash or throw, must name where each
// problem is, and on success must give a config whose printout loads back to the same printout.
//
// Input: the TOML text up to the first NUL byte; after it, NUL-separated environment entries,
// each a byte choosing the key (modulo the number of keys) followed by the value. The variables
// go through ConfigSources::environment, so the process environment is never touched.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "core/config_loader.hpp"
#include "core/utf8.hpp"

namespace {

using ragd::core::ConfigSources;

constexpr std::string_view kOrigin = "fuzz.toml";

/// Says which invariant broke (libFuzzer shows it above the stack trace), then crashes.
[[noreturn]] void fail(std::string_view what, std::string_view detail) {
    std::fprintf(stderr,
                 "fuzz_config: %.*s\n%.*s\n",
                 static_cast<int>(what.size()),
                 what.data(),
                 static_cast<int>(detail.size()),
                 detail.data());
    std::abort();
}

bool starts_with(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
}

/// The header, then one problem per line (values quoted in them included), each naming its
/// origin (the file, a variable, a flag) or the key it is about.
void check_problems_are_located(const std::string& detail) {
    constexpr std::string_view kHeader = "invalid configuration:";
    if (!starts_with(detail, kHeader) || detail.size() == kHeader.size()) {
        fail("the error does not start with the header and a problem", detail);
    }
    std::size_t start = kHeader.size();
    while (start < detail.size()) {
        if (!starts_with(std::string_view(detail).substr(start), "\n  ")) {
            fail("a problem line is not indented", detail);
        }
        start += 3;
        const std::size_t end = std::min(detail.find('\n', start), detail.size());
        const std::string_view problem = std::string_view(detail).substr(start, end - start);
        bool located = starts_with(problem, std::string(kOrigin) + ":") ||
                       starts_with(problem, "environment RAGD_") || starts_with(problem, "flag:");
        for (const auto& key : ragd::core::config_keys()) {
            located = located || starts_with(problem, key.name.substr(0, key.name.find('.') + 1));
        }
        for (char c : problem) {
            located = located && (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
        }
        if (!located) {
            fail("a problem names neither its origin nor a key, or spans lines", detail);
        }
        start = end;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const std::size_t toml_end = std::min(input.find('\0'), input.size());

    ConfigSources sources;
    sources.file = std::string(kOrigin);
    sources.file_text = std::string(input.substr(0, toml_end));
    sources.environment.emplace();
    const auto& keys = ragd::core::config_keys();
    std::size_t start = toml_end + 1;
    while (start < input.size()) {
        const std::size_t end = std::min(input.find('\0', start), input.size());
        if (end > start) {
            const auto& key = keys[static_cast<unsigned char>(input[start]) % keys.size()];
            (*sources.environment)[ragd::core::env_name_for(key.name)] =
                std::string(input.substr(start + 1, end - start - 1));
        }
        start = end + 1;
    }

    auto config = ragd::core::load_config(sources);
    if (!config) {
        const std::string& detail = config.error().detail;
        check_problems_are_located(detail);
        // A variable the key's own parser rejects is reported under the variable's name.
        for (const auto& key : keys) {
            const std::string env = ragd::core::env_name_for(key.name);
            auto value = sources.environment->find(env);
            ragd::core::Config scratch;
            if (value != sources.environment->end() &&
                !key.set(scratch, value->second.c_str()).empty() &&
                detail.find("environment " + env + ": " + key.name + ": ") == std::string::npos) {
                fail("a rejected variable is not named: " + env, detail);
            }
        }
        return 0;
    }
    if (!ragd::core::validate_config(*config).empty()) {
        fail("a loaded config does not validate", ragd::core::print_config(*config));
    }
    // No key takes a negative or non-finite number: a value that wrapped around or slipped past
    // validation would show here (strings are quoted, so cannot match).
    for (const auto& key : keys) {
        const std::string value = key.get(*config);
        if (starts_with(value, "-") || value == "nan" || value == "inf") {
            fail("negative or non-finite value accepted", key.name + " = " + value);
        }
    }
    // --print-config's output must load back to itself. It leaves out [llm.upstreams.*], and
    // TOML cannot hold strings that are not UTF-8 (a variable may set them).
    bool printable = config->llm.upstreams.empty();
    for (const auto& [name, value] : *sources.environment) {
        printable = printable && ragd::core::is_valid_utf8(value.c_str());
    }
    if (printable) {
        const std::string printed = ragd::core::print_config(*config);
        ConfigSources again;
        again.file_text = printed;
        again.use_environment = false;
        auto reloaded = ragd::core::load_config(again);
        if (!reloaded) {
            fail("the printed config does not load: " + reloaded.error().detail, printed);
        }
        if (ragd::core::print_config(*reloaded) != printed) {
            fail("the printed config loads back differently",
                 printed + "\n--- reloaded:\n" + ragd::core::print_config(*reloaded));
        }
    }
    return 0;
}
