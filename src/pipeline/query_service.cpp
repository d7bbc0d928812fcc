#include "pipeline/query_service.hpp"

#include <algorithm>
#include <chrono>
#include <unordered_map>

#include "retrieval/fusion.hpp"

namespace ragd::pipeline {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Filters need each candidate's document; over-fetch so that filtering still leaves enough.
constexpr std::size_t kFilterOversample = 4;

}  // namespace

QueryService::QueryService(const core::RetrievalConfig& config,
                           storage::Storage& storage,
                           const embed::Embedder& embedder,
                           const retrieval::VectorIndex& vectors,
                           const retrieval::Bm25Index& bm25,
                           const llm::Generator& generator)
    : config_(config),
      storage_(storage),
      embedder_(embedder),
      vectors_(vectors),
      bm25_(bm25),
      generator_(generator) {}

core::Result<SearchOutcome> QueryService::search(const std::string& query,
                                                 const QueryOptions& options) const {
    auto started = Clock::now();
    if (query.find_first_not_of(" \t\r\n") == std::string::npos) {
        return core::fail(core::ErrorCode::kInvalidArgument, "query: must not be empty");
    }
    if (options.top_k < 1 || options.top_k > config_.max_top_k) {
        return core::fail(core::ErrorCode::kInvalidArgument,
                          "top_k: must be between 1 and " + std::to_string(config_.max_top_k));
    }
    SearchOutcome outcome;
    const std::size_t candidates = std::max(config_.candidates, options.top_k);
    std::vector<retrieval::RankedList> lists;

    if (options.mode != RetrievalMode::kBm25) {
        auto t = Clock::now();
        std::vector<embed::Vector> embedded;
        if (options.query_vector) {
            outcome.timings.embed = options.embed_ms;
        } else {
            std::string_view text = query;
            auto made = embedder_.embed(std::span<const std::string_view>(&text, 1),
                                        embed::EmbedKind::kQuery);
            if (!made) {
                return made.error();
            }
            embedded = std::move(*made);
            outcome.timings.embed = ms_since(t);
        }
        const embed::Vector& question = options.query_vector ? *options.query_vector : embedded[0];
        t = Clock::now();
        std::size_t fetch = options.filter.empty() ? candidates : candidates * kFilterOversample;
        auto hits = vectors_.search(question, fetch);
        retrieval::RankedList list;
        list.weight = config_.vector_weight;
        if (!options.filter.empty() && !hits.empty()) {
            std::vector<std::int64_t> ids;
            for (const auto& hit : hits) {
                ids.push_back(hit.chunk_id);
            }
            // Source and metadata decide; no embedding needed (and the passage cache serves it).
            auto chunks = storage_.get_chunks(ids, /*model_id=*/"");
            if (!chunks) {
                return chunks.error();
            }
            for (const auto& chunk : *chunks) {
                if (list.ids.size() < candidates &&
                    retrieval::filter_accepts(options.filter, chunk.source, chunk.metadata)) {
                    list.ids.push_back(chunk.chunk.id);
                }
            }
        } else {
            for (const auto& hit : hits) {
                list.ids.push_back(hit.chunk_id);
            }
        }
        lists.push_back(std::move(list));
        outcome.timings.vector = ms_since(t);
    }
    if (options.mode != RetrievalMode::kVector) {
        auto t = Clock::now();
        auto hits = bm25_.search(query, candidates, options.filter);
        if (!hits) {
            return hits.error();
        }
        retrieval::RankedList list;
        list.weight = config_.bm25_weight;
        for (const auto& hit : *hits) {
            list.ids.push_back(hit.chunk_id);
        }
        lists.push_back(std::move(list));
        outcome.timings.bm25 = ms_since(t);
    }

    auto t = Clock::now();
    auto fused = retrieval::reciprocal_rank_fusion(lists, config_.rrf_k, options.top_k);
    std::vector<std::int64_t> ids;
    ids.reserve(fused.size());
    for (const auto& hit : fused) {
        ids.push_back(hit.chunk_id);
    }
    auto chunks = storage_.get_chunks(ids, /*model_id=*/"");
    if (!chunks) {
        return chunks.error();
    }
    std::unordered_map<std::int64_t, storage::IndexableChunk*> by_id;
    for (auto& chunk : *chunks) {
        by_id.emplace(chunk.chunk.id, &chunk);
    }
    for (const auto& hit : fused) {
        auto found = by_id.find(hit.chunk_id);
        if (found == by_id.end()) {
            continue;  // deleted between search and load; the index catches up
        }
        SourceHit source;
        source.number = outcome.hits.size() + 1;
        source.chunk = std::move(*found->second);
        source.score = hit.score;
        std::size_t list_idx = 0;
        if (options.mode != RetrievalMode::kBm25) {
            source.vector_rank = hit.ranks[list_idx++];
        }
        if (options.mode != RetrievalMode::kVector) {
            source.bm25_rank = hit.ranks[list_idx];
        }
        outcome.hits.push_back(std::move(source));
    }
    outcome.timings.fuse = ms_since(t);
    outcome.timings.total = ms_since(started);
    return outcome;
}

std::vector<llm::Passage> to_passages(const std::vector<SourceHit>& hits) {
    std::vector<llm::Passage> passages;
    passages.reserve(hits.size());
    for (const auto& hit : hits) {
        llm::Passage passage;
        passage.number = hit.number;
        passage.text = hit.chunk.chunk.text;
        passage.title = hit.chunk.title;
        passage.heading_path = hit.chunk.chunk.heading_path;
        passage.document_id = hit.chunk.chunk.document_id;
        passage.source = hit.chunk.source;
        passages.push_back(std::move(passage));
    }
    return passages;
}

core::Result<AnswerOutcome> QueryService::answer(const std::string& query,
                                                 const QueryOptions& options) const {
    auto started = Clock::now();
    auto searched = search(query, options);
    if (!searched) {
        return searched.error();
    }
    auto outcome = answer_from(query, std::move(*searched));
    if (outcome) {
        outcome->timings.total = ms_since(started);
    }
    return outcome;
}

core::Result<AnswerOutcome> QueryService::answer_from(const std::string& query,
                                                      SearchOutcome searched) const {
    AnswerOutcome outcome;
    outcome.timings = searched.timings;
    outcome.sources = std::move(searched.hits);

    llm::GenerationRequest request;
    request.question = query;
    request.passages = to_passages(outcome.sources);
    auto t = Clock::now();
    auto generated = generator_.generate(request);
    if (!generated) {
        return generated.error();
    }
    outcome.generation = std::move(*generated);
    outcome.timings.generate = ms_since(t);
    outcome.timings.total += outcome.timings.generate;
    return outcome;
}

}  // namespace ragd::pipeline
