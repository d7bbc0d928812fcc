#include "core/config_loader.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

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
    auto file = write_temp("ragd_cfg_bad.toml",
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

}  // namespace
}  // namespace ragd::core
