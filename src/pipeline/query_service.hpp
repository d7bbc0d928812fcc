// The query path: embed the question ∥ BM25 → fuse → load passages → (optionally) answer.
// Plain synchronous functions: the HTTP layer runs them on the compute pool.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/error.hpp"
#include "embed/embedder.hpp"
#include "llm/generator.hpp"
#include "retrieval/bm25_index.hpp"
#include "retrieval/vector_index.hpp"
#include "storage/storage.hpp"

namespace ragd::pipeline {

enum class RetrievalMode { kHybrid, kVector, kBm25 };

struct QueryOptions {
    std::size_t top_k = 5;
    retrieval::SearchFilter filter;
    RetrievalMode mode = RetrievalMode::kHybrid;
    /// The question's embedding when the caller already has it (a remote embedder awaited on
    /// an I/O thread, the semantic cache's); search() then does not embed again, and reports
    /// `embed_ms` as the embed stage's time.
    std::optional<embed::Vector> query_vector;
    double embed_ms = 0;
};

struct SourceHit {
    std::size_t number = 0;  ///< 1-based citation number
    storage::IndexableChunk chunk;
    double score = 0;               ///< fused score
    std::uint32_t vector_rank = 0;  ///< 1-based, 0 when the vector retriever did not return it
    std::uint32_t bm25_rank = 0;
    /// The reranker's score, when the hits were reranked (the order then follows it).
    std::optional<double> rerank_score;
};

/// Per-stage wall time in milliseconds.
struct StageTimings {
    double embed = 0;
    double vector = 0;
    double bm25 = 0;
    double fuse = 0;
    double generate = 0;
    double total = 0;
    /// Set when a reranker was called (whether or not its order was applied).
    std::optional<double> rerank;
};

struct SearchOutcome {
    std::vector<SourceHit> hits;
    StageTimings timings;
    /// True when a reranker's order applies to `hits` (or they needed none: one hit or none).
    bool reranked = false;
};

struct AnswerOutcome {
    llm::Generation generation;
    std::vector<SourceHit> sources;
    StageTimings timings;
};

/// The hits as numbered passages for a generator (number = the hit's citation number).
std::vector<llm::Passage> to_passages(const std::vector<SourceHit>& hits);

class QueryService {
public:
    QueryService(const core::RetrievalConfig& config,
                 storage::Storage& storage,
                 const embed::Embedder& embedder,
                 const retrieval::VectorIndex& vectors,
                 const retrieval::Bm25Index& bm25,
                 const llm::Generator& generator);

    /// Hybrid (or single-retriever) search. kInvalidArgument for an empty query or a top_k
    /// outside 1..max_top_k.
    core::Result<SearchOutcome> search(const std::string& query, const QueryOptions& options) const;
    /// Search, then answer from the hits with citations.
    core::Result<AnswerOutcome> answer(const std::string& query, const QueryOptions& options) const;
    /// Answers from hits searched (and perhaps reranked) before; `searched.timings` carry over.
    core::Result<AnswerOutcome> answer_from(const std::string& query, SearchOutcome searched) const;

    const core::RetrievalConfig& config() const { return config_; }

private:
    core::RetrievalConfig config_;
    storage::Storage& storage_;
    const embed::Embedder& embedder_;
    const retrieval::VectorIndex& vectors_;
    const retrieval::Bm25Index& bm25_;
    const llm::Generator& generator_;
};

}  // namespace ragd::pipeline
