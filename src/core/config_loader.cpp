// Table-driven config loading: one entry per key gives its name, help, getter and parser, and
// the file, environment, flag and print paths all walk the same table, so they cannot drift.
#include "core/config_loader.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <sstream>

#include <toml++/toml.h>

#include "core/auth_config.hpp"
#include "core/log.hpp"

namespace ragd::core {
namespace {

constexpr std::size_t kMaxMilliseconds = 1'000'000'000'000;

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
    // TOML integers are signed 64-bit: anything larger could not be printed back loadably.
    if (value > static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())) {
        return "value " + text + " is out of range";
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
    // No key means anything by nan or inf, and they slip past range checks (nan compares false).
    if (!std::isfinite(value)) {
        return "expected a finite number, got '" + text + "'";
    }
    // -0 means 0: adding +0.0 clears the sign, so --print-config shows 0, not -0.
    out = value + 0.0;
    return {};
}

std::string parse_ms(const std::string& text, std::chrono::milliseconds& out) {
    std::size_t value = 0;
    if (auto err = parse_size(text, value); !err.empty()) {
        return err + " (milliseconds)";
    }
    // Durations become nanoseconds and are added to clock readings; far beyond this they would
    // overflow the 64-bit count.
    if (value > kMaxMilliseconds) {
        return "value " + text + " is out of range (at most " + std::to_string(kMaxMilliseconds) +
               " ms, about 31 years)";
    }
    out = std::chrono::milliseconds(static_cast<long long>(value));
    return {};
}

/// The shortest text that reads back as the same double ("0.1", "1234567", "1e+300").
std::string shortest_double(double value) {
    char buffer[64];
    const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
    return ec == std::errc{} ? std::string(buffer, end) : std::to_string(value);
}

std::string format_double(double value) {
    std::string text = shortest_double(value);
    if (text.find_first_of(".eE") == std::string::npos) {
        text += ".0";
    }
    return text;
}

// Helpers that build table entries for a member reached through `pick`.
template <class Pick>
ConfigKey string_key(std::string name, std::string help, Pick pick) {
    return {std::move(name),
            std::move(help),
            // toml_quote escapes control characters too, which a raw quote would leave
            // unloadable (a variable or a TOML escape can put them into any string key).
            [pick](const Config& c) { return toml_quote(pick(const_cast<Config&>(c))); },
            [pick](Config& c, const std::string& v) {
                pick(c) = v;
                return std::string{};
            }};
}
template <class Pick>
ConfigKey bool_key(std::string name, std::string help, Pick pick) {
    return {std::move(name),
            std::move(help),
            [pick](const Config& c) {
                return std::string(pick(const_cast<Config&>(c)) ? "true" : "false");
            },
            [pick](Config& c, const std::string& v) {
                return parse_bool(v, pick(c));
            }};
}
template <class Pick>
ConfigKey size_key(std::string name, std::string help, Pick pick) {
    return {std::move(name),
            std::move(help),
            [pick](const Config& c) { return std::to_string(pick(const_cast<Config&>(c))); },
            [pick](Config& c, const std::string& v) {
                return parse_size(v, pick(c));
            }};
}
template <class Pick>
ConfigKey unsigned_key(std::string name, std::string help, Pick pick) {
    return {std::move(name),
            std::move(help),
            [pick](const Config& c) { return std::to_string(pick(const_cast<Config&>(c))); },
            [pick](Config& c, const std::string& v) {
                return parse_unsigned(v, pick(c));
            }};
}
template <class Pick>
ConfigKey double_key(std::string name, std::string help, Pick pick) {
    return {std::move(name),
            std::move(help),
            [pick](const Config& c) { return format_double(pick(const_cast<Config&>(c))); },
            [pick](Config& c, const std::string& v) {
                return parse_double(v, pick(c));
            }};
}
template <class Pick>
ConfigKey ms_key(std::string name, std::string help, Pick pick) {
    return {
        std::move(name),
        std::move(help),
        [pick](const Config& c) { return std::to_string(pick(const_cast<Config&>(c)).count()); },
        [pick](Config& c, const std::string& v) {
            return parse_ms(v, pick(c));
        }};
}

std::vector<ConfigKey> build_keys() {
    std::vector<ConfigKey> keys;
    keys.push_back(string_key("server.listen",
                              "address to listen on, HOST:PORT (port 0 = any)",
                              [](Config& c) -> std::string& { return c.server.listen; }));
    keys.push_back(unsigned_key("server.threads",
                                "I/O threads, 0 = one per core",
                                [](Config& c) -> unsigned& { return c.server.threads; }));
    keys.push_back(unsigned_key("server.compute_threads",
                                "threads for retrieval/answering/ingest, 0 = one per core",
                                [](Config& c) -> unsigned& { return c.server.compute_threads; }));
    keys.push_back(
        size_key("server.max_queued_requests",
                 "requests waiting for a compute thread before 503",
                 [](Config& c) -> std::size_t& { return c.server.max_queued_requests; }));
    keys.push_back(bool_key("server.inline_queries",
                            "run a query's retrieval on its I/O thread, not a compute thread",
                            [](Config& c) -> bool& { return c.server.inline_queries; }));
    keys.push_back(
        bool_key("server.inline_idle_queries",
                 "run a query on its I/O thread when no other compute work is running or queued",
                 [](Config& c) -> bool& { return c.server.inline_idle_queries; }));
    keys.push_back(size_key("server.max_header_bytes",
                            "largest request head in bytes (431 above)",
                            [](Config& c) -> std::size_t& { return c.server.max_header_bytes; }));
    keys.push_back(
        size_key("server.max_query_body_bytes",
                 "largest query/search body in bytes (413 above)",
                 [](Config& c) -> std::size_t& { return c.server.max_query_body_bytes; }));
    keys.push_back(
        size_key("server.max_document_body_bytes",
                 "largest document body in bytes (413 above)",
                 [](Config& c) -> std::size_t& { return c.server.max_document_body_bytes; }));
    keys.push_back(
        ms_key("server.header_timeout_ms",
               "time to receive a request head, ms",
               [](Config& c) -> std::chrono::milliseconds& { return c.server.header_timeout; }));
    keys.push_back(
        ms_key("server.body_timeout_ms",
               "time to receive a request body, ms",
               [](Config& c) -> std::chrono::milliseconds& { return c.server.body_timeout; }));
    keys.push_back(
        ms_key("server.idle_timeout_ms",
               "keep-alive idle time before closing, ms",
               [](Config& c) -> std::chrono::milliseconds& { return c.server.idle_timeout; }));
    keys.push_back(
        size_key("server.max_inflight_queries",
                 "queries in progress at once (LLM waits included)",
                 [](Config& c) -> std::size_t& { return c.server.max_inflight_queries; }));
    keys.push_back(
        size_key("server.max_waiting_queries",
                 "queries waiting for a slot before 503",
                 [](Config& c) -> std::size_t& { return c.server.max_waiting_queries; }));
    keys.push_back(ms_key(
        "server.query_queue_timeout_ms",
        "longest wait for a query slot, ms",
        [](Config& c) -> std::chrono::milliseconds& { return c.server.query_queue_timeout; }));
    keys.push_back(
        ms_key("server.drain_delay_ms",
               "after SIGTERM: keep serving (not ready) this long before closing, ms",
               [](Config& c) -> std::chrono::milliseconds& { return c.server.drain_delay; }));
    keys.push_back(
        ms_key("server.drain_timeout_ms",
               "after the drain delay: wait this long for in-flight requests, ms",
               [](Config& c) -> std::chrono::milliseconds& { return c.server.drain_timeout; }));
    keys.push_back(size_key("server.max_connections",
                            "open connections at most; at the limit accepting pauses",
                            [](Config& c) -> std::size_t& { return c.server.max_connections; }));
    keys.push_back(
        size_key("server.max_connections_per_ip",
                 "open connections per client IP, 0 = unlimited (503 above)",
                 [](Config& c) -> std::size_t& { return c.server.max_connections_per_ip; }));
    keys.push_back(
        size_key("server.max_requests_per_connection",
                 "requests per connection, 0 = unlimited (then Connection: close)",
                 [](Config& c) -> std::size_t& { return c.server.max_requests_per_connection; }));
    keys.push_back(
        ms_key("server.max_stream_ms",
               "longest streamed (SSE) response, ms; then an error event and close",
               [](Config& c) -> std::chrono::milliseconds& { return c.server.max_stream; }));
    keys.push_back(
        ms_key("server.stream_flush_ms",
               "streamed pieces within this many ms of the last send leave together, 0 = each "
               "at once",
               [](Config& c) -> std::chrono::milliseconds& { return c.server.stream_flush; }));
    keys.push_back(bool_key("server.metrics",
                            "record metrics and serve GET /metrics (off: measure their cost)",
                            [](Config& c) -> bool& { return c.server.metrics; }));
    keys.push_back(string_key("storage.data_dir",
                              "data directory (database and indexes)",
                              [](Config& c) -> std::string& { return c.storage.data_dir; }));
    keys.push_back(bool_key("storage.durable_commits",
                            "fsync each committed document (ragd ingest batches instead)",
                            [](Config& c) -> bool& { return c.storage.durable_commits; }));
    keys.push_back(string_key(
        "storage.embedding_encoding",
        "how embeddings are stored: int8 (the index's quantization, 1/4 the bytes) or float32",
        [](Config& c) -> std::string& { return c.storage.embedding_encoding; }));
    keys.push_back(
        size_key("storage.passage_cache_bytes",
                 "memory for passages loaded by queries (0 = read each from storage)",
                 [](Config& c) -> std::size_t& { return c.storage.passage_cache_bytes; }));
    keys.push_back(string_key("storage.backend",
                              "system of record: sqlite (one process) or postgres (a fleet)",
                              [](Config& c) -> std::string& { return c.storage.backend; }));
    keys.push_back(string_key(
        "storage.postgres_url",
        "libpq connection string or postgresql:// URL (password: PGPASSWORD or ~/.pgpass)",
        [](Config& c) -> std::string& { return c.storage.postgres_url; }));
    keys.push_back(
        size_key("storage.postgres_connections",
                 "connections to PostgreSQL at most",
                 [](Config& c) -> std::size_t& { return c.storage.postgres_connections; }));
    keys.push_back(
        ms_key("storage.follow_interval_ms",
               "how often a replica on PostgreSQL applies other replicas' changes, 0 = never",
               [](Config& c) -> std::chrono::milliseconds& { return c.storage.follow_interval; }));
    keys.push_back(size_key("ingest.chunk_tokens",
                            "target chunk size in approximate tokens",
                            [](Config& c) -> std::size_t& { return c.ingest.chunk_tokens; }));
    keys.push_back(double_key("ingest.chunk_overlap",
                              "overlap between chunks, fraction 0..0.5",
                              [](Config& c) -> double& { return c.ingest.chunk_overlap; }));
    keys.push_back(size_key("ingest.max_file_bytes",
                            "files larger than this are skipped, bytes",
                            [](Config& c) -> std::size_t& { return c.ingest.max_file_bytes; }));
    keys.push_back(size_key("ingest.write_concurrency",
                            "documents a bulk ingest writes at once, 0 = the backend's choice",
                            [](Config& c) -> std::size_t& { return c.ingest.write_concurrency; }));
    keys.push_back(string_key("embed.provider",
                              "embedder: lexical-hash (built-in, offline) or openai (an "
                              "OpenAI-compatible embeddings API)",
                              [](Config& c) -> std::string& { return c.embed.provider; }));
    keys.push_back(size_key("embed.dimensions",
                            "vector dimensions (the built-in embedder's, or the model's)",
                            [](Config& c) -> std::size_t& { return c.embed.dimensions; }));
    keys.push_back(string_key("embed.base_url",
                              "embeddings service URL (required for openai)",
                              [](Config& c) -> std::string& { return c.embed.base_url; }));
    keys.push_back(string_key("embed.model",
                              "embedding model name (required for openai)",
                              [](Config& c) -> std::string& { return c.embed.model; }));
    keys.push_back(string_key("embed.api_key_env",
                              "environment variable holding the embeddings service's Bearer key",
                              [](Config& c) -> std::string& { return c.embed.api_key_env; }));
    keys.push_back(bool_key("embed.send_dimensions",
                            "send embed.dimensions in each request (text-embedding-3 models)",
                            [](Config& c) -> bool& { return c.embed.send_dimensions; }));
    keys.push_back(size_key("embed.batch_size",
                            "texts per embeddings request",
                            [](Config& c) -> std::size_t& { return c.embed.batch_size; }));
    keys.push_back(size_key("embed.concurrency",
                            "embeddings requests of one document sent at once",
                            [](Config& c) -> std::size_t& { return c.embed.concurrency; }));
    keys.push_back(ms_key("embed.timeout_ms",
                          "longest wait for one embeddings request, ms",
                          [](Config& c) -> std::chrono::milliseconds& { return c.embed.timeout; }));
    keys.push_back(
        ms_key("embed.query_timeout_ms",
               "longest wait for a question's vector, retries included, ms",
               [](Config& c) -> std::chrono::milliseconds& { return c.embed.query_timeout; }));
    keys.push_back(size_key("embed.max_attempts",
                            "attempts per embeddings request, the first included",
                            [](Config& c) -> std::size_t& { return c.embed.max_attempts; }));
    keys.push_back(string_key("embed.query_prefix",
                              "text prepended to each question before embedding",
                              [](Config& c) -> std::string& { return c.embed.query_prefix; }));
    keys.push_back(string_key("embed.document_prefix",
                              "text prepended to each passage before embedding",
                              [](Config& c) -> std::string& { return c.embed.document_prefix; }));
    keys.push_back(string_key("embed.ca_file",
                              "extra CA bundle (PEM) for the embeddings service's TLS",
                              [](Config& c) -> std::string& { return c.embed.ca_file; }));
    keys.push_back(size_key("retrieval.top_k",
                            "results when a request does not say",
                            [](Config& c) -> std::size_t& { return c.retrieval.top_k; }));
    keys.push_back(size_key("retrieval.max_top_k",
                            "largest top_k a request may ask for",
                            [](Config& c) -> std::size_t& { return c.retrieval.max_top_k; }));
    keys.push_back(size_key("retrieval.candidates",
                            "candidates per retriever before fusion",
                            [](Config& c) -> std::size_t& { return c.retrieval.candidates; }));
    keys.push_back(double_key("retrieval.rrf_k",
                              "reciprocal rank fusion constant",
                              [](Config& c) -> double& { return c.retrieval.rrf_k; }));
    keys.push_back(double_key("retrieval.vector_weight",
                              "weight of vector results in fusion",
                              [](Config& c) -> double& { return c.retrieval.vector_weight; }));
    keys.push_back(double_key("retrieval.bm25_weight",
                              "weight of BM25 results in fusion",
                              [](Config& c) -> double& { return c.retrieval.bm25_weight; }));
    keys.push_back(string_key("retrieval.bm25_backend",
                              "BM25 index: memory (ragd's own, in memory) or xapian",
                              [](Config& c) -> std::string& { return c.retrieval.bm25_backend; }));
    keys.push_back(size_key("retrieval.hnsw_m", "HNSW graph degree", [](Config& c) -> std::size_t& {
        return c.retrieval.hnsw_m;
    }));
    keys.push_back(size_key(
        "retrieval.hnsw_ef_construction", "HNSW ef at construction", [](Config& c) -> std::size_t& {
            return c.retrieval.hnsw_ef_construction;
        }));
    keys.push_back(size_key("retrieval.hnsw_ef_search",
                            "HNSW ef at search",
                            [](Config& c) -> std::size_t& { return c.retrieval.hnsw_ef_search; }));
    keys.push_back(string_key("llm.provider",
                              "primary generator: extractive, openai, anthropic, bedrock",
                              [](Config& c) -> std::string& { return c.llm.provider; }));
    keys.push_back(
        size_key("llm.extractive_max_sentences",
                 "sentences in an extractive answer",
                 [](Config& c) -> std::size_t& { return c.llm.extractive_max_sentences; }));
    keys.push_back(string_key("llm.base_url",
                              "primary upstream URL, \"\" = provider's public API",
                              [](Config& c) -> std::string& { return c.llm.base_url; }));
    keys.push_back(string_key("llm.model",
                              "model sent upstream, \"\" = provider default",
                              [](Config& c) -> std::string& { return c.llm.model; }));
    keys.push_back(string_key("llm.api_key_env",
                              "environment variable holding the API key, \"\" = provider's usual",
                              [](Config& c) -> std::string& { return c.llm.api_key_env; }));
    keys.push_back(string_key("llm.api_key_header",
                              "header carrying the key, \"\" = provider's (e.g. api-key for Azure)",
                              [](Config& c) -> std::string& { return c.llm.api_key_header; }));
    keys.push_back(string_key("llm.extra_query",
                              "query string added to upstream requests",
                              [](Config& c) -> std::string& { return c.llm.extra_query; }));
    keys.push_back(string_key("llm.extra_headers",
                              "extra upstream headers, 'Name: value; ...'",
                              [](Config& c) -> std::string& { return c.llm.extra_headers; }));
    keys.push_back(string_key("llm.aws_region",
                              "bedrock: AWS region, \"\" = AWS_REGION / AWS_DEFAULT_REGION",
                              [](Config& c) -> std::string& { return c.llm.aws_region; }));
    keys.push_back(string_key("llm.fallback",
                              "comma-separated generators tried after the primary fails",
                              [](Config& c) -> std::string& { return c.llm.fallback; }));
    keys.push_back(string_key("llm.anthropic_version",
                              "anthropic-version header",
                              [](Config& c) -> std::string& { return c.llm.anthropic_version; }));
    keys.push_back(string_key("llm.ca_file",
                              "extra CA bundle (PEM) for upstream TLS",
                              [](Config& c) -> std::string& { return c.llm.ca_file; }));
    keys.push_back(string_key("llm.system_prompt",
                              "system prompt, \"\" = built-in",
                              [](Config& c) -> std::string& { return c.llm.system_prompt; }));
    keys.push_back(string_key("llm.prompt_template",
                              "user message with {passages} and {question}, \"\" = built-in",
                              [](Config& c) -> std::string& { return c.llm.prompt_template; }));
    keys.push_back(size_key("llm.max_tokens",
                            "answer tokens when a request does not say",
                            [](Config& c) -> std::size_t& { return c.llm.max_tokens; }));
    keys.push_back(size_key("llm.max_tokens_limit",
                            "largest max_tokens a request may ask for",
                            [](Config& c) -> std::size_t& { return c.llm.max_tokens_limit; }));
    keys.push_back(double_key("llm.temperature",
                              "temperature when a request does not say",
                              [](Config& c) -> double& { return c.llm.temperature; }));
    keys.push_back(size_key("llm.max_context_tokens",
                            "prompt budget for passages, tokens",
                            [](Config& c) -> std::size_t& { return c.llm.max_context_tokens; }));
    keys.push_back(
        ms_key("llm.connect_timeout_ms",
               "upstream DNS+TCP+TLS, ms",
               [](Config& c) -> std::chrono::milliseconds& { return c.llm.connect_timeout; }));
    keys.push_back(
        ms_key("llm.first_token_timeout_ms",
               "request sent to first byte, ms",
               [](Config& c) -> std::chrono::milliseconds& { return c.llm.first_token_timeout; }));
    keys.push_back(
        ms_key("llm.idle_timeout_ms",
               "longest gap between streamed tokens, ms",
               [](Config& c) -> std::chrono::milliseconds& { return c.llm.idle_timeout; }));
    keys.push_back(
        ms_key("llm.total_timeout_ms",
               "whole upstream call, ms",
               [](Config& c) -> std::chrono::milliseconds& { return c.llm.total_timeout; }));
    keys.push_back(size_key("llm.max_attempts",
                            "attempts per upstream call (retries + 1)",
                            [](Config& c) -> std::size_t& { return c.llm.max_attempts; }));
    keys.push_back(double_key("llm.retry_budget_ratio",
                              "retries as a fraction of recent calls",
                              [](Config& c) -> double& { return c.llm.retry_budget_ratio; }));
    keys.push_back(size_key("llm.max_connections",
                            "connections per upstream",
                            [](Config& c) -> std::size_t& { return c.llm.max_connections; }));
    keys.push_back(size_key("llm.max_concurrent",
                            "concurrent calls per upstream (bulkhead)",
                            [](Config& c) -> std::size_t& { return c.llm.max_concurrent; }));
    keys.push_back(size_key("llm.max_queue",
                            "calls waiting for a bulkhead slot",
                            [](Config& c) -> std::size_t& { return c.llm.max_queue; }));
    keys.push_back(
        ms_key("llm.queue_timeout_ms",
               "longest wait for a bulkhead slot, ms",
               [](Config& c) -> std::chrono::milliseconds& { return c.llm.queue_timeout; }));
    keys.push_back(double_key("llm.requests_per_minute",
                              "client-side request quota, 0 = none",
                              [](Config& c) -> double& { return c.llm.requests_per_minute; }));
    keys.push_back(double_key("llm.tokens_per_minute",
                              "client-side token quota, 0 = none",
                              [](Config& c) -> double& { return c.llm.tokens_per_minute; }));
    keys.push_back(
        ms_key("llm.quota_wait_ms",
               "longest wait for quota before falling back, ms",
               [](Config& c) -> std::chrono::milliseconds& { return c.llm.quota_wait; }));
    keys.push_back(size_key("llm.breaker_failures",
                            "consecutive failures that open the breaker",
                            [](Config& c) -> std::size_t& { return c.llm.breaker_failures; }));
    keys.push_back(
        ms_key("llm.breaker_open_ms",
               "how long an open breaker rejects calls, ms",
               [](Config& c) -> std::chrono::milliseconds& { return c.llm.breaker_open; }));
    keys.push_back(size_key("cache.l1_max_bytes",
                            "in-process answer cache bytes, 0 = off",
                            [](Config& c) -> std::size_t& { return c.cache.l1_max_bytes; }));
    keys.push_back(size_key("cache.l1_shards",
                            "in-process cache shards",
                            [](Config& c) -> std::size_t& { return c.cache.l1_shards; }));
    keys.push_back(ms_key("cache.ttl_ms",
                          "lifetime of a cached answer, ms",
                          [](Config& c) -> std::chrono::milliseconds& { return c.cache.ttl; }));
    keys.push_back(string_key("cache.redis_url",
                              "shared L2 cache redis://host:port (rediss:// for TLS), \"\" = off",
                              [](Config& c) -> std::string& { return c.cache.redis_url; }));
    keys.push_back(string_key("cache.redis_ca_file",
                              "rediss://: PEM CA bundle trusted besides the system store",
                              [](Config& c) -> std::string& { return c.cache.redis_ca_file; }));
    keys.push_back(
        bool_key("cache.redis_tls_verify",
                 "rediss://: verify Redis' certificate and host name (false: tests only)",
                 [](Config& c) -> bool& { return c.cache.redis_tls_verify; }));
    keys.push_back(string_key("cache.redis_prefix",
                              "prefix of ragd's Redis keys",
                              [](Config& c) -> std::string& { return c.cache.redis_prefix; }));
    keys.push_back(
        size_key("cache.redis_max_connections", "Redis connections", [](Config& c) -> std::size_t& {
            return c.cache.redis_max_connections;
        }));
    keys.push_back(ms_key(
        "cache.redis_command_timeout_ms",
        "Redis command deadline, ms",
        [](Config& c) -> std::chrono::milliseconds& { return c.cache.redis_command_timeout; }));
    keys.push_back(ms_key(
        "cache.redis_connect_timeout_ms",
        "Redis connect deadline, ms",
        [](Config& c) -> std::chrono::milliseconds& { return c.cache.redis_connect_timeout; }));
    keys.push_back(
        ms_key("cache.redis_down_backoff_ms",
               "Redis skipped after a failure, ms",
               [](Config& c) -> std::chrono::milliseconds& { return c.cache.redis_down_backoff; }));
    keys.push_back(bool_key("cache.semantic_enabled",
                            "reuse answers of near-identical questions",
                            [](Config& c) -> bool& { return c.cache.semantic_enabled; }));
    keys.push_back(double_key("cache.semantic_threshold",
                              "cosine similarity for a semantic hit",
                              [](Config& c) -> double& { return c.cache.semantic_threshold; }));
    keys.push_back(size_key(
        "cache.semantic_max_entries", "semantic entries per scope", [](Config& c) -> std::size_t& {
            return c.cache.semantic_max_entries;
        }));
    keys.push_back(string_key("rerank.provider",
                              "reranker API: \"\" = off, cohere (/v1/rerank) or tei (/rerank)",
                              [](Config& c) -> std::string& { return c.rerank.provider; }));
    keys.push_back(string_key("rerank.base_url",
                              "rerank service URL (required when rerank.provider is set)",
                              [](Config& c) -> std::string& { return c.rerank.base_url; }));
    keys.push_back(string_key("rerank.model",
                              "model sent to the reranker, \"\" = none",
                              [](Config& c) -> std::string& { return c.rerank.model; }));
    keys.push_back(string_key("rerank.api_key_env",
                              "environment variable holding the reranker's Bearer key",
                              [](Config& c) -> std::string& { return c.rerank.api_key_env; }));
    keys.push_back(size_key("rerank.candidates",
                            "fused results sent to the reranker",
                            [](Config& c) -> std::size_t& { return c.rerank.candidates; }));
    keys.push_back(
        ms_key("rerank.timeout_ms",
               "longest wait for the reranker before the fused order is kept, ms",
               [](Config& c) -> std::chrono::milliseconds& { return c.rerank.timeout; }));
    keys.push_back(size_key("rerank.max_passage_bytes",
                            "bytes of each passage sent to the reranker",
                            [](Config& c) -> std::size_t& { return c.rerank.max_passage_bytes; }));
    keys.push_back(string_key("log.level",
                              "trace, debug, info, warn, error or off",
                              [](Config& c) -> std::string& { return c.log.level; }));
    keys.push_back(string_key("log.format",
                              "json (for log pipelines) or text (for a terminal)",
                              [](Config& c) -> std::string& { return c.log.format; }));
    keys.push_back(bool_key("log.access",
                            "one access-log line per request",
                            [](Config& c) -> bool& { return c.log.access; }));
    keys.push_back(string_key("log.file",
                              "file to append log lines to, \"\" = standard error",
                              [](Config& c) -> std::string& { return c.log.file; }));
    keys.push_back(string_key("auth.enabled",
                              "auto (on when keys are configured), true or false",
                              [](Config& c) -> std::string& { return c.auth.enabled; }));
    keys.push_back(
        bool_key("auth.allow_unauthenticated_remote",
                 "serve without API keys on a non-loopback address",
                 [](Config& c) -> bool& { return c.auth.allow_unauthenticated_remote; }));
    keys.push_back(bool_key("auth.protect_metrics",
                            "GET /metrics requires an admin key",
                            [](Config& c) -> bool& { return c.auth.protect_metrics; }));
    keys.push_back(string_key("auth.rate_limit_store",
                              "rate-limit buckets: local (this process) or redis (shared)",
                              [](Config& c) -> std::string& { return c.auth.rate_limit_store; }));
    keys.push_back(string_key("auth.redis_url",
                              "Redis for shared rate limits, \"\" = cache.redis_url",
                              [](Config& c) -> std::string& { return c.auth.redis_url; }));
    keys.push_back(string_key("auth.redis_ca_file",
                              "rediss:// auth.redis_url: PEM CA bundle besides the system store",
                              [](Config& c) -> std::string& { return c.auth.redis_ca_file; }));
    keys.push_back(
        bool_key("auth.redis_tls_verify",
                 "rediss:// auth.redis_url: verify certificate and host name (false: tests only)",
                 [](Config& c) -> bool& { return c.auth.redis_tls_verify; }));
    keys.push_back(
        ms_key("auth.redis_timeout_ms",
               "rate-limit Redis deadline, then local, ms",
               [](Config& c) -> std::chrono::milliseconds& { return c.auth.redis_timeout; }));
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
        // Not an ostream: its default 6 significant digits would turn 1234567.0 into 1234570.
        return shortest_double(*node.value<double>());
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
        out.push_back(c == '.' ? '_'
                               : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
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
    require(c.server.max_inflight_queries >= 1, "server.max_inflight_queries: must be at least 1");
    require(c.server.header_timeout.count() > 0, "server.header_timeout_ms: must be positive");
    require(c.server.body_timeout.count() > 0, "server.body_timeout_ms: must be positive");
    require(c.server.idle_timeout.count() > 0, "server.idle_timeout_ms: must be positive");
    require(c.server.max_connections >= 1, "server.max_connections: must be at least 1");
    require(c.server.max_connections_per_ip <= c.server.max_connections,
            "server.max_connections_per_ip: must not exceed server.max_connections (0 = "
            "unlimited)");
    require(c.server.max_stream.count() > 0, "server.max_stream_ms: must be positive");
    require(c.server.stream_flush.count() <= 1000,
            "server.stream_flush_ms: must be at most 1000 (a longer pause reads as a stalled "
            "stream)");
    require(!c.storage.data_dir.empty(), "storage.data_dir: must not be empty");
    require(c.storage.embedding_encoding == "int8" || c.storage.embedding_encoding == "float32",
            "storage.embedding_encoding: must be int8 or float32 (got '" +
                c.storage.embedding_encoding + "')");
    require(c.storage.backend == "sqlite" || c.storage.backend == "postgres",
            "storage.backend: must be sqlite or postgres (got '" + c.storage.backend + "')");
    require(c.storage.backend != "postgres" || !c.storage.postgres_url.empty(),
            "storage.postgres_url: required when storage.backend is postgres");
    require(c.storage.postgres_connections >= 1 && c.storage.postgres_connections <= 256,
            "storage.postgres_connections: must be between 1 and 256");
    require(c.storage.follow_interval.count() >= 0,
            "storage.follow_interval_ms: must not be negative");
    require(c.ingest.chunk_tokens >= 16 && c.ingest.chunk_tokens <= 8192,
            "ingest.chunk_tokens: must be between 16 and 8192");
    require(c.ingest.chunk_overlap >= 0 && c.ingest.chunk_overlap <= 0.5,
            "ingest.chunk_overlap: must be between 0 and 0.5");
    require(c.ingest.write_concurrency <= 64, "ingest.write_concurrency: must be at most 64");
    require(c.embed.provider == "lexical-hash" || c.embed.provider == "openai",
            "embed.provider: unknown embedder '" + c.embed.provider +
                "' (available: lexical-hash, openai)");
    if (c.embed.provider == "openai") {
        require(c.embed.dimensions >= 1 && c.embed.dimensions <= 16384,
                "embed.dimensions: must be between 1 and 16384 (the model's vector length)");
        require(!c.embed.base_url.empty(),
                "embed.base_url: must be set when embed.provider is openai");
        require(!c.embed.model.empty(), "embed.model: must be set when embed.provider is openai");
    } else {
        require(c.embed.dimensions >= 64 && c.embed.dimensions <= 4096,
                "embed.dimensions: must be between 64 and 4096");
    }
    require(c.embed.batch_size >= 1 && c.embed.batch_size <= 2048,
            "embed.batch_size: must be between 1 and 2048");
    require(c.embed.concurrency >= 1 && c.embed.concurrency <= 64,
            "embed.concurrency: must be between 1 and 64");
    require(c.embed.timeout.count() > 0, "embed.timeout_ms: must be positive");
    require(c.embed.query_timeout.count() > 0, "embed.query_timeout_ms: must be positive");
    require(c.embed.max_attempts >= 1 && c.embed.max_attempts <= 10,
            "embed.max_attempts: must be between 1 and 10");
    require(c.retrieval.top_k >= 1, "retrieval.top_k: must be at least 1");
    require(c.retrieval.max_top_k >= c.retrieval.top_k,
            "retrieval.max_top_k: must be at least retrieval.top_k");
    require(c.retrieval.candidates >= 1, "retrieval.candidates: must be at least 1");
    require(c.retrieval.bm25_backend == "memory" || c.retrieval.bm25_backend == "xapian",
            "retrieval.bm25_backend: must be memory or xapian (got '" + c.retrieval.bm25_backend +
                "')");
    require(c.retrieval.rrf_k > 0, "retrieval.rrf_k: must be positive");
    require(c.retrieval.vector_weight >= 0 && c.retrieval.bm25_weight >= 0 &&
                c.retrieval.vector_weight + c.retrieval.bm25_weight > 0,
            "retrieval.vector_weight/bm25_weight: must be non-negative and not both zero");
    require(c.retrieval.hnsw_m >= 2 && c.retrieval.hnsw_m <= 128,
            "retrieval.hnsw_m: must be between 2 and 128");
    const auto known_provider = [](const std::string& name) {
        return name == "extractive" || name == "openai" || name == "anthropic" || name == "bedrock";
    };
    require(known_provider(c.llm.provider),
            "llm.provider: unknown generator '" + c.llm.provider +
                "' (available: extractive, openai, anthropic, bedrock)");
    for (const UpstreamConfig& upstream : c.llm.upstreams) {
        require(upstream.provider == "openai" || upstream.provider == "anthropic" ||
                    upstream.provider == "bedrock",
                "llm.upstreams." + upstream.name +
                    ".provider: must be openai, anthropic or bedrock (got '" + upstream.provider +
                    "')");
        require(upstream.name != "extractive" && upstream.name != c.llm.provider,
                "llm.upstreams." + upstream.name + ": the name is already taken");
    }
    {
        std::string chain = c.llm.fallback;
        std::size_t start = 0;
        while (start <= chain.size()) {
            std::size_t comma = chain.find(',', start);
            if (comma == std::string::npos) {
                comma = chain.size();
            }
            std::string name = chain.substr(start, comma - start);
            name.erase(0, name.find_first_not_of(" \t"));
            name.erase(name.find_last_not_of(" \t") + 1);
            const bool defined =
                name.empty() || name == "extractive" || name == c.llm.provider ||
                std::any_of(c.llm.upstreams.begin(),
                            c.llm.upstreams.end(),
                            [&name](const UpstreamConfig& u) { return u.name == name; });
            require(defined,
                    "llm.fallback: '" + name +
                        "' is neither extractive, the primary provider nor an "
                        "[llm.upstreams." +
                        name + "] table");
            start = comma + 1;
        }
    }
    require(
        c.rerank.provider.empty() || c.rerank.provider == "cohere" || c.rerank.provider == "tei",
        "rerank.provider: must be empty (off), cohere or tei (got '" + c.rerank.provider + "')");
    require(c.rerank.provider.empty() || !c.rerank.base_url.empty(),
            "rerank.base_url: must be set when rerank.provider is");
    require(c.rerank.candidates >= 1 && c.rerank.candidates <= 1000,
            "rerank.candidates: must be between 1 and 1000");
    require(c.rerank.timeout.count() > 0, "rerank.timeout_ms: must be positive");
    require(c.rerank.max_passage_bytes >= 16, "rerank.max_passage_bytes: must be at least 16");
    require(c.cache.l1_shards >= 1 && c.cache.l1_shards <= 1024,
            "cache.l1_shards: must be between 1 and 1024");
    require(c.cache.semantic_threshold > 0 && c.cache.semantic_threshold <= 1,
            "cache.semantic_threshold: must be in (0, 1]");
    require(c.cache.ttl.count() > 0, "cache.ttl_ms: must be positive");
    require(c.llm.max_tokens >= 1 && c.llm.max_tokens <= c.llm.max_tokens_limit,
            "llm.max_tokens: must be between 1 and llm.max_tokens_limit");
    require(c.llm.temperature >= 0 && c.llm.temperature <= 2,
            "llm.temperature: must be between 0 and 2");
    require(c.llm.max_context_tokens >= 64, "llm.max_context_tokens: must be at least 64");
    require(c.llm.max_attempts >= 1 && c.llm.max_attempts <= 10,
            "llm.max_attempts: must be between 1 and 10");
    require(c.llm.max_concurrent >= 1, "llm.max_concurrent: must be at least 1");
    require(c.llm.max_connections >= 1, "llm.max_connections: must be at least 1");
    require(c.llm.breaker_failures >= 1, "llm.breaker_failures: must be at least 1");
    require(c.llm.retry_budget_ratio >= 0, "llm.retry_budget_ratio: must not be negative");
    require(c.llm.requests_per_minute >= 0,
            "llm.requests_per_minute: must not be negative (0 = no quota)");
    require(c.llm.tokens_per_minute >= 0,
            "llm.tokens_per_minute: must not be negative (0 = no quota)");
    require(c.llm.connect_timeout.count() > 0 && c.llm.first_token_timeout.count() > 0 &&
                c.llm.idle_timeout.count() > 0 && c.llm.total_timeout.count() > 0,
            "llm.*_timeout_ms: must be positive");
    require(c.llm.extractive_max_sentences >= 1,
            "llm.extractive_max_sentences: must be at least 1");
    require(parse_log_level(c.log.level).has_value(),
            "log.level: must be one of trace, debug, info, warn, error, off (got '" + c.log.level +
                "')");
    require(c.log.format == "json" || c.log.format == "text",
            "log.format: must be json or text (got '" + c.log.format + "')");
    require(c.auth.rate_limit_store != "redis" || !c.auth.redis_url.empty() ||
                !c.cache.redis_url.empty(),
            "auth.rate_limit_store: is redis but neither auth.redis_url nor cache.redis_url is "
            "set");
    // The TLS settings go with the URL they secure; one that nothing would read is a mistake
    // (most likely the other section's key), not something to ignore.
    const auto tls_url = [](const std::string& url) {
        return url.starts_with("rediss://");
    };
    require(c.cache.redis_ca_file.empty() || tls_url(c.cache.redis_url),
            "cache.redis_ca_file: is set but cache.redis_url is not a rediss:// (TLS) URL");
    require(c.cache.redis_tls_verify || tls_url(c.cache.redis_url),
            "cache.redis_tls_verify: is false but cache.redis_url is not a rediss:// (TLS) URL");
    require(c.auth.redis_ca_file.empty() || tls_url(c.auth.redis_url),
            "auth.redis_ca_file: is set but auth.redis_url is not a rediss:// (TLS) URL (with "
            "auth.redis_url empty, the rate limits use cache.redis_url and cache.redis_ca_file)");
    require(c.auth.redis_tls_verify || tls_url(c.auth.redis_url),
            "auth.redis_tls_verify: is false but auth.redis_url is not a rediss:// (TLS) URL (with "
            "auth.redis_url empty, the rate limits use cache.redis_url and "
            "cache.redis_tls_verify)");
    for (std::string& problem : validate_auth_config(c.auth)) {
        problems.push_back(std::move(problem));
    }
    return problems;
}

namespace {

/// [llm.upstreams.NAME] tables: each takes the UpstreamConfig keys; unknown keys are errors.
void read_upstream_tables(const std::string& file,
                          const toml::node& node,
                          Config& config,
                          std::vector<std::string>& problems) {
    const toml::table* tables = node.as_table();
    if (tables == nullptr) {
        problems.push_back(file + ": llm.upstreams must be a table of [llm.upstreams.NAME]");
        return;
    }
    for (auto&& [upstream_name, upstream_node] : *tables) {
        const std::string prefix = "llm.upstreams." + std::string(upstream_name.str());
        const toml::table* fields = upstream_node.as_table();
        if (fields == nullptr) {
            problems.push_back(file + ": " + prefix + " must be a table");
            continue;
        }
        UpstreamConfig upstream;
        upstream.name = std::string(upstream_name.str());
        const std::pair<const char*, std::string UpstreamConfig::*> known[] = {
            {"provider", &UpstreamConfig::provider},
            {"base_url", &UpstreamConfig::base_url},
            {"model", &UpstreamConfig::model},
            {"api_key_env", &UpstreamConfig::api_key_env},
            {"api_key_header", &UpstreamConfig::api_key_header},
            {"extra_query", &UpstreamConfig::extra_query},
            {"extra_headers", &UpstreamConfig::extra_headers},
            {"aws_region", &UpstreamConfig::aws_region},
        };
        for (auto&& [field_key, field_value] : *fields) {
            const std::string field(field_key.str());
            const auto* match = std::find_if(std::begin(known),
                                             std::end(known),
                                             [&](const auto& k) { return field == k.first; });
            const auto* text = field_value.as_string();
            if (match == std::end(known)) {
                problems.push_back(file + ": unknown key '" + prefix + "." + field + "'");
            } else if (text == nullptr) {
                problems.push_back(file + ": " + prefix + "." + field + ": must be a string");
            } else {
                upstream.*(match->second) = text->get();
            }
        }
        config.llm.upstreams.push_back(std::move(upstream));
    }
}

/// A TOML array of strings, or nullopt (with a problem recorded) for anything else.
std::optional<std::vector<std::string>> string_array(const toml::node& node,
                                                     const std::string& where,
                                                     std::vector<std::string>& problems) {
    const toml::array* items = node.as_array();
    std::vector<std::string> out;
    bool ok = items != nullptr;
    for (std::size_t item_idx = 0; ok && item_idx < items->size(); ++item_idx) {
        const auto* text = items->get(item_idx)->as_string();
        ok = text != nullptr;
        if (ok) {
            out.push_back(text->get());
        }
    }
    if (!ok) {
        problems.push_back(where + ": must be an array of strings");
        return std::nullopt;
    }
    return out;
}

/// [[auth.keys]] tables: each takes the ApiKeyConfig fields; unknown keys are errors. Problems
/// name the key by its index ("auth.keys[2].burst"), as validate_auth_config does.
void read_api_key_tables(const std::string& file,
                         const toml::node& node,
                         Config& config,
                         std::vector<std::string>& problems) {
    const toml::array* tables = node.as_array();
    if (tables == nullptr) {
        problems.push_back(file + ": auth.keys must be an array of [[auth.keys]] tables");
        return;
    }
    const std::pair<const char*, double ApiKeyConfig::*> numbers[] = {
        {"requests_per_second", &ApiKeyConfig::requests_per_second},
        {"burst", &ApiKeyConfig::burst},
        {"tokens_per_minute", &ApiKeyConfig::tokens_per_minute},
        {"daily_tokens", &ApiKeyConfig::daily_tokens},
    };
    for (std::size_t key_idx = 0; key_idx < tables->size(); ++key_idx) {
        const std::string prefix = file + ": auth.keys[" + std::to_string(key_idx) + "]";
        const toml::table* fields = tables->get(key_idx)->as_table();
        if (fields == nullptr) {
            problems.push_back(prefix + ": must be a table");
            continue;
        }
        ApiKeyConfig key;
        for (auto&& [field_key, value] : *fields) {
            const std::string field(field_key.str());
            const std::string where = prefix + "." + field;
            const auto* number = std::find_if(std::begin(numbers),
                                              std::end(numbers),
                                              [&](const auto& n) { return field == n.first; });
            if (field == "name" || field == "sha256") {
                const auto* text = value.as_string();
                if (text == nullptr) {
                    problems.push_back(where + ": must be a string");
                } else {
                    (field == "name" ? key.name : key.sha256) = text->get();
                }
            } else if (field == "scopes" || field == "collections") {
                if (auto items = string_array(value, where, problems)) {
                    (field == "scopes" ? key.scopes : key.collections) = std::move(*items);
                }
            } else if (field == "filter") {
                const toml::table* pairs = value.as_table();
                if (pairs == nullptr) {
                    problems.push_back(where +
                                       ": must be a table of strings, e.g. "
                                       "{ tenant = \"acme\" }");
                    continue;
                }
                for (auto&& [filter_key, filter_value] : *pairs) {
                    const auto* text = filter_value.as_string();
                    if (text == nullptr) {
                        problems.push_back(where + "." + std::string(filter_key.str()) +
                                           ": must be a string");
                        continue;
                    }
                    key.filter.emplace_back(std::string(filter_key.str()), text->get());
                }
                std::sort(key.filter.begin(), key.filter.end());
            } else if (number != std::end(numbers)) {
                if (value.is_integer()) {
                    key.*(number->second) = static_cast<double>(*value.value<std::int64_t>());
                } else if (value.is_floating_point()) {
                    key.*(number->second) = *value.value<double>();
                } else {
                    problems.push_back(where + ": must be a number");
                }
            } else {
                problems.push_back(file + ": unknown key 'auth.keys[" + std::to_string(key_idx) +
                                   "]." + field + "'");
            }
        }
        config.auth.keys.push_back(std::move(key));
    }
}

/// Problems quote values, which may hold line breaks or other control characters (TOML escapes,
/// environment variables); escaping them keeps the promised one problem per line.
std::string one_line(const std::string& problem) {
    std::string out;
    for (char c : problem) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte >= 0x20 && byte != 0x7f) {
            out.push_back(c);
        } else if (c == '\n') {
            out += "\\n";
        } else {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
            out += escaped;
        }
    }
    return out;
}

}  // namespace

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

    if (!sources.file.empty() || sources.file_text) {
        // Text given directly and a file read from disk take the same path from here on.
        const std::string origin = sources.file.empty() ? "config" : sources.file;
        try {
            toml::table table = sources.file_text ? toml::parse(*sources.file_text, origin)
                                                  : toml::parse_file(sources.file);
            for (auto&& [section, node] : table) {
                const toml::table* inner = node.as_table();
                if (inner == nullptr) {
                    problems.push_back(origin + ": '" + std::string(section.str()) +
                                       "' must be a [section]");
                    continue;
                }
                for (auto&& [key, value] : *inner) {
                    std::string name = std::string(section.str()) + "." + std::string(key.str());
                    if (name == "llm.upstreams") {
                        read_upstream_tables(origin, value, config, problems);
                        continue;
                    }
                    if (name == "auth.keys") {
                        read_api_key_tables(origin, value, config, problems);
                        continue;
                    }
                    auto text = toml_scalar_text(value);
                    if (!text) {
                        problems.push_back(origin + ": " + name + ": must be a scalar");
                        continue;
                    }
                    apply(origin, name, *text);
                }
            }
        } catch (const toml::parse_error& e) {
            std::ostringstream out;
            out << origin << ":" << e.source().begin.line << ":" << e.source().begin.column << ": "
                << e.description();
            problems.push_back(out.str());
        }
    }
    if (sources.use_environment) {
        for (const auto& key : config_keys()) {
            std::string env = env_name_for(key.name);
            const char* value = nullptr;
            if (!sources.environment) {
                value = std::getenv(env.c_str());
            } else if (auto found = sources.environment->find(env);
                       found != sources.environment->end()) {
                value = found->second.c_str();
            }
            if (value != nullptr) {
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
            message += "\n  " + one_line(p);
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
    for (const ApiKeyConfig& api_key : config.auth.keys) {
        out += "\n" + format_api_key_toml(api_key);
    }
    return out;
}

}  // namespace ragd::core
