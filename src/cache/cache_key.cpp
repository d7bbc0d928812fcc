#include "cache/cache_key.hpp"

#include <algorithm>
#include <charconv>
#include <system_error>

#include "core/hash.hpp"

namespace ragd::cache {
namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool is_trailing_strip(char c) {
    return c == '?' || c == '.' || c == '!' || c == ' ';
}

// name=<size>:<value>; — length-prefixed so no value can forge another field's boundary.
void append_field(std::string& out, std::string_view name, std::string_view value) {
    out.append(name);
    out.push_back('=');
    out.append(std::to_string(value.size()));
    out.push_back(':');
    out.append(value);
    out.push_back(';');
}

void append_pairs(std::string& out,
                  std::string_view name,
                  std::vector<std::pair<std::string, std::string>> pairs) {
    std::sort(pairs.begin(), pairs.end());
    append_field(out, name, std::to_string(pairs.size()));
    for (const auto& [key, value] : pairs) {
        append_field(out, "k", key);
        append_field(out, "v", value);
    }
}

// Shortest round-trip form: the same double always gives the same text.
std::string format_double(double value) {
    char buffer[64];
    const auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
    if (ec != std::errc()) {
        return "nan";
    }
    return std::string(buffer, end);
}

}  // namespace

std::string normalize_query(std::string_view query) {
    std::string out;
    out.reserve(query.size());
    bool pending_space = false;
    for (char c : query) {
        if (is_space(c)) {
            pending_space = !out.empty();
            continue;
        }
        if (pending_space) {
            out.push_back(' ');
            pending_space = false;
        }
        out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
    }
    while (!out.empty() && is_trailing_strip(out.back())) {
        out.pop_back();
    }
    return out;
}

std::string canonical_params(const KeyParams& params) {
    std::string out = "ragd-cache-v1;";
    append_field(out, "collection", params.collection);
    append_field(out, "top_k", std::to_string(params.top_k));
    append_field(out, "mode", params.mode);
    append_pairs(out, "filters", params.filters);
    append_field(out, "tenant", params.tenant);
    append_field(out, "embed_model", params.embed_model);
    append_field(out, "generator", params.generator);
    append_field(out, "max_tokens", std::to_string(params.max_tokens));
    append_field(out, "temperature", format_double(params.temperature));
    append_field(out, "prompt_version", params.prompt_version);
    append_pairs(out, "extra", params.extra);
    return out;
}

CacheKey make_cache_key(std::string_view question, const KeyParams& params) {
    CacheKey key;
    key.normalized_query = normalize_query(question);
    key.generation = params.generation;
    std::string canonical = canonical_params(params);
    key.scope = core::sha256_hex(canonical);
    append_field(canonical, "generation", std::to_string(params.generation));
    append_field(canonical, "query", key.normalized_query);
    key.exact = core::sha256_hex(canonical);
    return key;
}

}  // namespace ragd::cache
