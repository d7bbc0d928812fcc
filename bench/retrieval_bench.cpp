// Query latency of QueryService::search over the pgdocs BEIR queries, per retrieval mode, with
// p50/p95 alongside Google Benchmark's mean. The corpus is ingested once into a scratch data dir.
// `bm25_index/*` times the in-memory BM25 index alone, with and without pruning by term bounds
// (two indexes over the same chunks, same process: their ratio is what to compare).
//
// Usage: retrieval_bench [--pgdocs=DIR] [--top_k=N] [benchmark flags...]; RAGD_PGDOCS also sets
// DIR (the flag wins), default RAGD_DEFAULT_PGDOCS (shared/data/pgdocs beside the source root).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <stdlib.h>

#include "eval/beir.hpp"
#include "pipeline/engine.hpp"
#include "retrieval/memory_bm25_index.hpp"

namespace {
namespace fs = std::filesystem;
using ragd::pipeline::RetrievalMode;

struct BenchState {
    std::string data_dir;
    std::unique_ptr<ragd::pipeline::Engine> engine;
    std::unique_ptr<ragd::retrieval::Bm25Index> bm25_pruned;
    std::unique_ptr<ragd::retrieval::Bm25Index> bm25_exhaustive;
    std::vector<std::string> queries;
    std::size_t top_k = 10;
};

BenchState& state() {
    static BenchState instance;
    return instance;
}

double percentile(std::vector<double> values, double fraction) {
    if (values.empty()) {
        return 0;
    }
    std::sort(values.begin(), values.end());
    auto rank = static_cast<std::size_t>(fraction * static_cast<double>(values.size() - 1) + 0.5);
    return values[std::min(rank, values.size() - 1)];
}

double ms_since(std::chrono::steady_clock::time_point started) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
        .count();
}

void set_latency_counters(benchmark::State& bench, const std::vector<double>& latencies_ms) {
    bench.counters["p50_ms"] = percentile(latencies_ms, 0.50);
    bench.counters["p95_ms"] = percentile(latencies_ms, 0.95);
    bench.counters["p99_ms"] = percentile(latencies_ms, 0.99);
}

// One search per iteration, cycling through the queries. Latencies are also collected here
// because Google Benchmark reports only means; p50/p95 are what a service level is stated in.
void bm_search(benchmark::State& bench, RetrievalMode mode) {
    const auto& query_service = state().engine->query();
    ragd::pipeline::QueryOptions options;
    options.mode = mode;
    options.top_k = state().top_k;
    const auto& queries = state().queries;
    std::vector<double> latencies_ms;
    latencies_ms.reserve(static_cast<std::size_t>(bench.max_iterations));
    std::size_t query_idx = 0;
    std::size_t hits = 0;
    for (auto _ : bench) {
        const std::string& query = queries[query_idx++ % queries.size()];
        auto started = std::chrono::steady_clock::now();
        auto outcome = query_service.search(query, options);
        latencies_ms.push_back(ms_since(started));
        if (!outcome) {
            bench.SkipWithError(("search failed: " + outcome.error().detail).c_str());
            break;
        }
        hits += outcome->hits.size();
        benchmark::DoNotOptimize(outcome->hits.data());
    }
    set_latency_counters(bench, latencies_ms);
    bench.counters["hits_per_query"] =
        latencies_ms.empty() ? 0
                             : static_cast<double>(hits) / static_cast<double>(latencies_ms.size());
    bench.counters["qps"] =
        benchmark::Counter(static_cast<double>(latencies_ms.size()), benchmark::Counter::kIsRate);
}

/// The BM25 index alone: `candidates` hits per query, as the hybrid asks of it.
void bm_bm25_index(benchmark::State& bench, const ragd::retrieval::Bm25Index* index) {
    const auto& queries = state().queries;
    const std::size_t k = state().engine->config().retrieval.candidates;
    const std::uint64_t pruned_before = ragd::retrieval::memory_bm25_pruned_searches();
    std::vector<double> latencies_ms;
    latencies_ms.reserve(static_cast<std::size_t>(bench.max_iterations));
    std::size_t query_idx = 0;
    for (auto _ : bench) {
        const std::string& query = queries[query_idx++ % queries.size()];
        auto started = std::chrono::steady_clock::now();
        auto hits = index->search(query, k);
        latencies_ms.push_back(ms_since(started));
        if (!hits) {
            bench.SkipWithError(("search failed: " + hits.error().detail).c_str());
            break;
        }
        benchmark::DoNotOptimize(hits->data());
    }
    set_latency_counters(bench, latencies_ms);
    bench.counters["pruned_pct"] =
        latencies_ms.empty()
            ? 0
            : 100.0 *
                  static_cast<double>(ragd::retrieval::memory_bm25_pruned_searches() -
                                      pruned_before) /
                  static_cast<double>(latencies_ms.size());
}

/// Two memory BM25 indexes over the chunks the engine stored, pruning on and off.
int open_bm25_pair() {
    for (bool prune : {true, false}) {
        ragd::retrieval::Bm25Options options;
        options.prune_by_bounds = prune;
        const std::string dir =
            (fs::path(state().data_dir) / (prune ? "bench-bm25-pruned" : "bench-bm25-exhaustive"))
                .string();
        auto index = ragd::retrieval::open_memory_bm25_index(dir, options, nullptr);
        if (!index) {
            std::fprintf(stderr, "retrieval_bench: %s\n", index.error().detail.c_str());
            return 1;
        }
        auto filled = state().engine->storage().for_each_chunk(
            "", [&](const ragd::storage::IndexableChunk& chunk) { (void)(*index)->add(chunk); });
        if (!filled || !(*index)->commit(1)) {
            std::fprintf(stderr, "retrieval_bench: could not fill a BM25 index\n");
            return 1;
        }
        (prune ? state().bm25_pruned : state().bm25_exhaustive) = std::move(*index);
    }
    return 0;
}

int setup(const std::string& pgdocs) {
    const fs::path beir(pgdocs);
    auto queries = ragd::eval::load_queries((beir / "queries.jsonl").string());
    if (!queries) {
        std::fprintf(stderr,
                     "retrieval_bench: %s (set RAGD_PGDOCS or --pgdocs=DIR)\n",
                     queries.error().detail.c_str());
        return 1;
    }
    for (auto& query : *queries) {
        state().queries.push_back(std::move(query.text));
    }

    std::string pattern = (fs::temp_directory_path() / "ragd-bench-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
        std::perror("retrieval_bench: mkdtemp");
        return 1;
    }
    state().data_dir = pattern;
    ragd::core::Config config;
    config.storage.data_dir = pattern;
    // The config keys this benchmark compares; everything else stays at its default.
    if (const char* backend = std::getenv("RAGD_RETRIEVAL_BM25_BACKEND"); backend != nullptr) {
        config.retrieval.bm25_backend = backend;
    }
    if (const char* bytes = std::getenv("RAGD_STORAGE_PASSAGE_CACHE_BYTES"); bytes != nullptr) {
        config.storage.passage_cache_bytes = std::stoul(bytes);
    }
    std::fprintf(stderr,
                 "retrieval_bench: BM25 backend %s, passage cache %zu bytes\n",
                 config.retrieval.bm25_backend.c_str(),
                 config.storage.passage_cache_bytes);
    auto engine = ragd::pipeline::Engine::open(config);
    if (!engine) {
        std::fprintf(stderr, "retrieval_bench: %s\n", engine.error().detail.c_str());
        return 1;
    }
    state().engine = std::move(*engine);

    auto started = std::chrono::steady_clock::now();
    std::size_t documents = 0;
    std::uint64_t bytes = 0;
    auto ingested = ragd::eval::for_each_corpus_document(
        (beir / "corpus.jsonl").string(),
        [&](ragd::eval::BeirDocument&& doc) -> ragd::core::Result<void> {
            ragd::pipeline::IngestRequest request;
            request.id = doc.id;
            request.source = doc.id;
            request.title = doc.title;
            bytes += doc.text.size();
            request.content = std::move(doc.text);
            auto result = state().engine->ingest().ingest(std::move(request), false);
            if (!result) {
                return result.error();
            }
            ++documents;
            return {};
        });
    if (!ingested) {
        std::fprintf(stderr, "retrieval_bench: ingest: %s\n", ingested.error().detail.c_str());
        return 1;
    }
    if (auto caught_up = state().engine->maintainer().catch_up(); !caught_up) {
        std::fprintf(stderr, "retrieval_bench: catch-up: %s\n", caught_up.error().detail.c_str());
        return 1;
    }
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    auto stats = state().engine->index_stats();
    std::fprintf(
        stderr,
        "retrieval_bench: ingested %zu documents (%.1f MB) from %s in %.2f s: %zu vectors, "
        "%zu bm25 chunks; %zu queries, top_k %zu\n",
        documents,
        static_cast<double>(bytes) / 1e6,
        pgdocs.c_str(),
        seconds,
        stats.vectors,
        stats.bm25_chunks,
        state().queries.size(),
        state().top_k);
    return open_bm25_pair();
}

}  // namespace

int main(int argc, char** argv) {
    std::string pgdocs = RAGD_DEFAULT_PGDOCS;
    if (const char* env = std::getenv("RAGD_PGDOCS"); env != nullptr && *env != '\0') {
        pgdocs = env;
    }
    // Our flags are taken out before Google Benchmark sees (and rejects) them.
    int kept = 1;
    for (int arg_idx = 1; arg_idx < argc; ++arg_idx) {
        std::string arg = argv[arg_idx];
        if (arg.rfind("--pgdocs=", 0) == 0) {
            pgdocs = arg.substr(std::strlen("--pgdocs="));
        } else if (arg.rfind("--top_k=", 0) == 0) {
            state().top_k = std::stoul(arg.substr(std::strlen("--top_k=")));
        } else {
            argv[kept++] = argv[arg_idx];
        }
    }
    argc = kept;
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        return 1;
    }
    int rc = setup(pgdocs);
    if (rc == 0) {
        // Two passes over the query set per mode, so every percentile covers every query.
        auto iterations = static_cast<benchmark::IterationCount>(2 * state().queries.size());
        struct Mode {
            const char* name;
            RetrievalMode mode;
        };
        for (Mode mode : {Mode{"search/hybrid", RetrievalMode::kHybrid},
                          Mode{"search/vector", RetrievalMode::kVector},
                          Mode{"search/bm25", RetrievalMode::kBm25}}) {
            benchmark::RegisterBenchmark(mode.name, bm_search, mode.mode)
                ->Iterations(iterations)
                ->Unit(benchmark::kMicrosecond)
                ->UseRealTime();
        }
        for (const auto* index : {state().bm25_pruned.get(), state().bm25_exhaustive.get()}) {
            benchmark::RegisterBenchmark(
                index == state().bm25_pruned.get() ? "bm25_index/pruned" : "bm25_index/exhaustive",
                bm_bm25_index,
                index)
                ->Iterations(iterations)
                ->Unit(benchmark::kMicrosecond)
                ->UseRealTime();
        }
        benchmark::RunSpecifiedBenchmarks();
    }
    benchmark::Shutdown();
    state().bm25_pruned.reset();
    state().bm25_exhaustive.reset();
    state().engine.reset();  // flush and unlock before the directory goes
    if (!state().data_dir.empty()) {
        std::error_code ec;
        fs::remove_all(state().data_dir, ec);
    }
    return rc;
}
