#include "api/question_embedding.hpp"

#include <chrono>

#include "core/log.hpp"
#include "embed/http_embedder.hpp"

namespace ragd::api {
namespace net = boost::asio;

net::awaitable<core::Result<void>> embed_question(const embed::Embedder& embedder,
                                                  const std::string& question,
                                                  pipeline::QueryOptions& options,
                                                  std::shared_ptr<core::CancelToken> cancel,
                                                  metrics::Metrics* metrics) {
    const embed::HttpEmbedder* remote = embedder.remote();
    if (remote == nullptr || options.mode == pipeline::RetrievalMode::kBm25 ||
        options.query_vector) {
        co_return core::Result<void>{};
    }
    const auto started = std::chrono::steady_clock::now();
    std::vector<std::string> texts{question};
    auto vectors = co_await remote->embed_async(std::move(texts), embed::EmbedKind::kQuery, cancel);
    const bool client_left = cancel && cancel->cancelled();
    if (metrics != nullptr && !client_left) {
        metrics->count_question_embedding(vectors && !vectors->empty());
    }
    if (!vectors || vectors->empty()) {
        core::Error error =
            vectors ? core::Error(core::ErrorCode::kInternal, "no vector") : vectors.error();
        if (options.mode == pipeline::RetrievalMode::kVector) {
            co_return error;
        }
        if (!client_left) {
            core::log::warn("question embedding failed; searching with BM25 alone",
                            {{"error", error.detail}});
        }
        options.mode = pipeline::RetrievalMode::kBm25;
        co_return core::Result<void>{};
    }
    options.embed_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count();
    options.query_vector = std::move(vectors->front());
    co_return core::Result<void>{};
}

}  // namespace ragd::api
