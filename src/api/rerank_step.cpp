// The reranker sees each passage as its document's title, then its text: cross-encoders score
// "what is this passage about" better with the title than from a bare paragraph.
#include "api/rerank_step.hpp"

#include <algorithm>
#include <chrono>
#include <vector>

#include "core/log.hpp"

namespace ragd::api {
namespace {

using Clock = std::chrono::steady_clock;

std::string rerank_document(const pipeline::SourceHit& hit) {
    const std::string& title = hit.chunk.title;
    const std::string& text = hit.chunk.chunk.text;
    if (title.empty()) {
        return text;
    }
    std::string document;
    document.reserve(title.size() + 2 + text.size());
    document += title;
    document += "\n\n";
    document += text;
    return document;
}

void keep_fused(pipeline::SearchOutcome& searched, std::size_t top_k) {
    if (searched.hits.size() > top_k) {
        searched.hits.resize(top_k);
    }
}

}  // namespace

bool rerank_requested(const llm::Reranker* reranker, const QueryRequest& request) {
    return reranker != nullptr && request.rerank;
}

std::size_t retrieval_depth(const llm::Reranker* reranker,
                            const QueryRequest& request,
                            std::size_t max_top_k) {
    const std::size_t top_k = request.options.top_k;
    if (!rerank_requested(reranker, request)) {
        return top_k;
    }
    return std::max(top_k, std::min(reranker->candidates(), max_top_k));
}

boost::asio::awaitable<RerankOutcome> rerank_hits(llm::Reranker& reranker,
                                                  metrics::Metrics* metrics,
                                                  std::string query,
                                                  pipeline::SearchOutcome& searched,
                                                  std::size_t top_k,
                                                  std::shared_ptr<core::CancelToken> cancel) {
    if (searched.hits.size() <= 1) {
        keep_fused(searched, top_k);  // nothing to reorder: no call
        searched.reranked = true;     // the order is final all the same
        co_return RerankOutcome::kNotNeeded;
    }
    const auto started = Clock::now();
    std::vector<std::string> documents;
    documents.reserve(searched.hits.size());
    for (const pipeline::SourceHit& hit : searched.hits) {
        documents.push_back(rerank_document(hit));
    }
    auto scores = co_await reranker.rerank(std::move(query), std::move(documents), cancel);
    const double elapsed_ms =
        std::chrono::duration<double, std::milli>(Clock::now() - started).count();
    searched.timings.rerank = elapsed_ms;
    searched.timings.total += elapsed_ms;
    // A client that left cancelled the call: not the reranker's failure.
    const bool client_left = cancel && cancel->cancelled();
    if (metrics != nullptr && !client_left) {
        metrics->observe_stage(metrics::Stage::kRerank, elapsed_ms / 1000.0);
        metrics->count_rerank(scores.has_value());
    }
    if (!scores) {
        if (!client_left) {
            core::log::warn("rerank failed; keeping the fused order",
                            {{"error", scores.error().detail}});
        }
        keep_fused(searched, top_k);
        co_return RerankOutcome::kFailed;
    }
    std::vector<pipeline::SourceHit> reordered;
    reordered.reserve(std::min(top_k, searched.hits.size()));
    std::vector<bool> taken(searched.hits.size(), false);
    for (const llm::RerankScore& score : *scores) {
        if (reordered.size() == top_k) {
            break;
        }
        taken[score.index] = true;
        reordered.push_back(std::move(searched.hits[score.index]));
        reordered.back().rerank_score = score.score;
    }
    // A reranker that scored fewer passages than it was sent: the rest follow in fused order.
    for (std::size_t hit_idx = 0; hit_idx < searched.hits.size() && reordered.size() < top_k;
         ++hit_idx) {
        if (!taken[hit_idx]) {
            reordered.push_back(std::move(searched.hits[hit_idx]));
        }
    }
    for (std::size_t hit_idx = 0; hit_idx < reordered.size(); ++hit_idx) {
        reordered[hit_idx].number = hit_idx + 1;
    }
    searched.hits = std::move(reordered);
    searched.reranked = true;
    co_return RerankOutcome::kApplied;
}

}  // namespace ragd::api
