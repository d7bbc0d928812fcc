#include "cli/commands.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <stdlib.h>

#include "api/auth.hpp"
#include "api/rate_limit_store.hpp"
#include "api/readiness.hpp"
#include "api/response_encoding.hpp"
#include "api/routes.hpp"
#include "api/server_metrics.hpp"
#include "core/log.hpp"
#include "core/serial_background_task.hpp"
#include "embed/http_embedder.hpp"
#include "eval/beir.hpp"
#include "eval/metrics.hpp"
#include "http/server.hpp"
#include "llm/answerer.hpp"
#include "llm/reranker.hpp"
#include "metrics/access_log.hpp"
#include "metrics/logger.hpp"
#include "pipeline/consistency_check.hpp"
#include "pipeline/engine.hpp"

namespace ragd::cli {
namespace fs = std::filesystem;
namespace {

std::unique_ptr<pipeline::Engine> open_engine(const core::Config& config) {
    std::string notes;
    auto engine = pipeline::Engine::open(config, &notes);
    if (!notes.empty()) {
        std::cerr << notes;
    }
    if (!engine) {
        std::cerr << "ragd: " << engine.error().detail << "\n";
        return nullptr;
    }
    return std::move(*engine);
}

std::string one_line(std::string text, std::size_t max_chars) {
    for (char& c : text) {
        if (c == '\n' || c == '\r' || c == '\t') {
            c = ' ';
        }
    }
    if (text.size() > max_chars) {
        std::size_t cut = max_chars;
        while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) {
            --cut;  // keep UTF-8 sequences whole
        }
        text = text.substr(0, cut) + "…";
    }
    return text;
}

void print_hits(const std::vector<pipeline::SourceHit>& hits) {
    for (const auto& hit : hits) {
        std::string where =
            hit.chunk.source.empty() ? hit.chunk.chunk.document_id : hit.chunk.source;
        std::string heading;
        for (const auto& h : hit.chunk.chunk.heading_path) {
            heading += (heading.empty() ? "" : " › ") + h;
        }
        std::printf("[%zu] %s%s%s  (score %.4f)\n    %s\n",
                    hit.number,
                    where.c_str(),
                    heading.empty() ? "" : " — ",
                    heading.c_str(),
                    hit.score,
                    one_line(hit.chunk.chunk.text, 200).c_str());
    }
}

pipeline::QueryOptions query_options(const core::Config& config, std::size_t top_k) {
    pipeline::QueryOptions options;
    options.top_k = top_k == 0 ? config.retrieval.top_k : top_k;
    return options;
}

}  // namespace

int run_serve(const core::Config& config) {
    // Before anything else: a server that would be reachable without authentication by
    // accident does not start at all.
    auto auth_on = api::auth_required(config);
    if (!auth_on) {
        std::cerr << "ragd: " << auth_on.error().detail << "\n";
        return 1;
    }
    auto engine = open_engine(config);
    if (!engine) {
        return 1;
    }
    if (config.storage.backend == "postgres") {
        // Other replicas write to the same database; only the change log tells this one.
        engine->follow_changes();
    }
    // Declared before the server: connections it ends while being destroyed still report.
    auto logger = metrics::log_options(config.log);
    if (!logger) {
        std::cerr << "ragd: " << logger.error().detail << "\n";
        return 1;
    }
    auto opened_logger = metrics::Logger::open(*logger);
    if (!opened_logger) {
        std::cerr << "ragd: " << opened_logger.error().detail << "\n";
        return 1;
    }
    std::unique_ptr<metrics::Logger> log_sink = std::move(*opened_logger);
    core::set_logger(log_sink.get());
    metrics::AccessLog access_log(*log_sink);
    metrics::Metrics metrics;
    metrics.set_log_dropped_source([sink = log_sink.get()] { return sink->dropped_lines(); });
    // server.metrics = false leaves every metrics pointer null: nothing is recorded and
    // GET /metrics is not routed (the cost of metrics, measured in bench/README.md).
    metrics::Metrics* live_metrics = config.server.metrics ? &metrics : nullptr;
    api::ServerMetrics server_metrics(live_metrics, &access_log);
    api::ReadinessRegistry readiness;
    api::UpstreamMetricsObserver upstream_metrics(metrics);
    http::Server server(config.server, http::Router{});
    // After the server, so destroyed first: the LLM clients' sockets and timers belong to the
    // server's io_context and must go while it exists. Server::run() returns only once every
    // request frame has ended, so nothing still uses them.
    // The LLM clients run on the server's io_context, so the routes are made once it exists.
    auto created = llm::Answerer::create(server.io_context().get_executor(),
                                         config.llm,
                                         config.server.metrics ? &upstream_metrics : nullptr);
    if (!created) {
        std::cerr << "ragd: " << created.error().detail << "\n";
        return 1;
    }
    std::unique_ptr<llm::Answerer> answerer = std::move(*created);
    std::unique_ptr<llm::Reranker> reranker;  // on the server's io_context, like the answerer
    if (!config.rerank.provider.empty()) {
        auto made = llm::Reranker::create(
            server.io_context().get_executor(), config.rerank, config.llm.ca_file);
        if (!made) {
            std::cerr << "ragd: " << made.error().detail << "\n";
            return 1;
        }
        reranker = std::move(*made);
        api::add_reranker_check(readiness, *reranker);
    }
    cache::AnswerCacheOptions cache_options;
    cache_options.l1_max_bytes = config.cache.l1_max_bytes;
    cache_options.l1_shards = config.cache.l1_shards;
    cache_options.ttl = config.cache.ttl;
    cache_options.redis_url = config.cache.redis_url;
    cache_options.redis_ca_file = config.cache.redis_ca_file;
    cache_options.redis_tls_verify = config.cache.redis_tls_verify;
    cache_options.redis_prefix = config.cache.redis_prefix;
    cache_options.redis_max_connections = config.cache.redis_max_connections;
    cache_options.redis_command_timeout = config.cache.redis_command_timeout;
    cache_options.redis_connect_timeout = config.cache.redis_connect_timeout;
    cache_options.redis_down_backoff = config.cache.redis_down_backoff;
    cache_options.semantic_enabled = config.cache.semantic_enabled;
    cache_options.semantic_threshold = static_cast<float>(config.cache.semantic_threshold);
    cache_options.semantic_max_entries = config.cache.semantic_max_entries;
    auto answer_cache =
        cache::AnswerCache::create(cache_options, server.io_context().get_executor());
    if (!answer_cache) {
        std::cerr << "ragd: cache: " << answer_cache.error().detail << "\n";
        return 1;
    }
    cache::AnswerCache& answers = **answer_cache;
    api::add_cache_checks(readiness, answers);
    metrics.add_sampled_source([&answers] { return api::cache_families(answers.stats()); });
    metrics.add_sampled_source(
        [&engine] { return api::passage_cache_families(engine->passage_cache_stats()); });
    metrics.add_scrape_hook(
        [&upstream_metrics, &answerer] { upstream_metrics.refresh(*answerer); });
    api::add_upstream_checks(readiness, *answerer);
    if (const embed::HttpEmbedder* remote = engine->embedder().remote()) {
        api::add_embedder_check(readiness, *remote);
    }
    // After the server, so its Redis client goes before the io_context does.
    auto rate_limits = api::make_rate_limit_store(config, server.io_context().get_executor());
    if (!rate_limits) {
        std::cerr << "ragd: " << rate_limits.error().detail << "\n";
        return 1;
    }
    api::add_rate_limit_checks(readiness, *rate_limits);
    metrics.add_sampled_source(
        [store = &*rate_limits] { return api::rate_limit_families(*store); });
    http::Router router;
    api::register_routes(router,
                         *engine,
                         config,
                         live_metrics,
                         &readiness,
                         answerer.get(),
                         &answers,
                         api::make_authenticator(config, rate_limits->factory),
                         reranker.get());
    server.set_router(std::move(router));
    if (live_metrics != nullptr || access_log.enabled()) {
        server.set_observer(&server_metrics);
    }
    server.set_drain_listener([&readiness] { readiness.set_draining(); });
    if (auto listening = server.listen(); !listening) {
        std::cerr << "ragd: " << listening.error().detail << "\n";
        return 1;
    }
    std::printf("listening on %s\n", server.local_endpoint().c_str());
    std::fflush(stdout);
    server.run();
    // The io_context still exists (it goes with the server): close pooled upstream sockets now.
    answerer->close_idle();
    if (reranker) {
        reranker->close_idle();
    }
    std::cerr << "ragd: stopped\n";
    return 0;
}

int run_ingest(core::Config config, const std::vector<std::string>& paths) {
    // One fsync per file would bound ingest at a few hundred files/s; commits are process-crash
    // safe without it, and closing the database at the end checkpoints the WAL to disk.
    config.storage.durable_commits = false;
    auto engine = open_engine(config);
    if (!engine) {
        return 1;
    }
    auto started = std::chrono::steady_clock::now();
    std::size_t created = 0, replaced = 0, unchanged = 0, chunks = 0;
    auto report = engine->ingest().ingest_paths(paths, [&](const pipeline::IngestResult& result) {
        switch (result.status) {
            case storage::UpsertStatus::kCreated:
                ++created;
                break;
            case storage::UpsertStatus::kReplaced:
                ++replaced;
                break;
            case storage::UpsertStatus::kUnchanged:
                ++unchanged;
                break;
        }
        chunks += result.chunks;
        std::printf("%-9s %s  %s  (%zu chunks)\n",
                    api::upsert_status_name(result.status),
                    result.id.c_str(),
                    result.source.c_str(),
                    result.chunks);
    });
    if (auto flushed = engine->maintainer().flush(); !flushed) {
        report.problems.push_back({"(indexes)", flushed.error().detail});
    }
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    for (const auto& problem : report.problems) {
        std::fprintf(stderr, "error: %s: %s\n", problem.path.c_str(), problem.reason.c_str());
    }
    std::printf(
        "ingested %zu files (%zu created, %zu replaced, %zu unchanged), %zu chunks, "
        "%.2f MB in %.2f s; %zu failed\n",
        report.results.size(),
        created,
        replaced,
        unchanged,
        chunks,
        static_cast<double>(report.bytes) / 1e6,
        seconds,
        report.problems.size());
    return report.problems.empty() ? 0 : 2;
}

int run_query(const core::Config& config, const std::string& text, std::size_t top_k, bool json) {
    auto engine = open_engine(config);
    if (!engine) {
        return 1;
    }
    auto outcome = engine->query().answer(text, query_options(config, top_k));
    if (!outcome) {
        std::cerr << "ragd: " << outcome.error().detail << "\n";
        return 1;
    }
    if (json) {
        std::cout << api::answer_json(*outcome) << "\n";
        return 0;
    }
    std::printf("%s\n\n(generator: %s)\nSources:\n",
                outcome->generation.text.c_str(),
                outcome->generation.generator.c_str());
    print_hits(outcome->sources);
    return 0;
}

int run_search(const core::Config& config, const std::string& text, std::size_t top_k, bool json) {
    auto engine = open_engine(config);
    if (!engine) {
        return 1;
    }
    auto outcome = engine->query().search(text, query_options(config, top_k));
    if (!outcome) {
        std::cerr << "ragd: " << outcome.error().detail << "\n";
        return 1;
    }
    if (json) {
        std::cout << api::search_json(*outcome) << "\n";
        return 0;
    }
    print_hits(outcome->hits);
    return 0;
}

int run_stats(const core::Config& config) {
    auto engine = open_engine(config);
    if (!engine) {
        return 1;
    }
    auto stats = engine->storage().stats();
    if (!stats) {
        std::cerr << "ragd: " << stats.error().detail << "\n";
        return 1;
    }
    auto index = engine->index_stats();
    boost::json::object out{{"documents", stats->documents},
                            {"chunks", stats->chunks},
                            {"embeddings", stats->embeddings},
                            {"storage_seq", stats->last_seq},
                            {"storage_bytes", stats->bytes},
                            {"embedder", engine->embedder().model_id()},
                            {"vectors", index.vectors},
                            {"bm25_chunks", index.bm25_chunks},
                            {"vectors_applied_seq", index.vectors_applied_seq},
                            {"bm25_applied_seq", index.bm25_applied_seq}};
    std::cout << boost::json::serialize(out) << "\n";
    return 0;
}

int run_delete(const core::Config& config, const std::string& id) {
    auto engine = open_engine(config);
    if (!engine) {
        return 1;
    }
    auto deleted = engine->ingest().remove(id);
    if (!deleted) {
        std::cerr << "ragd: " << deleted.error().detail << "\n";
        return 1;
    }
    if (!*deleted) {
        std::cerr << "ragd: no document with id '" << id << "'\n";
        return 1;
    }
    std::printf("deleted %s\n", id.c_str());
    return 0;
}

int run_eval(core::Config config, const EvalOptions& options) {
    pipeline::QueryOptions query_options;
    if (options.mode == "hybrid") {
        query_options.mode = pipeline::RetrievalMode::kHybrid;
    } else if (options.mode == "vector") {
        query_options.mode = pipeline::RetrievalMode::kVector;
    } else if (options.mode == "bm25") {
        query_options.mode = pipeline::RetrievalMode::kBm25;
    } else {
        std::cerr << "ragd: --mode must be hybrid, vector or bm25\n";
        return 1;
    }
    const fs::path beir(options.beir_dir);
    auto queries = eval::load_queries((beir / "queries.jsonl").string());
    if (!queries) {
        std::cerr << "ragd: " << queries.error().detail << "\n";
        return 1;
    }
    auto qrels = eval::load_qrels((beir / "qrels" / "test.tsv").string());
    if (!qrels) {
        std::cerr << "ragd: " << qrels.error().detail << "\n";
        return 1;
    }

    std::string scratch;
    if (!options.keep_data) {
        std::string pattern = (fs::temp_directory_path() / "ragd-eval-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) {
            std::cerr << "ragd: cannot create a scratch directory\n";
            return 1;
        }
        scratch = pattern;
        config.storage.data_dir = scratch;
        // A scratch evaluation never writes its corpus into a shared database that the
        // environment (RAGD_STORAGE_BACKEND) may point at.
        config.storage.backend = "sqlite";
    }
    struct ScratchCleanup {
        std::string dir;
        ~ScratchCleanup() {
            std::error_code ec;
            if (!dir.empty()) {
                fs::remove_all(dir, ec);
            }
        }
    } cleanup{scratch};

    // Rankings go to `depth` documents (100 by default); a document split into several chunks
    // counts at its best chunk, so fetch more chunks than documents.
    const std::size_t depth = options.depth;
    config.retrieval.max_top_k = std::max<std::size_t>(config.retrieval.max_top_k, 2 * depth);
    query_options.top_k = 2 * depth;
    config.retrieval.candidates = std::max(config.retrieval.candidates, 2 * depth);
    config.storage.durable_commits = false;  // a scratch copy of the corpus: speed over fsync

    int exit_code = 0;
    {
        auto engine = open_engine(config);
        if (!engine) {
            return 1;
        }
        auto started = std::chrono::steady_clock::now();
        std::size_t documents = 0;
        // Documents go to ingest_batch a thousand at a time (stored in groups, one transaction
        // each), and indexing each thousand overlaps with storing the next.
        core::SerialBackgroundTask catch_up(engine->maintainer().catch_up_task());
        std::vector<pipeline::IngestRequest> group;
        auto store_group = [&]() -> core::Result<void> {
            std::vector<std::string> ids;
            ids.reserve(group.size());
            for (const auto& request : group) {
                ids.push_back(request.id);
            }
            auto results = engine->ingest().ingest_batch(std::move(group));
            group.clear();
            for (std::size_t idx = 0; idx < results.size(); ++idx) {
                if (!results[idx]) {
                    return core::fail(results[idx].error().code,
                                      "document " + ids[idx] + ": " + results[idx].error().detail);
                }
            }
            documents += results.size();
            return catch_up.start();
        };
        auto ingested = eval::for_each_corpus_document(
            (beir / "corpus.jsonl").string(), [&](eval::BeirDocument&& doc) -> core::Result<void> {
                pipeline::IngestRequest request;
                request.id = doc.id;
                request.source = doc.id;
                request.title = doc.title;
                request.content = std::move(doc.text);
                group.push_back(std::move(request));
                if (group.size() >= 1000) {
                    return store_group();
                }
                return {};
            });
        if (ingested && !group.empty()) {
            ingested = store_group();
        }
        if (auto indexed = catch_up.wait(); ingested && !indexed) {
            ingested = indexed.error();
        }
        if (!ingested) {
            std::cerr << "ragd: " << ingested.error().detail << "\n";
            return 1;
        }
        if (auto caught_up = engine->maintainer().catch_up(); !caught_up) {
            std::cerr << "ragd: " << caught_up.error().detail << "\n";
            return 1;
        }
        double ingest_seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        std::fprintf(stderr, "indexed %zu documents in %.2f s\n", documents, ingest_seconds);

        eval::Run run;
        started = std::chrono::steady_clock::now();
        for (const auto& query : *queries) {
            auto outcome = engine->query().search(query.text, query_options);
            if (!outcome) {
                std::cerr << "ragd: query " << query.id << ": " << outcome.error().detail << "\n";
                exit_code = 1;
                continue;
            }
            std::vector<eval::RankedDocument> chunk_hits;
            for (const auto& hit : outcome->hits) {
                chunk_hits.push_back({hit.chunk.chunk.document_id, hit.score});
            }
            auto ranked = eval::collapse_to_documents(chunk_hits);
            if (ranked.size() > depth) {
                ranked.resize(depth);
            }
            run[query.id] = std::move(ranked);
        }
        double query_seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        double qps = query_seconds > 0 ? static_cast<double>(queries->size()) / query_seconds : 0;
        auto report = eval::evaluate(run, *qrels);
        std::cout << eval::format_report(report, qps, options.mode);
        if (!options.run_out.empty()) {
            std::ofstream out(options.run_out);
            eval::write_trec_run(out, run, "ragd-" + options.mode);
            if (!out) {
                std::cerr << "ragd: cannot write " << options.run_out << "\n";
                exit_code = 1;
            }
        }
    }
    return exit_code;
}

int run_check(const core::Config& config, const CheckCommandOptions& options) {
    const std::string& dir = config.storage.data_dir;
    // Engine::open would create an empty directory and call it consistent: a typo in --data
    // must fail instead.
    std::error_code ec;
    if (!fs::exists(fs::path(dir) / "ragd.sqlite", ec)) {
        std::cerr << "ragd check: " << dir << " is not a ragd data directory (no ragd.sqlite)\n";
        return kCheckUsageError;
    }
    std::string notes;
    pipeline::EngineOpenOptions open_options;
    open_options.catch_up = false;  // report the indexes as found; --repair fixes them
    auto engine = pipeline::Engine::open(config, &notes, open_options);
    if (!notes.empty()) {
        std::cerr << notes;
    }
    if (!engine) {
        // A running server holds the directory's lock: the message says so and names its pid.
        std::cerr << "ragd check: cannot open " << dir << ": " << engine.error().detail << "\n";
        return kCheckUsageError;
    }
    pipeline::CheckOptions check_options;
    check_options.full_integrity = !options.quick;
    pipeline::ConsistencyChecker checker(**engine, check_options);
    if (!options.repair) {
        auto report = checker.check();
        if (!report) {
            std::cerr << "ragd check: the check could not run: " << report.error().detail << "\n";
            return kCheckUsageError;
        }
        if (options.json) {
            std::cout << boost::json::serialize(pipeline::report_to_json(*report)) << "\n";
        } else {
            std::cout << pipeline::format_report(*report);
        }
        return report->consistent() ? kCheckConsistent : kCheckInconsistent;
    }
    auto outcome = checker.repair((*engine)->maintainer());
    if (!outcome) {
        std::cerr << "ragd check: repair failed: " << outcome.error().detail << "\n";
        return kCheckInconsistent;
    }
    if (options.json) {
        boost::json::object out = pipeline::report_to_json(outcome->after);
        boost::json::array actions;
        for (const auto& action : outcome->actions) {
            actions.emplace_back(action);
        }
        out["repair"] = boost::json::object{{"actions", std::move(actions)},
                                            {"before", pipeline::report_to_json(outcome->before)}};
        std::cout << boost::json::serialize(out) << "\n";
    } else if (outcome->actions.empty()) {
        std::cout << pipeline::format_report(outcome->after);
    } else {
        std::cout << "before repair:\n" << pipeline::format_report(outcome->before);
        for (const auto& action : outcome->actions) {
            std::cout << "repair: " << action << "\n";
        }
        std::cout << "after repair:\n" << pipeline::format_report(outcome->after);
    }
    return outcome->repaired() ? kCheckConsistent : kCheckInconsistent;
}

}  // namespace ragd::cli
