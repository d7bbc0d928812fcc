// ragd's entry point: parses the command line (CLI11), builds the effective config (file, then
// environment, then flags) and hands over to a subcommand in commands.cpp.
#include <CLI/CLI.hpp>

#include <iostream>
#include <map>
#include <optional>

#include "cli/commands.hpp"
#include "core/config_loader.hpp"

namespace {

struct CommonFlags {
    std::string config_file;
    std::string data_dir;
    std::vector<std::string> sets;  // --set section.key=value

    void add_to(CLI::App* app) {
        app->add_option("--config", config_file, "TOML config file")->check(CLI::ExistingFile);
        app->add_option("--data", data_dir, "data directory (storage.data_dir)");
        app->add_option("--set", sets, "override a config key: --set section.key=value");
    }
};

// Returns the config, or prints every problem and returns nullopt.
std::optional<ragd::core::Config> build_config(const CommonFlags& flags,
                                               std::map<std::string, std::string> overrides) {
    ragd::core::ConfigSources sources;
    sources.file = flags.config_file;
    for (const auto& set : flags.sets) {
        auto eq = set.find('=');
        if (eq == std::string::npos) {
            std::cerr << "ragd: --set expects section.key=value, got '" << set << "'\n";
            return std::nullopt;
        }
        sources.overrides[set.substr(0, eq)] = set.substr(eq + 1);
    }
    if (!flags.data_dir.empty()) {
        sources.overrides["storage.data_dir"] = flags.data_dir;
    }
    for (auto& [key, value] : overrides) {
        sources.overrides[key] = std::move(value);
    }
    auto config = ragd::core::load_config(sources);
    if (!config) {
        std::cerr << "ragd: " << config.error().detail << "\n";
        return std::nullopt;
    }
    return *config;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"ragd: a retrieval-augmented generation server"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "ragd 0.1.0");

    CommonFlags serve_flags;
    std::string listen;
    unsigned threads = 0;
    bool print_config = false;
    auto* serve = app.add_subcommand("serve", "serve the HTTP API");
    serve_flags.add_to(serve);
    serve->add_option("--listen", listen, "HOST:PORT to listen on (server.listen)");
    serve->add_option("--threads", threads, "I/O threads (server.threads)");
    serve->add_flag("--print-config", print_config, "print the effective config and exit");

    CommonFlags ingest_flags;
    std::vector<std::string> paths;
    auto* ingest = app.add_subcommand("ingest", "ingest files and folders (recursive)");
    ingest_flags.add_to(ingest);
    ingest->add_option("paths", paths, "files or folders")->required();

    CommonFlags query_flags;
    std::string query_text;
    std::size_t query_top_k = 0;
    bool query_json = false;
    auto* query = app.add_subcommand("query", "answer a question with cited sources");
    query_flags.add_to(query);
    query->add_option("text", query_text, "the question")->required();
    query->add_option("--top-k", query_top_k, "number of sources");
    query->add_flag("--json", query_json, "print the API's JSON");

    CommonFlags search_flags;
    std::string search_text;
    std::size_t search_top_k = 0;
    bool search_json = false;
    auto* search = app.add_subcommand("search", "hybrid search without answering");
    search_flags.add_to(search);
    search->add_option("text", search_text, "search text")->required();
    search->add_option("--top-k", search_top_k, "number of results");
    search->add_flag("--json", search_json, "print the API's JSON");

    CommonFlags stats_flags;
    auto* stats = app.add_subcommand("stats", "print storage and index counts as JSON");
    stats_flags.add_to(stats);

    CommonFlags delete_flags;
    std::string delete_id;
    auto* del = app.add_subcommand("delete", "delete a document by id");
    delete_flags.add_to(del);
    del->add_option("id", delete_id, "document id")->required();

    CommonFlags eval_flags;
    ragd::cli::EvalOptions eval_options;
    auto* eval = app.add_subcommand("eval", "score retrieval on a BEIR folder");
    eval_flags.add_to(eval);
    eval->add_option("beir_dir", eval_options.beir_dir, "BEIR folder")
        ->required()
        ->check(CLI::ExistingDirectory);
    eval->add_option("--mode", eval_options.mode, "hybrid, vector or bm25")
        ->check(CLI::IsMember({"hybrid", "vector", "bm25"}));
    eval->add_option("--run-out", eval_options.run_out, "write the ranking as a TREC run file");

    CLI11_PARSE(app, argc, argv);

    if (serve->parsed()) {
        std::map<std::string, std::string> overrides;
        if (!listen.empty()) {
            overrides["server.listen"] = listen;
        }
        if (serve->count("--threads") > 0) {
            overrides["server.threads"] = std::to_string(threads);
        }
        auto config = build_config(serve_flags, overrides);
        if (!config) {
            return 1;
        }
        if (print_config) {
            std::cout << ragd::core::print_config(*config);
            return 0;
        }
        return ragd::cli::run_serve(*config);
    }
    if (ingest->parsed()) {
        auto config = build_config(ingest_flags, {});
        return config ? ragd::cli::run_ingest(*config, paths) : 1;
    }
    if (query->parsed()) {
        auto config = build_config(query_flags, {});
        return config ? ragd::cli::run_query(*config, query_text, query_top_k, query_json) : 1;
    }
    if (search->parsed()) {
        auto config = build_config(search_flags, {});
        return config ? ragd::cli::run_search(*config, search_text, search_top_k, search_json) : 1;
    }
    if (stats->parsed()) {
        auto config = build_config(stats_flags, {});
        return config ? ragd::cli::run_stats(*config) : 1;
    }
    if (del->parsed()) {
        auto config = build_config(delete_flags, {});
        return config ? ragd::cli::run_delete(*config, delete_id) : 1;
    }
    if (eval->parsed()) {
        eval_options.keep_data = !eval_flags.data_dir.empty();
        auto config = build_config(eval_flags, {});
        return config ? ragd::cli::run_eval(*config, eval_options) : 1;
    }
    return 1;
}
