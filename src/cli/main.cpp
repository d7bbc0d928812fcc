// ragd's entry point: parses the command line (CLI11), builds the effective config (file, then
// environment, then flags) and hands over to a subcommand in commands.cpp.
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>

#include <CLI/CLI.hpp>

#include "cli/bulk_memory.hpp"
#include "cli/commands.hpp"
#include "cli/keys_command.hpp"
#include "core/config_loader.hpp"
#include "loadgen/bench_command.hpp"
#include "mock/mock_server.hpp"

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

// `ragd bench` takes every value as typed; loadgen::parse_bench_args validates them.
void add_bench_options(CLI::App* bench, ragd::loadgen::BenchArgs& args) {
    bench->add_option("--url", args.url, "target, e.g. http://127.0.0.1:8080/v1/query")->required();
    bench->add_option("--users", args.users, "concurrent users (open loop: connection cap)");
    bench->add_option("--sweep", args.sweep, "users per level, e.g. 100,500,1000");
    bench->add_option("--duration", args.duration, "measured time per level (default 30s)");
    bench->add_option("--ramp-up", args.ramp_up, "unmeasured start-up (default 1ms/user, <=5s)");
    bench->add_option("--think-time", args.think_time, "closed loop pause between requests");
    bench->add_option("--rate", args.rate, "open loop: arrivals per second (a list sweeps)");
    bench->add_option("--queries", args.queries_file, "query file, one per line");
    bench->add_option("--repeat-fraction", args.repeat_fraction, "share of repeated queries");
    bench->add_option("--body-template", args.body_template, "body; {query} is substituted");
    bench->add_option("--method", args.method, "HTTP method (default POST with a body)");
    bench->add_option("--header", args.headers, "extra header 'Name: value' (repeatable)")
        ->allow_extra_args(false);
    bench->add_flag("--stream", args.stream, "expect SSE; record time to the first event");
    bench->add_option("--timeout", args.timeout, "per request (default 30s)");
    bench->add_option("--json", args.json_path, "write every level as JSON");
    bench->add_option("--html", args.html_path, "write a self-contained HTML report");
    bench->add_option("--min-success", args.min_success, "sweep stops below this % (95)");
    bench->add_option("--threads", args.threads, "I/O threads (default 1, 2 on 4+ cores)");
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

    CommonFlags check_flags;
    ragd::cli::CheckCommandOptions check_options;
    auto* check = app.add_subcommand("check", "verify storage and indexes agree (exit 0/1/2)");
    check_flags.add_to(check);
    check->add_flag("--repair", check_options.repair, "rebuild indexes that disagree, recheck");
    check->add_flag("--json", check_options.json, "print the report as JSON");
    check->add_flag("--quick", check_options.quick, "SQLite quick_check, not integrity_check");

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
    eval->add_option("--depth",
                     eval_options.depth,
                     "documents ranked per query (default 100; 10 to tune for top_k 10)")
        ->check(CLI::Range(10, 1000));

    ragd::mock::MockLlmOptions mock_options;
    std::string mock_error_kinds = "500,429";
    bool mock_verify_sigv4 = false;
    auto* mock =
        app.add_subcommand("mock-llm", "fake OpenAI/Anthropic/Bedrock LLM server for tests");
    mock->add_option("--listen", mock_options.listen, "HOST:PORT (port 0 picks a free port)");
    mock->add_option("--latency-ms", mock_options.latency_ms, "time to first token, ms");
    mock->add_option("--tokens-per-second", mock_options.tokens_per_second, "0: all at once");
    mock->add_option("--error-rate", mock_options.error_rate, "fraction of failed requests, 0..1");
    mock->add_option("--error-kinds", mock_error_kinds, "comma list of 500,429,reset,stall");
    mock->add_option("--threads", mock_options.threads, "I/O threads (0: one per core)");
    mock->add_option("--seed", mock_options.seed, "seeds the text and the error sequence");
    mock->add_option("--output-tokens", mock_options.output_tokens, "words per answer");
    mock->add_flag("--verify-sigv4",
                   mock_verify_sigv4,
                   "check Bedrock SigV4 signatures with AWS_SECRET_ACCESS_KEY");

    ragd::loadgen::BenchArgs bench_args;
    auto* bench = app.add_subcommand("bench", "load-test a running server and report latency");
    add_bench_options(bench, bench_args);

    ragd::cli::KeyCreateOptions key_options;
    auto* keys = app.add_subcommand("keys", "manage API keys");
    keys->require_subcommand(1);
    auto* keys_create =
        keys->add_subcommand("create", "print a new API key and its [[auth.keys]] table");
    keys_create->add_option("--name", key_options.name, "name shown in logs")->required();
    keys_create->add_option("--scopes", key_options.scopes, "query,ingest,admin (default query)");
    keys_create->add_option("--tenant", key_options.tenant, "same as --filter tenant=VALUE");
    keys_create->add_option("--filter", key_options.filters, "KEY=VALUE forced on all data")
        ->allow_extra_args(false);
    keys_create->add_option("--collections", key_options.collections, "a,b (default all)");
    keys_create->add_option("--requests-per-second", key_options.requests_per_second, "0: none");
    keys_create->add_option("--burst", key_options.burst, "bucket size (default max(1, rps))");
    keys_create->add_option("--tokens-per-minute", key_options.tokens_per_minute, "0: none");
    keys_create->add_option("--daily-tokens", key_options.daily_tokens, "0: none");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int code = app.exit(e);
        // `ragd check` promises 0/1 to scripts for consistent/inconsistent: usage errors are 2.
        return code != 0 && check->parsed() ? ragd::cli::kCheckUsageError : code;
    }

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
        ragd::cli::reexec_with_bulk_malloc_tunables(argv);
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
    if (check->parsed()) {
        auto config = build_config(check_flags, {});
        return config ? ragd::cli::run_check(*config, check_options) : ragd::cli::kCheckUsageError;
    }
    if (del->parsed()) {
        auto config = build_config(delete_flags, {});
        return config ? ragd::cli::run_delete(*config, delete_id) : 1;
    }
    if (eval->parsed()) {
        ragd::cli::reexec_with_bulk_malloc_tunables(argv);
        eval_options.keep_data = !eval_flags.data_dir.empty();
        auto config = build_config(eval_flags, {});
        return config ? ragd::cli::run_eval(*config, eval_options) : 1;
    }
    if (mock->parsed()) {
        auto kinds = ragd::mock::parse_error_kinds(mock_error_kinds);
        if (!kinds) {
            std::cerr << "ragd mock-llm: --error-kinds: " << kinds.error().detail << "\n";
            return 1;
        }
        mock_options.error_kinds = std::move(*kinds);
        if (mock_verify_sigv4) {
            const char* secret = std::getenv("AWS_SECRET_ACCESS_KEY");
            if (secret == nullptr || *secret == '\0') {
                std::cerr << "ragd mock-llm: --verify-sigv4 needs AWS_SECRET_ACCESS_KEY\n";
                return 1;
            }
            mock_options.aws_secret_access_key = secret;
        }
        return ragd::mock::run_mock_llm(mock_options);
    }
    if (bench->parsed()) {
        return ragd::loadgen::run_bench(bench_args);
    }
    if (keys_create->parsed()) {
        return ragd::cli::run_keys_create(key_options);
    }
    return 1;
}
