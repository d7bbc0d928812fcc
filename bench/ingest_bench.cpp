// Ingest throughput (MB/s of Markdown) through IngestService, and the same corpus through parse,
// +chunk, +embed and +store (no indexes) alone, and each index alone, so the differences show
// where the time goes. The corpus is generated deterministically (fixed seed), ~20 MB unless
// --corpus_mb=N says. --write_corpus=DIR writes it as Markdown files instead (doc_NNNNN.md), so
// that `ragd ingest DIR` can be timed on the same text.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <benchmark/benchmark.h>
#include <stdlib.h>

#include "cli/bulk_memory.hpp"
#include "embed/lexical_embedder.hpp"
#include "ingest/chunker.hpp"
#include "ingest/parser.hpp"
#include "pipeline/engine.hpp"
#include "retrieval/bm25_index.hpp"
#include "retrieval/memory_bm25_index.hpp"
#include "retrieval/vector_index.hpp"
#include "storage/storage.hpp"

namespace {
namespace fs = std::filesystem;

struct Corpus {
    std::vector<std::string> documents;
    std::uint64_t bytes = 0;
};

Corpus& corpus() {
    static Corpus instance;
    return instance;
}

// Markdown shaped like technical docs: a title, nested sections, paragraphs, lists and code
// blocks, 1–12 KB per document, from a Zipf-ish vocabulary so BM25 sees realistic frequencies.
void generate_corpus(std::uint64_t target_bytes) {
    std::mt19937_64 rng(20240601);
    const char* letters = "abcdefghijklmnopqrstuvwxyz";
    std::vector<std::string> vocab;
    for (int word_idx = 0; word_idx < 20000; ++word_idx) {
        std::string word;
        auto length = 2 + rng() % 10;
        for (std::size_t letter_idx = 0; letter_idx < length; ++letter_idx) {
            word += letters[rng() % 26];
        }
        vocab.push_back(std::move(word));
    }
    auto word = [&]() -> const std::string& {
        // Squaring a uniform variate favours low indices: a few frequent words, a long tail.
        double u = std::uniform_real_distribution<double>(0, 1)(rng);
        return vocab[static_cast<std::size_t>(u * u * static_cast<double>(vocab.size() - 1))];
    };
    auto words = [&](std::size_t count) {
        std::string out;
        for (std::size_t word_idx = 0; word_idx < count; ++word_idx) {
            out += (word_idx == 0 ? "" : " ") + word();
        }
        return out;
    };
    Corpus& out = corpus();
    while (out.bytes < target_bytes) {
        std::string doc = "# " + words(4) + "\n\n" + words(30) + ".\n\n";
        std::size_t target = 1024 + rng() % (11 * 1024);
        for (int section = 1; doc.size() < target; ++section) {
            doc += (rng() % 3 == 0 ? "### " : "## ") + words(3) + "\n\n";
            for (auto block = 1 + rng() % 3; block > 0; --block) {
                switch (rng() % 6) {
                    case 0:
                        for (auto item = 2 + rng() % 4; item > 0; --item) {
                            doc += "- " + words(4 + rng() % 8) + "\n";
                        }
                        doc += "\n";
                        break;
                    case 1:
                        doc += "```sql\nSELECT " + words(3) + " FROM " + word() + ";\n```\n\n";
                        break;
                    default:
                        doc += words(30 + rng() % 90) + ".\n\n";
                }
            }
        }
        out.bytes += doc.size();
        out.documents.push_back(std::move(doc));
    }
}

void set_throughput(benchmark::State& bench) {
    bench.SetBytesProcessed(static_cast<std::int64_t>(bench.iterations() * corpus().bytes));
    bench.counters["documents"] = static_cast<double>(corpus().documents.size());
}

void bm_parse(benchmark::State& bench) {
    for (auto _ : bench) {
        for (const auto& doc : corpus().documents) {
            auto parsed =
                ragd::ingest::parse_document(doc, ragd::ingest::DocumentFormat::kMarkdown);
            benchmark::DoNotOptimize(parsed);
        }
    }
    set_throughput(bench);
}

void bm_parse_chunk(benchmark::State& bench) {
    ragd::ingest::ChunkerOptions options;
    std::size_t chunks = 0;
    for (auto _ : bench) {
        chunks = 0;
        for (const auto& doc : corpus().documents) {
            auto parsed =
                ragd::ingest::parse_document(doc, ragd::ingest::DocumentFormat::kMarkdown);
            if (!parsed) {
                bench.SkipWithError(parsed.error().detail.c_str());
                return;
            }
            auto drafts = ragd::ingest::chunk_document(*parsed, options);
            chunks += drafts.size();
            benchmark::DoNotOptimize(drafts.data());
        }
    }
    set_throughput(bench);
    bench.counters["chunks"] = static_cast<double>(chunks);
}

// What IngestService::ingest does before it touches storage: parse, chunk, compose, embed.
void bm_parse_chunk_embed(benchmark::State& bench) {
    ragd::core::Config config;
    auto embedder = ragd::embed::make_lexical_embedder(config.embed.dimensions);
    ragd::ingest::ChunkerOptions options{config.ingest.chunk_tokens, config.ingest.chunk_overlap};
    for (auto _ : bench) {
        for (const auto& doc : corpus().documents) {
            auto parsed =
                ragd::ingest::parse_document(doc, ragd::ingest::DocumentFormat::kMarkdown);
            if (!parsed) {
                bench.SkipWithError(parsed.error().detail.c_str());
                return;
            }
            auto drafts = ragd::ingest::chunk_document(*parsed, options);
            std::vector<std::string> texts;
            texts.reserve(drafts.size());
            for (const auto& draft : drafts) {
                texts.push_back(ragd::embed::compose_embedding_text(
                    parsed->title, draft.heading_path, draft.text));
            }
            std::vector<std::string_view> views(texts.begin(), texts.end());
            auto vectors = embedder->embed(views, ragd::embed::EmbedKind::kDocument);
            if (!vectors) {
                bench.SkipWithError(vectors.error().detail.c_str());
                return;
            }
            benchmark::DoNotOptimize(vectors->data());
        }
    }
    set_throughput(bench);
}

// Everything but the indexes: the above plus one SQLite transaction per document into an empty
// database. ingest_service minus this = the cost of the indexes.
void bm_parse_chunk_embed_store(benchmark::State& bench, bool durable_commits) {
    ragd::core::Config config;
    auto embedder = ragd::embed::make_lexical_embedder(config.embed.dimensions);
    ragd::ingest::ChunkerOptions options{config.ingest.chunk_tokens, config.ingest.chunk_overlap};
    for (auto _ : bench) {
        bench.PauseTiming();
        std::string dir = (fs::temp_directory_path() / "ragd-store-bench-XXXXXX").string();
        if (::mkdtemp(dir.data()) == nullptr) {
            bench.SkipWithError("mkdtemp failed");
            return;
        }
        ragd::storage::SqliteOptions storage_options;
        storage_options.durable_commits = durable_commits;
        auto storage = ragd::storage::open_sqlite_storage(dir, storage_options);
        if (!storage) {
            bench.SkipWithError(storage.error().detail.c_str());
            return;
        }
        bench.ResumeTiming();
        std::size_t doc_idx = 0;
        for (const auto& doc : corpus().documents) {
            auto parsed =
                ragd::ingest::parse_document(doc, ragd::ingest::DocumentFormat::kMarkdown);
            if (!parsed) {
                bench.SkipWithError(parsed.error().detail.c_str());
                return;
            }
            auto drafts = ragd::ingest::chunk_document(*parsed, options);
            std::vector<std::string> texts;
            texts.reserve(drafts.size());
            for (const auto& draft : drafts) {
                texts.push_back(ragd::embed::compose_embedding_text(
                    parsed->title, draft.heading_path, draft.text));
            }
            std::vector<std::string_view> views(texts.begin(), texts.end());
            auto vectors = embedder->embed(views, ragd::embed::EmbedKind::kDocument);
            if (!vectors) {
                bench.SkipWithError(vectors.error().detail.c_str());
                return;
            }
            std::vector<ragd::storage::NewChunk> chunks;
            chunks.reserve(drafts.size());
            for (std::size_t chunk_idx = 0; chunk_idx < drafts.size(); ++chunk_idx) {
                auto& draft = drafts[chunk_idx];
                chunks.push_back(ragd::storage::NewChunk{draft.ordinal,
                                                         std::move(draft.text),
                                                         std::move(draft.heading_path),
                                                         draft.source_begin,
                                                         draft.source_end,
                                                         std::move((*vectors)[chunk_idx])});
            }
            ragd::storage::DocumentRecord record;
            record.id = "doc-" + std::to_string(doc_idx++);
            record.source = record.id;
            record.title = parsed->title;
            record.content_hash = std::to_string(doc_idx);  // unique: every write is a create
            auto stored = (*storage)->upsert_document(record, chunks, embedder->model_id());
            if (!stored) {
                bench.SkipWithError(stored.error().detail.c_str());
                return;
            }
        }
        bench.PauseTiming();
        storage->reset();
        std::error_code ec;
        fs::remove_all(dir, ec);
        bench.ResumeTiming();
    }
    set_throughput(bench);
}

/// The corpus as the indexes receive it (chunks with ids, texts and vectors), stored once.
const std::vector<ragd::storage::IndexableChunk>& indexable_corpus() {
    static const std::vector<ragd::storage::IndexableChunk> chunks = [] {
        std::vector<ragd::storage::IndexableChunk> out;
        std::string dir = (fs::temp_directory_path() / "ragd-chunks-bench-XXXXXX").string();
        if (::mkdtemp(dir.data()) == nullptr) {
            return out;
        }
        {
            ragd::core::Config config;
            config.storage.data_dir = dir;
            config.storage.durable_commits = false;
            auto engine = ragd::pipeline::Engine::open(config);
            if (!engine) {
                return out;
            }
            std::size_t doc_idx = 0;
            for (const auto& doc : corpus().documents) {
                ragd::pipeline::IngestRequest request;
                request.id = "doc-" + std::to_string(doc_idx++);
                request.source = request.id;
                request.content = doc;
                request.format = ragd::ingest::DocumentFormat::kMarkdown;
                if (!(*engine)->ingest().ingest(std::move(request), false)) {
                    return out;
                }
            }
            (void)(*engine)->storage().for_each_chunk(
                (*engine)->embedder().model_id(),
                [&](const ragd::storage::IndexableChunk& chunk) { out.push_back(chunk); });
        }
        std::error_code ec;
        fs::remove_all(dir, ec);
        return out;
    }();
    return chunks;
}

// Building the HNSW graph alone from the corpus's vectors, on one thread, default options.
void bm_index_vectors(benchmark::State& bench) {
    const auto& chunks = indexable_corpus();
    ragd::core::Config config;
    ragd::retrieval::VectorIndexOptions options;
    options.dimensions = config.embed.dimensions;
    options.m = config.retrieval.hnsw_m;
    options.ef_construction = config.retrieval.hnsw_ef_construction;
    options.ef_search = config.retrieval.hnsw_ef_search;
    for (auto _ : bench) {
        // A directory without index files gives an empty index; nothing is saved to it.
        auto index = ragd::retrieval::open_vector_index(
            (fs::temp_directory_path() / "ragd-hnsw-bench-unsaved").string(), options);
        if (!index) {
            bench.SkipWithError(index.error().detail.c_str());
            return;
        }
        for (const auto& chunk : chunks) {
            if (auto added = (*index)->add(chunk.chunk.id, chunk.embedding); !added) {
                bench.SkipWithError(added.error().detail.c_str());
                return;
            }
        }
    }
    set_throughput(bench);
    bench.counters["chunks"] = static_cast<double>(chunks.size());
}

// The BM25 index alone, committed every 2,560 chunks (about what a catch-up every 256 documents
// of this corpus commits), on one thread; the in-memory backend also writes its snapshot once.
void bm_index_bm25(benchmark::State& bench, bool xapian) {
    const auto& chunks = indexable_corpus();
    for (auto _ : bench) {
        bench.PauseTiming();
        std::string dir = (fs::temp_directory_path() / "ragd-bm25-bench-XXXXXX").string();
        if (::mkdtemp(dir.data()) == nullptr) {
            bench.SkipWithError("mkdtemp failed");
            return;
        }
        auto index = xapian ? ragd::retrieval::open_bm25_index(dir)
                            : ragd::retrieval::open_memory_bm25_index(
                                  dir, ragd::retrieval::Bm25Options{}, nullptr);
        if (!index) {
            bench.SkipWithError(index.error().detail.c_str());
            return;
        }
        bench.ResumeTiming();
        std::int64_t added = 0;
        for (const auto& chunk : chunks) {
            if (auto done = (*index)->add(chunk); !done) {
                bench.SkipWithError(done.error().detail.c_str());
                return;
            }
            if (++added % 2560 == 0) {
                (void)(*index)->commit(added);
            }
        }
        if (auto committed = (*index)->commit(added); !committed) {
            bench.SkipWithError(committed.error().detail.c_str());
            return;
        }
        if (auto persisted = (*index)->persist(); !persisted) {
            bench.SkipWithError(persisted.error().detail.c_str());
            return;
        }
        bench.PauseTiming();
        index->reset();
        std::error_code ec;
        fs::remove_all(dir, ec);
        bench.ResumeTiming();
    }
    set_throughput(bench);
    bench.counters["chunks"] = static_cast<double>(chunks.size());
}

// The full path into an empty data dir: the above plus index catch-up every 256 documents (as
// IngestService::ingest_paths does), ending with a flush of both indexes to disk. CPU time is
// the whole process's: a large catch-up feeds the two indexes from two threads.
void bm_ingest_service(benchmark::State& bench, bool durable_commits) {
    std::size_t chunks = 0;
    for (auto _ : bench) {
        bench.PauseTiming();
        std::string dir = (fs::temp_directory_path() / "ragd-ingest-bench-XXXXXX").string();
        if (::mkdtemp(dir.data()) == nullptr) {
            bench.SkipWithError("mkdtemp failed");
            return;
        }
        ragd::core::Config config;
        config.storage.data_dir = dir;
        config.storage.durable_commits = durable_commits;
        auto engine = ragd::pipeline::Engine::open(config);
        if (!engine) {
            bench.SkipWithError(engine.error().detail.c_str());
            return;
        }
        bench.ResumeTiming();
        std::size_t doc_idx = 0;
        for (const auto& doc : corpus().documents) {
            ragd::pipeline::IngestRequest request;
            request.id = "doc-" + std::to_string(doc_idx++);
            request.source = request.id;
            request.content = doc;
            request.format = ragd::ingest::DocumentFormat::kMarkdown;
            auto result = (*engine)->ingest().ingest(std::move(request), false);
            if (!result) {
                bench.SkipWithError(result.error().detail.c_str());
                return;
            }
            // Same cadence as IngestService::ingest_paths: indexes follow storage every 256 files.
            if (doc_idx % 256 == 0) {
                if (auto caught_up = (*engine)->maintainer().catch_up(); !caught_up) {
                    bench.SkipWithError(caught_up.error().detail.c_str());
                    return;
                }
            }
        }
        if (auto caught_up = (*engine)->maintainer().catch_up(); !caught_up) {
            bench.SkipWithError(caught_up.error().detail.c_str());
            return;
        }
        if (auto flushed = (*engine)->maintainer().flush(); !flushed) {
            bench.SkipWithError(flushed.error().detail.c_str());
            return;
        }
        bench.PauseTiming();
        chunks = (*engine)->index_stats().vectors;
        engine->reset();
        std::error_code ec;
        fs::remove_all(dir, ec);
        bench.ResumeTiming();
    }
    set_throughput(bench);
    bench.counters["chunks"] = static_cast<double>(chunks);
}

bool write_corpus(const std::string& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    for (std::size_t doc_idx = 0; doc_idx < corpus().documents.size(); ++doc_idx) {
        char name[32];
        std::snprintf(name, sizeof name, "doc_%05zu.md", doc_idx);
        std::FILE* file = std::fopen((fs::path(dir) / name).c_str(), "wb");
        const std::string& doc = corpus().documents[doc_idx];
        const bool written =
            file != nullptr && std::fwrite(doc.data(), 1, doc.size(), file) == doc.size();
        if (file == nullptr || std::fclose(file) != 0 || !written) {
            std::fprintf(stderr, "ingest_bench: cannot write %s/%s\n", dir.c_str(), name);
            return false;
        }
    }
    std::fprintf(
        stderr, "ingest_bench: wrote %zu files to %s\n", corpus().documents.size(), dir.c_str());
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    // The same memory settings as `ragd ingest` (transparent huge pages; docs/cli.md), so that
    // ingest_service/bulk measures what the command does. GLIBC_TUNABLES=glibc.malloc.hugetlb=0
    // measures without them.
    ragd::cli::reexec_with_bulk_malloc_tunables(argv);
    double corpus_mb = 20;
    std::string write_dir;
    int kept = 1;
    for (int arg_idx = 1; arg_idx < argc; ++arg_idx) {
        std::string arg = argv[arg_idx];
        if (arg.rfind("--corpus_mb=", 0) == 0) {
            corpus_mb = std::stod(arg.substr(std::strlen("--corpus_mb=")));
        } else if (arg.rfind("--write_corpus=", 0) == 0) {
            write_dir = arg.substr(std::strlen("--write_corpus="));
        } else {
            argv[kept++] = argv[arg_idx];
        }
    }
    argc = kept;
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        return 1;
    }
    generate_corpus(static_cast<std::uint64_t>(corpus_mb * 1e6));
    std::fprintf(stderr,
                 "ingest_bench: %zu Markdown documents, %.1f MB\n",
                 corpus().documents.size(),
                 static_cast<double>(corpus().bytes) / 1e6);
    if (!write_dir.empty()) {
        return write_corpus(write_dir) ? 0 : 1;
    }
    benchmark::RegisterBenchmark("ingest/parse", bm_parse)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark("ingest/parse+chunk", bm_parse_chunk)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark("ingest/parse+chunk+embed", bm_parse_chunk_embed)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    // "durable": fsync per document (storage.durable_commits, the API's default); "bulk": no
    // per-document fsync, as `ragd ingest` runs.
    benchmark::RegisterBenchmark("ingest/index_only/hnsw", bm_index_vectors)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime()
        ->Iterations(1);
    benchmark::RegisterBenchmark("ingest/index_only/bm25_memory", bm_index_bm25, false)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime()
        ->Iterations(1);
    benchmark::RegisterBenchmark("ingest/index_only/bm25_xapian", bm_index_bm25, true)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime()
        ->Iterations(1);
    for (bool durable : {true, false}) {
        std::string suffix = durable ? "/durable" : "/bulk";
        benchmark::RegisterBenchmark(("ingest/parse+chunk+embed+store" + suffix).c_str(),
                                     bm_parse_chunk_embed_store,
                                     durable)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime()
            ->Iterations(1);
        benchmark::RegisterBenchmark(
            ("ingest/ingest_service" + suffix).c_str(), bm_ingest_service, durable)
            ->Unit(benchmark::kMillisecond)
            ->MeasureProcessCPUTime()
            ->UseRealTime()
            ->Iterations(1);
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
