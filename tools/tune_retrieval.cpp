// Retrieval quality and speed on a BEIR-format set (pgdocs): BM25, vector and RRF hybrid, with
// every knob on the command line so the defaults in src/ can be chosen from measurements.
// Usage: tune_retrieval [--data DIR] [--key=value ...]   (see parse_args for the keys)
#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "embed/lexical_embedder.hpp"
#include "retrieval/bm25_index.hpp"
#include "retrieval/fusion.hpp"
#include "retrieval/vector_index.hpp"

namespace {

using namespace ragd;  // NOLINT(google-build-using-namespace): a one-file tool
using Clock = std::chrono::steady_clock;

struct Passage {
    std::string id;
    std::string title;
    std::string text;
};

struct Query {
    std::string id;
    std::string text;
};

struct Args {
    std::string data = RAGD_DEFAULT_PGDOCS;  // ../shared beside the source tree
    embed::LexicalEmbedderOptions embed;
    retrieval::Bm25Options bm25;
    retrieval::VectorIndexOptions vector;
    std::size_t candidates = 100;
    std::vector<double> rrf_ks = {60};
    std::vector<double> vector_weights = {1.0};
    bool heading_from_title = true;
};

std::vector<double> parse_list(const std::string& text) {
    std::vector<double> values;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) {
        values.push_back(std::stod(item));
    }
    return values;
}

Args parse_args(int argc, char** argv) {
    Args args;
    for (int arg_idx = 1; arg_idx < argc; ++arg_idx) {
        std::string arg = argv[arg_idx];
        auto eq = arg.find('=');
        std::string key = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
        std::string value = eq == std::string::npos ? "1" : arg.substr(eq + 1);
        if (key == "data") args.data = value;
        else if (key == "dims") args.embed.dimensions = std::stoul(value);
        else if (key == "word") args.embed.word_weight = std::stof(value);
        else if (key == "bigram") args.embed.bigram_weight = std::stof(value);
        else if (key == "ngram") args.embed.ngram_weight = std::stof(value);
        else if (key == "nmin") args.embed.ngram_min = std::stoul(value);
        else if (key == "nmax") args.embed.ngram_max = std::stoul(value);
        else if (key == "compound") args.embed.compound_weight = std::stof(value);
        else if (key == "title_wdf") args.bm25.title_wdf = std::stoul(value);
        else if (key == "heading_wdf") args.bm25.heading_wdf = std::stoul(value);
        else if (key == "ident") args.bm25.index_identifier_parts = value == "1";
        else if (key == "k1") args.bm25.k1 = std::stod(value);
        else if (key == "b") args.bm25.b = std::stod(value);
        else if (key == "stop") args.bm25.query_stopwords = value == "1";
        else if (key == "m") args.vector.m = std::stoul(value);
        else if (key == "efc") args.vector.ef_construction = std::stoul(value);
        else if (key == "ef") args.vector.ef_search = std::stoul(value);
        else if (key == "cand") args.candidates = std::stoul(value);
        else if (key == "rrf_k") args.rrf_ks = parse_list(value);
        else if (key == "vw") args.vector_weights = parse_list(value);
        else {
            std::cerr << "unknown option --" << key << "\n";
            std::exit(2);
        }
    }
    args.vector.dimensions = args.embed.dimensions;
    return args;
}

std::vector<boost::json::object> read_jsonl(const std::string& path) {
    std::ifstream in(path);
    std::vector<boost::json::object> rows;
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty()) {
            rows.push_back(boost::json::parse(line).as_object());
        }
    }
    return rows;
}

std::vector<std::string> split_title(const std::string& title) {
    std::vector<std::string> parts;
    const std::string separator = " \xe2\x80\xba ";  // " › "
    std::size_t begin = 0;
    while (true) {
        auto at = title.find(separator, begin);
        parts.push_back(title.substr(begin, at - begin));
        if (at == std::string::npos) break;
        begin = at + separator.size();
    }
    return parts;
}

struct Metrics {
    double ndcg10 = 0, recall10 = 0, recall100 = 0, mrr10 = 0;
    int count = 0;
    void add(const std::vector<std::string>& ranked, const std::set<std::string>& relevant) {
        double dcg = 0, idcg = 0, mrr = 0;
        int hits10 = 0, hits100 = 0;
        for (std::size_t rank = 0; rank < ranked.size() && rank < 100; ++rank) {
            if (!relevant.contains(ranked[rank])) continue;
            if (rank < 10) {
                dcg += 1.0 / std::log2(static_cast<double>(rank) + 2);
                ++hits10;
                if (mrr == 0) mrr = 1.0 / static_cast<double>(rank + 1);
            }
            ++hits100;
        }
        for (std::size_t rank = 0; rank < relevant.size() && rank < 10; ++rank) {
            idcg += 1.0 / std::log2(static_cast<double>(rank) + 2);
        }
        ndcg10 += idcg > 0 ? dcg / idcg : 0;
        recall10 += static_cast<double>(hits10) / static_cast<double>(relevant.size());
        recall100 += static_cast<double>(hits100) / static_cast<double>(relevant.size());
        mrr10 += mrr;
        ++count;
    }
    std::string row() const {
        char buffer[128];
        double n = std::max(count, 1);
        std::snprintf(buffer, sizeof buffer, "nDCG@10 %.4f  R@10 %.4f  R@100 %.4f  MRR@10 %.4f",
                      ndcg10 / n, recall10 / n, recall100 / n, mrr10 / n);
        return buffer;
    }
};

double percentile(std::vector<double> values, double fraction) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    auto at = static_cast<std::size_t>(fraction * static_cast<double>(values.size() - 1));
    return values[at];
}

}  // namespace

int main(int argc, char** argv) {
    Args args = parse_args(argc, argv);
    auto corpus_rows = read_jsonl(args.data + "/corpus.jsonl");
    auto query_rows = read_jsonl(args.data + "/queries.jsonl");
    std::vector<Passage> passages;
    for (const auto& row : corpus_rows) {
        passages.push_back(Passage{std::string(row.at("_id").as_string()),
                                   std::string(row.at("title").as_string()),
                                   std::string(row.at("text").as_string())});
    }
    std::map<std::string, std::set<std::string>> qrels;
    {
        std::ifstream in(args.data + "/qrels/test.tsv");
        std::string line;
        std::getline(in, line);
        while (std::getline(in, line)) {
            std::stringstream fields(line);
            std::string query_id, corpus_id, score;
            std::getline(fields, query_id, '\t');
            std::getline(fields, corpus_id, '\t');
            qrels[query_id].insert(corpus_id);
        }
    }
    std::vector<Query> queries;
    for (const auto& row : query_rows) {
        std::string id(row.at("_id").as_string());
        if (qrels.contains(id)) queries.push_back(Query{id, std::string(row.at("text").as_string())});
    }

    // Chunks: title = page title (first heading), heading path = the rest, as ingest would.
    std::vector<storage::IndexableChunk> chunks;
    std::uint64_t text_bytes = 0;
    for (std::size_t passage_idx = 0; passage_idx < passages.size(); ++passage_idx) {
        storage::IndexableChunk chunk;
        chunk.chunk.id = static_cast<std::int64_t>(passage_idx + 1);
        auto parts = split_title(passages[passage_idx].title);
        chunk.title = parts.front();
        chunk.chunk.heading_path.assign(parts.begin() + 1, parts.end());
        chunk.chunk.text = passages[passage_idx].text;
        chunk.source = "pgdocs/" + passages[passage_idx].id.substr(0, passages[passage_idx].id.find('#'));
        text_bytes += chunk.chunk.text.size() + passages[passage_idx].title.size();
        chunks.push_back(std::move(chunk));
    }

    auto embedder = embed::make_lexical_embedder(args.embed);
    std::cout << "model " << embedder->model_id() << "\n";
    std::vector<std::string> composed;
    for (const auto& chunk : chunks) {
        composed.push_back(embed::compose_embedding_text(chunk.title, chunk.chunk.heading_path,
                                                         chunk.chunk.text));
    }
    std::vector<embed::Vector> vectors(chunks.size());
    auto* lexical = dynamic_cast<embed::LexicalHashEmbedder*>(embedder.get());
    auto start = Clock::now();
    std::uint64_t composed_bytes = 0;
    for (std::size_t chunk_idx = 0; chunk_idx < chunks.size(); ++chunk_idx) {
        lexical->embed_one(composed[chunk_idx], vectors[chunk_idx]);
        composed_bytes += composed[chunk_idx].size();
    }
    double embed_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    // Second pass: steady state with warm stem caches, as in a long-running server.
    start = Clock::now();
    for (std::size_t chunk_idx = 0; chunk_idx < chunks.size(); ++chunk_idx) {
        lexical->embed_one(composed[chunk_idx], vectors[chunk_idx]);
    }
    double embed_warm_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf("embed: %.1f MB in %.3f s cold (%.1f MB/s), %.3f s warm (%.1f MB/s)\n",
                static_cast<double>(composed_bytes) / 1e6, embed_seconds,
                static_cast<double>(composed_bytes) / 1e6 / embed_seconds, embed_warm_seconds,
                static_cast<double>(composed_bytes) / 1e6 / embed_warm_seconds);

    auto work = std::filesystem::temp_directory_path() / ("tune_retrieval_" + std::to_string(::getpid()));
    std::filesystem::remove_all(work);
    std::filesystem::create_directories(work);
    auto vector_index = retrieval::open_vector_index(work.string(), args.vector).value();
    start = Clock::now();
    for (std::size_t chunk_idx = 0; chunk_idx < chunks.size(); ++chunk_idx) {
        vector_index->add(chunks[chunk_idx].chunk.id, vectors[chunk_idx]).value();
    }
    double hnsw_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    auto bm25 = retrieval::open_bm25_index(work.string(), args.bm25).value();
    start = Clock::now();
    for (const auto& chunk : chunks) {
        bm25->add(chunk).value();
    }
    bm25->commit(1).value();
    double bm25_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf("build: hnsw %.2f s, bm25 %.2f s (%.1f MB text)\n", hnsw_seconds, bm25_seconds,
                static_cast<double>(text_bytes) / 1e6);

    struct Ranked {
        std::vector<std::int64_t> bm25;
        std::vector<std::int64_t> vector;
    };
    std::vector<Ranked> ranked(queries.size());
    std::vector<double> bm25_ms, vector_ms, hybrid_ms;
    Metrics bm25_all, vector_all;
    std::map<std::string, Metrics> bm25_kind, vector_kind;
    auto to_ids = [&](const std::vector<std::int64_t>& ids) {
        std::vector<std::string> out;
        for (auto id : ids) out.push_back(passages[static_cast<std::size_t>(id - 1)].id);
        return out;
    };
    for (std::size_t query_idx = 0; query_idx < queries.size(); ++query_idx) {
        const Query& query = queries[query_idx];
        auto t0 = Clock::now();
        auto bm25_hits = bm25->search(query.text, args.candidates).value();
        auto t1 = Clock::now();
        std::string_view text = query.text;
        auto query_vector = embedder->embed(std::span(&text, 1), embed::EmbedKind::kQuery).value();
        auto vector_hits = vector_index->search(query_vector[0], args.candidates);
        auto t2 = Clock::now();
        for (const auto& hit : bm25_hits) ranked[query_idx].bm25.push_back(hit.chunk_id);
        for (const auto& hit : vector_hits) ranked[query_idx].vector.push_back(hit.chunk_id);
        std::vector<retrieval::RankedList> lists = {{ranked[query_idx].vector, 1.0},
                                                    {ranked[query_idx].bm25, 1.0}};
        auto fused = retrieval::reciprocal_rank_fusion(lists, 60, 100);
        auto t3 = Clock::now();
        bm25_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
        vector_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
        hybrid_ms.push_back(std::chrono::duration<double, std::milli>(t3 - t0).count());
        const auto& relevant = qrels[query.id];
        std::string kind = query.id.substr(0, query.id.find(':'));
        bm25_all.add(to_ids(ranked[query_idx].bm25), relevant);
        bm25_kind[kind].add(to_ids(ranked[query_idx].bm25), relevant);
        vector_all.add(to_ids(ranked[query_idx].vector), relevant);
        vector_kind[kind].add(to_ids(ranked[query_idx].vector), relevant);
    }
    std::printf("latency ms p50/p95: bm25 %.2f/%.2f  vector %.2f/%.2f  hybrid %.2f/%.2f\n",
                percentile(bm25_ms, 0.5), percentile(bm25_ms, 0.95), percentile(vector_ms, 0.5),
                percentile(vector_ms, 0.95), percentile(hybrid_ms, 0.5),
                percentile(hybrid_ms, 0.95));
    std::cout << "bm25   all " << bm25_all.row() << "\n";
    for (auto& [kind, metrics] : bm25_kind) std::cout << "bm25   " << kind << " " << metrics.row() << "\n";
    std::cout << "vector all " << vector_all.row() << "\n";
    for (auto& [kind, metrics] : vector_kind) std::cout << "vector " << kind << " " << metrics.row() << "\n";
    for (double rrf_k : args.rrf_ks) {
        for (double vector_weight : args.vector_weights) {
            Metrics all;
            std::map<std::string, Metrics> by_kind;
            for (std::size_t query_idx = 0; query_idx < queries.size(); ++query_idx) {
                std::vector<retrieval::RankedList> lists = {
                    {ranked[query_idx].vector, vector_weight}, {ranked[query_idx].bm25, 1.0}};
                auto fused = retrieval::reciprocal_rank_fusion(lists, rrf_k, 100);
                std::vector<std::int64_t> ids;
                for (const auto& hit : fused) ids.push_back(hit.chunk_id);
                const std::string& id = queries[query_idx].id;
                all.add(to_ids(ids), qrels[id]);
                by_kind[id.substr(0, id.find(':'))].add(to_ids(ids), qrels[id]);
            }
            std::printf("hybrid k=%g vw=%.2f all %s | ref %.4f guc %.4f\n", rrf_k, vector_weight,
                        all.row().c_str(), by_kind["ref"].ndcg10 / by_kind["ref"].count,
                        by_kind["guc"].ndcg10 / by_kind["guc"].count);
        }
    }
    std::filesystem::remove_all(work);
    return 0;
}
