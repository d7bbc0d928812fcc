// Table-driven config loading: one entry per key gives its name, help, getter and parser, and
// the file, environment, flag and print paths all walk the same table, so they cannot drift.
#include "core/config_loader.hpp"

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <sstream>
#include <toml++/toml.h>

namespace ragd::core {
namespace {

std::string parse_bool(const std::string& text, bool& out) {
    if (text == "true" || text == "1" || text == "yes" || text == "on") {
        out = true;
    } else if (text == "false" || text == "0" || text == "no" || text == "off") {
        out = false;
    } else {
        return "expected true or false, got '" + text + "'";
    }
    return {};
}

std::string parse_size(const std::string& text, std::size_t& out) {
    std::size_t value = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc{} || ptr != end) {
        return "expected a non-negative integer, got '" + text + "'";
    }
    out = value;
    return {};
}

std::string parse_unsigned(const std::string& text, unsigned& out) {
    std::size_t value = 0;
    if (auto err = parse_size(text, value); !err.empty()) {
        return err;
    }
    if (value > 1'000'000) {
        return "value " + text + " is out of range";
    }
    out = static_cast<unsigned>(value);
    return {};
}

std::string parse_double(const std::string& text, double& out) {
    char* end = nullptr;
    errno = 0;
    double value = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || errno != 0) {
        return "expected a number, got '" + text + "'";
    }
    out = value;
    return {};
}

std::string parse_ms(const std::string& text, std::chrono::milliseconds& out) {
    std::size_t value = 0;
    if (auto err = parse_size(text, value); !err.empty()) {
        return err + " (milliseconds)";
    }
    out = std::chrono::milliseconds(static_cast<long long>(value));
    return {};
}

std::string format_double(double value) {
    std::ostringstream out;
    out << value;
    std::string text = out.str();
    if (text.find_first_of(".eE") == std::string::npos) {
        text += ".0";
    }
    return text;
}

std::string quote(const std::string& text) {
    std::string out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') {
            out.push_back('\\');
        }
        out.push_back(c);
    }
    return out + "\"";
}

// Helpers that build table entries for a member reached through `pick`.
template <class Pick>
ConfigKey string_key(std::string name, std::string help, Pick pick) {
    return {std::move(name), std::move(help),
            [pick](const Config& c) { return quote(pick(const_cast<Config&>(c))); },
            [pick](Config& c, const std::string& v) {
                pick(c) = v;
                return std::string{};
            }};
}
template <class Pick>
ConfigKey bool_key(std::string name, std::string help, Pick pick) {
    return {std::move(name), std::move(help),
            [pick](const Config& c) {
                return std::string(pick(const_cast<Config&>(c)) ? "true" : "false");
            },
            [pick](Config& c, const std::string& v) { return parse_bool(v, pick(c)); }};
}
template <class Pick>
ConfigKey size_key(std::string name, std::string help, Pick pick) {
    return {std::move(name), std::move(help),
            [pick](const Config& c) { return std::to_string(pick(const_cast<Config&>(c))); },
            [pick](Config& c, const std::string& v) { return parse_size(v, pick(c)); }};
}
template <class Pick>
ConfigKey unsigned_key(std::string name, std::string help, Pick pick) {
    return {std::move(name), std::move(help),
            [pick](const Config& c) { return std::to_string(pick(const_cast<Config&>(c))); },
            [pick](Config& c, const std::string& v) { return parse_unsigned(v, pick(c)); }};
}
template <class Pick>
ConfigKey double_key(std::string name, std::string help, Pick pick) {
    return {std::move(name), std::move(help),
            [pick](const Config& c) { return format_double(pick(const_cast<Config&>(c))); },
            [pick](Config& c, const std::string& v) { return parse_double(v, pick(c)); }};
}
template <class Pick>
ConfigKey ms_key(std::string name, std::string help, Pick pick) {
    return {std::move(name), std::move(help),
            [pick](const Config& c) {
                return std::to_string(pick(const_cast<Config&>(c)).count());
            },
            [pick](Config& c, const std::string& v) { return parse_ms(v, pick(c)); }};
}

std::vector<ConfigKey> build_keys() {
    std::vector<ConfigKey> keys;
    keys.push_back(string_key("server.listen", "address to listen on, HOST:PORT (port 0 = any)",
                              [](Config& c) -> std::string& { return c.server.listen; }));
    keys.push_back(unsigned_key("server.threads", "I/O threads, 0 = one per core",
                                [](Config& c) -> unsigned& { return c.server.threads; }));
    keys.push_back(unsigned_key("server.compute_threads",
                                "threads for retrieval/answering/ingest, 0 = one per core",
                                [](Config& c) -> unsigned& { return c.server.compute_threads; }));
    keys.push_back(size_key("server.max_queued_requests",
                            "requests waiting for a compute thread before 503",
                            [](Config& c) -> std::size_t& { return c.server.max_queued_requests; }));
    keys.push_back(size_key("server.max_header_bytes", "largest request head in bytes (431 above)",
                            [](Config& c) -> std::size_t& { return c.server.max_header_bytes; }));
    keys.push_back(size_key("server.max_query_body_bytes",
                            "largest query/search body in bytes (413 above)",
                            [](Config& c) -> std::size_t& { return c.server.max_query_body_bytes; }));
    keys.push_back(
        size_key("server.max_document_body_bytes", "largest document body in bytes (413 above)",
                 [](Config& c) -> std::size_t& { return c.server.max_document_body_bytes; }));
    keys.push_back(ms_key("server.header_timeout_ms", "time to receive a request head, ms",
                          [](Config& c) -> std::chrono::milliseconds& {
                              return c.server.header_timeout;
                          }));
    keys.push_back(ms_key("server.body_timeout_ms", "time to receive a request body, ms",
                          [](Config& c) -> std::chrono::milliseconds& {
                              return c.server.body_timeout;
                          }));
    keys.push_back(ms_key("server.idle_timeout_ms", "keep-alive idle time before closing, ms",
                          [](Config& c) -> std::chrono::milliseconds& {
                              return c.server.idle_timeout;
                          }));
    keys.push_back(string_key("storage.data_dir", "data directory (database and indexes)",
                              [](Config& c) -> std::string& { return c.storage.data_dir; }));
    keys.push_back(bool_key("storage.durable_commits",
                            "fsync each committed document (ragd ingest batches instead)",
                            [](Config& c) -> bool& { return c.storage.durable_commits; }));
    keys.push_back(size_key("ingest.chunk_tokens", "target chunk size in approximate tokens",
                            [](Config& c) -> std::size_t& { return c.ingest.chunk_tokens; }));
    keys.push_back(double_key("ingest.chunk_overlap", "overlap between chunks, fraction 0..0.5",
                              [](Config& c) -> double& { return c.ingest.chunk_overlap; }));
    keys.push_back(size_key("ingest.max_file_bytes", "files larger than this are skipped, bytes",
                            [](Config& c) -> std::size_t& { return c.ingest.max_file_bytes; }));
    keys.push_back(string_key("embed.provider", "embedder: lexical-hash (built-in, offline)",
                              [](Config& c) -> std::string& { return c.embed.provider; }));
    keys.push_back(size_key("embed.dimensions", "vector dimensions of the built-in embedder",
                            [](Config& c) -> std::size_t& { return c.embed.dimensions; }));
    keys.push_back(size_key("retrieval.top_k", "results when a request does not say",
                            [](Config& c) -> std::size_t& { return c.retrieval.top_k; }));
    keys.push_back(size_key("retrieval.max_top_k", "largest top_k a request may ask for",
                            [](Config& c) -> std::size_t& { return c.retrieval.max_top_k; }));
    keys.push_back(size_key("retrieval.candidates", "candidates per retriever before fusion",
                            [](Config& c) -> std::size_t& { return c.retrieval.candidates; }));
    keys.push_back(double_key("retrieval.rrf_k", "reciprocal rank fusion constant",
                              [](Config& c) -> double& { return c.retrieval.rrf_k; }));
    keys.push_back(double_key("retrieval.vector_weight", "weight of vector results in fusion",
                              [](Config& c) -> double& { return c.retrieval.vector_weight; }));
    keys.push_back(double_key("retrieval.bm25_weight", "weight of BM25 results in fusion",
                              [](Config& c) -> double& { return c.retrieval.bm25_weight; }));
    keys.push_back(size_key("retrieval.hnsw_m", "HNSW graph degree",
                            [](Config& c) -> std::size_t& { return c.retrieval.hnsw_m; }));
    keys.push_back(
        size_key("retrieval.hnsw_ef_construction", "HNSW ef at construction",
                 [](Config& c) -> std::size_t& { return c.retrieval.hnsw_ef_construction; }));
    keys.push_back(size_key("retrieval.hnsw_ef_search", "HNSW ef at search",
                            [](Config& c) -> std::size_t& { return c.retrieval.hnsw_ef_search; }));
    keys.push_back(string_key("llm.provider", "generator: extractive (built-in, offline)",
                              [](Config& c) -> std::string& { return c.llm.provider; }));
    keys.push_back(
        size_key("llm.extractive_max_sentences", "sentences in an extractive answer",
                 [](Config& c) -> std::size_t& { return c.llm.extractive_max_sentences; }));
    keys.push_back(string_key("log.level", "trace, debug, info, warn or error",
                              [](Config& c) -> std::string& { return c.log.level; }));
    return keys;
}

// TOML values arrive typed; the table's parsers take text, so render scalars back to text.
std::optional<std::string> toml_scalar_text(const toml::node& node) {
    if (auto s = node.value<std::string>()) {
        return *s;
    }
    if (node.is_integer()) {
        return std::to_string(*node.value<std::int64_t>());
    }
    if (node.is_floating_point()) {
        std::ostringstream out;
        out << *node.value<double>();
        return out.str();
    }
    if (auto b = node.value<bool>()) {
        return *b ? "true" : "false";
    }
    return std::nullopt;
}

const ConfigKey* find_key(const std::string& name) {
    for (const auto& key : config_keys()) {
        if (key.name == name) {
            return &key;
        }
    }
    return nullptr;
}

}  // namespace

const std::vector<ConfigKey>& config_keys() {
    static const std::vector<ConfigKey> keys = build_keys();
    return keys;
}

std::string env_name_for(const std::string& key) {
    std::string out = "RAGD_";
    for (char c : key) {
        out.push_back(c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    }
    return out;
}

std::vector<std::string> validate_config(const Config& c) {
    std::vector<std::string> problems;
    auto require = [&](bool ok, const std::string& message) {
        if (!ok) {
            problems.push_back(message);
        }
    };
    require(!c.server.listen.empty(), "server.listen: must not be empty");
    require(c.server.max_header_bytes >= 1024, "server.max_header_bytes: must be at least 1024");
    require(c.server.max_queued_requests >= 1, "server.max_queued_requests: must be at least 1");
    require(c.server.header_timeout.count() > 0, "server.header_timeout_ms: must be positive");
    require(c.server.body_timeout.count() > 0, "server.body_timeout_ms: must be positive");
    require(c.server.idle_timeout.count() > 0, "server.idle_timeout_ms: must be positive");
    require(!c.storage.data_dir.empty(), "storage.data_dir: must not be empty");
    require(c.ingest.chunk_tokens >= 16 && c.ingest.chunk_tokens <= 8192,
            "ingest.chunk_tokens: must be between 16 and 8192");
    require(c.ingest.chunk_overlap >= 0 && c.ingest.chunk_overlap <= 0.5,
            "ingest.chunk_overlap: must be between 0 and 0.5");
    require(c.embed.provider == "lexical-hash",
            "embed.provider: unknown embedder '" + c.embed.provider +
                "' (available: lexical-hash)");
    require(c.embed.dimensions >= 64 && c.embed.dimensions <= 4096,
            "embed.dimensions: must be between 64 and 4096");
    require(c.retrieval.top_k >= 1, "retrieval.top_k: must be at least 1");
    require(c.retrieval.max_top_k >= c.retrieval.top_k,
            "retrieval.max_top_k: must be at least retrieval.top_k");
    require(c.retrieval.candidates >= 1, "retrieval.candidates: must be at least 1");
    require(c.retrieval.rrf_k > 0, "retrieval.rrf_k: must be positive");
    require(c.retrieval.vector_weight >= 0 && c.retrieval.bm25_weight >= 0 &&
                c.retrieval.vector_weight + c.retrieval.bm25_weight > 0,
            "retrieval.vector_weight/bm25_weight: must be non-negative and not both zero");
    require(c.retrieval.hnsw_m >= 2 && c.retrieval.hnsw_m <= 128,
            "retrieval.hnsw_m: must be between 2 and 128");
    require(c.llm.provider == "extractive",
            "llm.provider: unknown generator '" + c.llm.provider + "' (available: extractive)");
    require(c.llm.extractive_max_sentences >= 1,
            "llm.extractive_max_sentences: must be at least 1");
    static const char* kLevels[] = {"trace", "debug", "info", "warn", "error"};
    bool level_ok = false;
    for (const char* level : kLevels) {
        level_ok = level_ok || c.log.level == level;
    }
    require(level_ok, "log.level: must be one of trace, debug, info, warn, error");
    return problems;
}

Result<Config> load_config(const ConfigSources& sources) {
    Config config;
    std::vector<std::string> problems;
    auto apply = [&](const std::string& origin, const std::string& name, const std::string& value) {
        const ConfigKey* key = find_key(name);
        if (key == nullptr) {
            problems.push_back(origin + ": unknown key '" + name + "'");
            return;
        }
        if (auto err = key->set(config, value); !err.empty()) {
            problems.push_back(origin + ": " + name + ": " + err);
        }
    };

    if (!sources.file.empty()) {
        try {
            toml::table table = toml::parse_file(sources.file);
            for (auto&& [section, node] : table) {
                const toml::table* inner = node.as_table();
                if (inner == nullptr) {
                    problems.push_back(sources.file + ": '" + std::string(section.str()) +
                                       "' must be a [section]");
                    continue;
                }
                for (auto&& [key, value] : *inner) {
                    std::string name = std::string(section.str()) + "." + std::string(key.str());
                    auto text = toml_scalar_text(value);
                    if (!text) {
                        problems.push_back(sources.file + ": " + name + ": must be a scalar");
                        continue;
                    }
                    apply(sources.file, name, *text);
                }
            }
        } catch (const toml::parse_error& e) {
            std::ostringstream out;
            out << sources.file << ":" << e.source().begin.line << ":" << e.source().begin.column
                << ": " << e.description();
            problems.push_back(out.str());
        }
    }
    if (sources.use_environment) {
        for (const auto& key : config_keys()) {
            std::string env = env_name_for(key.name);
            if (const char* value = std::getenv(env.c_str())) {
                apply("environment " + env, key.name, value);
            }
        }
    }
    for (const auto& [name, value] : sources.overrides) {
        apply("flag", name, value);
    }
    if (problems.empty()) {
        problems = validate_config(config);
    }
    if (!problems.empty()) {
        std::string message = "invalid configuration:";
        for (const auto& p : problems) {
            message += "\n  " + p;
        }
        return fail(ErrorCode::kInvalidArgument, message);
    }
    return config;
}

std::string print_config(const Config& config) {
    std::string out;
    std::string section;
    for (const auto& key : config_keys()) {
        auto dot = key.name.find('.');
        std::string this_section = key.name.substr(0, dot);
        if (this_section != section) {
            out += (section.empty() ? "" : "\n") + std::string("[") + this_section + "]\n";
            section = this_section;
        }
        out += key.name.substr(dot + 1) + " = " + key.get(config) + "  # " + key.help + "\n";
    }
    return out;
}

}  // namespace ragd::core
