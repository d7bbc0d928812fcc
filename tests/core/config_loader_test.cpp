#include "core/config_loader.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <gtest/gtest.h>
#include <stdlib.h>

namespace ragd::core {
namespace {

std::string write_temp(const std::string& name, const std::string& text) {
    auto path = std::filesystem::temp_directory_path() / name;
    std::ofstream(path) << text;
    return path.string();
}

ConfigSources no_env() {
    ConfigSources sources;
    sources.use_environment = false;
    return sources;
}

TEST(ConfigLoader, DefaultsAreValid) {
    auto config = load_config(no_env());
    ASSERT_TRUE(config.has_value()) << config.error().detail;
    EXPECT_EQ(config->server.listen, "127.0.0.1:8080");
    EXPECT_EQ(config->retrieval.top_k, 5u);
    EXPECT_TRUE(validate_config(Config{}).empty());
}

TEST(ConfigLoader, EnvNameMapping) {
    EXPECT_EQ(env_name_for("server.listen"), "RAGD_SERVER_LISTEN");
    EXPECT_EQ(env_name_for("storage.data_dir"), "RAGD_STORAGE_DATA_DIR");
}

TEST(ConfigLoader, FileThenEnvironmentThenFlags) {
    auto file = write_temp("ragd_cfg_order.toml",
                           "[server]\nlisten = \"127.0.0.1:1111\"\nthreads = 3\n"
                           "[retrieval]\nrrf_k = 30\n");
    ::setenv("RAGD_SERVER_LISTEN", "127.0.0.1:2222", 1);
    ::setenv("RAGD_SERVER_THREADS", "5", 1);
    ConfigSources sources;
    sources.file = file;
    sources.overrides["server.threads"] = "7";
    auto config = load_config(sources);
    ::unsetenv("RAGD_SERVER_LISTEN");
    ::unsetenv("RAGD_SERVER_THREADS");
    ASSERT_TRUE(config.has_value()) << config.error().detail;
    EXPECT_EQ(config->server.listen, "127.0.0.1:2222");  // env beats file
    EXPECT_EQ(config->server.threads, 7u);               // flag beats env
    EXPECT_DOUBLE_EQ(config->retrieval.rrf_k, 30.0);     // file beats default
}

TEST(ConfigLoader, ReportsEveryProblemAtOnce) {
    auto file =
        write_temp("ragd_cfg_bad.toml",
                   "[server]\nthreads = \"many\"\nnope = 1\n[ingest]\nchunk_overlap = 0.9\n");
    ConfigSources sources = no_env();
    sources.file = file;
    sources.overrides["retrieval.top_k"] = "x";
    auto config = load_config(sources);
    ASSERT_FALSE(config.has_value());
    const auto& detail = config.error().detail;
    EXPECT_NE(detail.find("server.threads"), std::string::npos) << detail;
    EXPECT_NE(detail.find("unknown key 'server.nope'"), std::string::npos) << detail;
    EXPECT_NE(detail.find("retrieval.top_k"), std::string::npos) << detail;
}

TEST(ConfigLoader, ValidationNamesTheField) {
    ConfigSources sources = no_env();
    sources.overrides["ingest.chunk_overlap"] = "0.9";
    auto config = load_config(sources);
    ASSERT_FALSE(config.has_value());
    EXPECT_NE(config.error().detail.find("ingest.chunk_overlap"), std::string::npos);
}

TEST(ConfigLoader, StreamFlushIsZeroToOneSecond) {
    for (const char* ok : {"0", "50", "1000"}) {
        ConfigSources sources = no_env();
        sources.overrides["server.stream_flush_ms"] = ok;
        auto config = load_config(sources);
        ASSERT_TRUE(config.has_value()) << ok << ": " << config.error().detail;
        EXPECT_EQ(config->server.stream_flush.count(), std::stoll(ok));
    }
    ConfigSources sources = no_env();
    sources.overrides["server.stream_flush_ms"] = "1001";
    auto config = load_config(sources);
    ASSERT_FALSE(config.has_value());
    EXPECT_NE(config.error().detail.find("server.stream_flush_ms: must be at most 1000"),
              std::string::npos)
        << config.error().detail;
}

TEST(ConfigLoader, EmbeddingEncodingIsInt8OrFloat32) {
    EXPECT_EQ(Config{}.storage.embedding_encoding, "int8");
    for (const char* ok : {"int8", "float32"}) {
        ConfigSources sources = no_env();
        sources.overrides["storage.embedding_encoding"] = ok;
        auto config = load_config(sources);
        ASSERT_TRUE(config.has_value()) << ok << ": " << config.error().detail;
        EXPECT_EQ(config->storage.embedding_encoding, ok);
    }
    ConfigSources sources = no_env();
    sources.overrides["storage.embedding_encoding"] = "float16";
    auto config = load_config(sources);
    ASSERT_FALSE(config.has_value());
    EXPECT_NE(config.error().detail.find("storage.embedding_encoding: must be int8 or float32"),
              std::string::npos)
        << config.error().detail;
}

TEST(ConfigLoader, TomlSyntaxErrorHasLocation) {
    auto file = write_temp("ragd_cfg_syntax.toml", "[server\nlisten=1\n");
    ConfigSources sources = no_env();
    sources.file = file;
    auto config = load_config(sources);
    ASSERT_FALSE(config.has_value());
    EXPECT_NE(config.error().detail.find("ragd_cfg_syntax.toml:1"), std::string::npos)
        << config.error().detail;
}

TEST(ConfigLoader, PrintedConfigLoadsBackIdentically) {
    Config changed;
    changed.server.listen = "0.0.0.0:9";
    changed.retrieval.vector_weight = 0.5;
    changed.server.idle_timeout = std::chrono::milliseconds(1234);
    auto file = write_temp("ragd_cfg_roundtrip.toml", print_config(changed));
    ConfigSources sources = no_env();
    sources.file = file;
    auto config = load_config(sources);
    ASSERT_TRUE(config.has_value()) << config.error().detail;
    EXPECT_EQ(print_config(*config), print_config(changed));
}

TEST(ConfigLoader, TextAndEnvironmentCanBeGivenDirectly) {
    ::setenv("RAGD_SERVER_LISTEN", "127.0.0.1:2222", 1);
    ConfigSources sources;
    sources.file_text = "[server]\nthreads = 3\n";
    sources.environment = std::map<std::string, std::string>{{"RAGD_RETRIEVAL_TOP_K", "9"}};
    auto config = load_config(sources);
    ::unsetenv("RAGD_SERVER_LISTEN");
    ASSERT_TRUE(config.has_value()) << config.error().detail;
    EXPECT_EQ(config->server.threads, 3u);
    EXPECT_EQ(config->retrieval.top_k, 9u);
    EXPECT_EQ(config->server.listen, "127.0.0.1:8080");  // the process environment is not read

    sources.file_text = "[server\n";
    config = load_config(sources);
    ASSERT_FALSE(config.has_value());
    EXPECT_NE(config.error().detail.find("config:1"), std::string::npos) << config.error().detail;
}

// Found by fuzz_config: a quoted value with a line break split one problem over two lines.
TEST(ConfigLoader, EachProblemStaysOnOneLine) {
    ConfigSources sources = no_env();
    sources.file_text = "[log]\nlevel = \"loud\\n  server.listen: fine\"\n";
    sources.overrides["log.format"] = std::string("a\rb\x01\0", 5);
    auto config = load_config(sources);
    ASSERT_FALSE(config.has_value());
    const std::string& detail = config.error().detail;
    EXPECT_EQ(std::count(detail.begin(), detail.end(), '\n'), 2) << detail;
    EXPECT_NE(detail.find("(got 'loud\\n  server.listen: fine')"), std::string::npos) << detail;
    EXPECT_NE(detail.find("(got 'a\\x0db\\x01\\x00')"), std::string::npos) << detail;
}

// Found by fuzz_config: --print-config wrote control characters raw, which TOML rejects.
TEST(ConfigLoader, PrintedStringsWithControlCharactersLoadBack) {
    Config changed;
    changed.server.listen = std::string("a\tb\nc\x01\x7f\0d", 10);
    changed.llm.system_prompt = "line one\nline two \"quoted\" \\ done";
    ConfigSources sources = no_env();
    sources.file_text = print_config(changed);
    auto config = load_config(sources);
    ASSERT_TRUE(config.has_value()) << config.error().detail;
    EXPECT_EQ(config->server.listen, changed.server.listen);
    EXPECT_EQ(config->llm.system_prompt, changed.llm.system_prompt);
}

// Found by fuzz_config: integers above 2^63 printed as TOML that cannot load, and durations
// that large wrapped around to negative milliseconds.
TEST(ConfigLoader, IntegersBeyondWhatTomlAndClocksHoldAreRejected) {
    for (const auto& [key, value] :
         std::map<std::string, std::string>{{"server.max_header_bytes", "16616611211111111111"},
                                            {"server.drain_delay_ms", "18446744073709551615"},
                                            {"llm.quota_wait_ms", "10000000000000"}}) {
        ConfigSources sources = no_env();
        sources.overrides[key] = value;
        auto config = load_config(sources);
        ASSERT_FALSE(config.has_value()) << key;
        EXPECT_NE(
            config.error().detail.find("flag: " + key + ": value " + value + " is out of range"),
            std::string::npos)
            << config.error().detail;
    }
    ConfigSources sources = no_env();
    sources.overrides["llm.quota_wait_ms"] = "1000000000000";
    auto config = load_config(sources);
    ASSERT_TRUE(config.has_value()) << config.error().detail;
    EXPECT_EQ(config->llm.quota_wait.count(), 1'000'000'000'000);
}

// A size went through a double on its way in, so above 2^53 it came out rounded: 2^53 + 1
// read as 2^53, and 2^63 - 1 as 2^63, which --print-config then wrote and could not read back.
TEST(ConfigLoader, LargeSizesKeepEveryDigit) {
    for (const std::string value : {"9007199254740993", "9223372036854775807"}) {
        ConfigSources sources = no_env();
        sources.overrides["ingest.max_file_bytes"] = value;
        auto config = load_config(sources);
        ASSERT_TRUE(config.has_value()) << config.error().detail;
        EXPECT_EQ(std::to_string(config->ingest.max_file_bytes), value);
        ConfigSources again = no_env();
        again.file_text = print_config(*config);
        auto reloaded = load_config(again);
        ASSERT_TRUE(reloaded.has_value()) << reloaded.error().detail;
        EXPECT_EQ(reloaded->ingest.max_file_bytes, config->ingest.max_file_bytes);
    }
}

// Found by fuzz_config: nan passed every range check (comparisons with nan are false), and
// the quota and retry-budget numbers took negative values.
TEST(ConfigLoader, NonFiniteAndNegativeNumbersAreRejected) {
    ConfigSources sources = no_env();
    sources.file_text =
        "[llm]\nretry_budget_ratio = nan\nrequests_per_minute = -1.5\n"
        "tokens_per_minute = inf\n";
    auto config = load_config(sources);
    ASSERT_FALSE(config.has_value());
    const std::string& detail = config.error().detail;
    EXPECT_NE(detail.find("llm.retry_budget_ratio: expected a finite number"), std::string::npos)
        << detail;
    EXPECT_NE(detail.find("llm.tokens_per_minute: expected a finite number"), std::string::npos)
        << detail;

    sources.file_text = "[llm]\nrequests_per_minute = -1.5\nretry_budget_ratio = -0.1\n";
    config = load_config(sources);
    ASSERT_FALSE(config.has_value());
    EXPECT_NE(config.error().detail.find("llm.requests_per_minute: must not be negative"),
              std::string::npos)
        << config.error().detail;
    EXPECT_NE(config.error().detail.find("llm.retry_budget_ratio: must not be negative"),
              std::string::npos)
        << config.error().detail;
}

// Found by fuzz_config: -0.0 passed the "must not be negative" checks (it is not below 0) and
// then printed as "-0", a negative-looking value in --print-config.
TEST(ConfigLoader, NegativeZeroReadsAsZero) {
    ConfigSources sources = no_env();
    sources.file_text = "[llm]\nretry_budget_ratio = -0.0\ntemperature = -0\n";
    auto config = load_config(sources);
    ASSERT_TRUE(config.has_value()) << config.error().detail;
    EXPECT_FALSE(std::signbit(config->llm.retry_budget_ratio));
    EXPECT_FALSE(std::signbit(config->llm.temperature));
    const std::string printed = print_config(*config);
    EXPECT_NE(printed.find("retry_budget_ratio = 0"), std::string::npos) << printed;
    EXPECT_EQ(printed.find("= -0"), std::string::npos) << printed;
}

// TOML floats used to pass through a default ostream (6 significant digits).
TEST(ConfigLoader, FloatsKeepEveryDigit) {
    ConfigSources sources = no_env();
    sources.file_text = "[llm]\ntokens_per_minute = 1234567.0\n[retrieval]\nrrf_k = 60.1234567\n";
    auto config = load_config(sources);
    ASSERT_TRUE(config.has_value()) << config.error().detail;
    EXPECT_EQ(config->llm.tokens_per_minute, 1234567.0);
    EXPECT_EQ(config->retrieval.rrf_k, 60.1234567);
    sources.file_text = print_config(*config);
    auto reloaded = load_config(sources);
    ASSERT_TRUE(reloaded.has_value()) << reloaded.error().detail;
    EXPECT_EQ(reloaded->retrieval.rrf_k, 60.1234567);
}

TEST(ConfigLoader, RedisTlsKeysComeFromTheEnvironment) {
    ConfigSources sources;  // this environment, not the process's
    sources.environment =
        std::map<std::string, std::string>{{"RAGD_CACHE_REDIS_URL", "rediss://cache.internal:6380"},
                                           {"RAGD_CACHE_REDIS_CA_FILE", "/etc/ragd/redis-ca.pem"},
                                           {"RAGD_CACHE_REDIS_TLS_VERIFY", "false"},
                                           {"RAGD_AUTH_REDIS_URL", "rediss://limits.internal"},
                                           {"RAGD_AUTH_REDIS_CA_FILE", "/etc/ragd/limits-ca.pem"},
                                           {"RAGD_AUTH_REDIS_TLS_VERIFY", "true"}};
    auto config = load_config(sources);
    ASSERT_TRUE(config.has_value()) << config.error().detail;
    EXPECT_EQ(config->cache.redis_ca_file, "/etc/ragd/redis-ca.pem");
    EXPECT_FALSE(config->cache.redis_tls_verify);
    EXPECT_EQ(config->auth.redis_ca_file, "/etc/ragd/limits-ca.pem");
    EXPECT_TRUE(config->auth.redis_tls_verify);
    EXPECT_TRUE(Config{}.cache.redis_tls_verify);  // verification is on unless turned off
    EXPECT_TRUE(Config{}.auth.redis_tls_verify);

    const std::string printed = print_config(*config);
    EXPECT_NE(printed.find("redis_ca_file = \"/etc/ragd/redis-ca.pem\""), std::string::npos)
        << printed;
    EXPECT_NE(printed.find("redis_tls_verify = false"), std::string::npos) << printed;
}

TEST(ConfigLoader, RedisTlsSettingsWithoutATlsUrlAreProblems) {
    const auto problems = [](std::map<std::string, std::string> overrides) {
        ConfigSources sources = no_env();
        sources.overrides = std::move(overrides);
        auto config = load_config(sources);
        return config ? std::string("<valid>") : config.error().detail;
    };
    EXPECT_EQ(problems({{"cache.redis_url", "rediss://h"}, {"cache.redis_ca_file", "/ca.pem"}}),
              "<valid>");
    EXPECT_EQ(problems({{"cache.redis_url", "rediss://h"}, {"cache.redis_tls_verify", "false"}}),
              "<valid>");
    EXPECT_NE(problems({{"cache.redis_url", "redis://h"}, {"cache.redis_ca_file", "/ca.pem"}})
                  .find("cache.redis_ca_file: is set but cache.redis_url is not a rediss://"),
              std::string::npos);
    EXPECT_NE(problems({{"cache.redis_tls_verify", "false"}})
                  .find("cache.redis_tls_verify: is false but cache.redis_url is not"),
              std::string::npos);
    // The rate limits' own TLS settings go with auth.redis_url only; set without it, they
    // would be ignored in favour of the cache's.
    const std::string misplaced = problems({{"auth.rate_limit_store", "redis"},
                                            {"cache.redis_url", "rediss://h"},
                                            {"auth.redis_ca_file", "/ca.pem"},
                                            {"auth.redis_tls_verify", "false"}});
    EXPECT_NE(misplaced.find("auth.redis_ca_file: is set but auth.redis_url is not"),
              std::string::npos)
        << misplaced;
    EXPECT_NE(misplaced.find("auth.redis_tls_verify: is false"), std::string::npos) << misplaced;
    EXPECT_EQ(problems({{"auth.rate_limit_store", "redis"},
                        {"auth.redis_url", "rediss://limits"},
                        {"auth.redis_ca_file", "/ca.pem"},
                        {"auth.redis_tls_verify", "false"}}),
              "<valid>");
}

TEST(ConfigLoader, RemoteEmbedderKeysAndTheirChecks) {
    const auto problems = [](std::map<std::string, std::string> overrides) {
        ConfigSources sources = no_env();
        sources.overrides = std::move(overrides);
        auto config = load_config(sources);
        return config ? std::string("<valid>") : config.error().detail;
    };
    EXPECT_EQ(problems({{"embed.provider", "openai"},
                        {"embed.base_url", "https://api.openai.com"},
                        {"embed.model", "text-embedding-3-small"},
                        {"embed.dimensions", "1536"}}),
              "<valid>");
    // A model's vectors may be shorter than the built-in embedder's minimum, or longer.
    EXPECT_EQ(problems({{"embed.provider", "openai"},
                        {"embed.base_url", "http://127.0.0.1:1"},
                        {"embed.model", "m"},
                        {"embed.dimensions", "8192"}}),
              "<valid>");
    const std::string missing = problems({{"embed.provider", "openai"}});
    EXPECT_NE(missing.find("embed.base_url: must be set"), std::string::npos) << missing;
    EXPECT_NE(missing.find("embed.model: must be set"), std::string::npos) << missing;
    EXPECT_NE(
        problems({{"embed.provider", "sentence-bert"}}).find("available: lexical-hash, openai"),
        std::string::npos);
    EXPECT_NE(problems({{"embed.dimensions", "8192"}}).find("between 64 and 4096"),
              std::string::npos);
    EXPECT_NE(problems({{"embed.batch_size", "0"}}).find("embed.batch_size"), std::string::npos);
    EXPECT_NE(problems({{"embed.max_attempts", "0"}}).find("embed.max_attempts"),
              std::string::npos);
    EXPECT_NE(problems({{"embed.concurrency", "65"}}).find("embed.concurrency"), std::string::npos);
    EXPECT_NE(problems({{"embed.query_timeout_ms", "0"}}).find("embed.query_timeout_ms"),
              std::string::npos);

    ConfigSources sources;
    sources.environment =
        std::map<std::string, std::string>{{"RAGD_EMBED_PROVIDER", "openai"},
                                           {"RAGD_EMBED_BASE_URL", "http://127.0.0.1:11434"},
                                           {"RAGD_EMBED_MODEL", "nomic-embed-text"},
                                           {"RAGD_EMBED_DIMENSIONS", "768"},
                                           {"RAGD_EMBED_QUERY_PREFIX", "search_query: "},
                                           {"RAGD_EMBED_DOCUMENT_PREFIX", "search_document: "},
                                           {"RAGD_EMBED_TIMEOUT_MS", "2500"},
                                           {"RAGD_EMBED_QUERY_TIMEOUT_MS", "700"},
                                           {"RAGD_EMBED_SEND_DIMENSIONS", "true"}};
    auto config = load_config(sources);
    ASSERT_TRUE(config.has_value()) << config.error().detail;
    EXPECT_EQ(config->embed.model, "nomic-embed-text");
    EXPECT_EQ(config->embed.query_prefix, "search_query: ");
    EXPECT_EQ(config->embed.document_prefix, "search_document: ");
    EXPECT_EQ(config->embed.timeout, std::chrono::milliseconds(2500));
    EXPECT_EQ(config->embed.query_timeout, std::chrono::milliseconds(700));
    EXPECT_EQ(Config{}.embed.query_timeout, std::chrono::milliseconds(2000));
    EXPECT_TRUE(config->embed.send_dimensions);
    const std::string printed = print_config(*config);
    EXPECT_NE(printed.find("query_prefix = \"search_query: \""), std::string::npos) << printed;
}

}  // namespace
}  // namespace ragd::core
