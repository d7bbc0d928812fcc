// The optional reranker: one rerank service (rerank_protocol.hpp) behind a pooled HTTP client, a
// single deadline and a circuit breaker. It may only make answers better: every failure is an
// error value the caller answers by keeping the fused order, and while the service fails the
// breaker turns calls away at once instead of making each query wait out the deadline.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "core/cancel_token.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "http/client.hpp"
#include "llm/circuit_breaker.hpp"
#include "llm/rerank_protocol.hpp"

namespace ragd::llm {

class Reranker {
public:
    /// kInvalidArgument for an unknown dialect, a bad base_url or ca_file, or an api_key_env
    /// that is unset.
    static core::Result<std::unique_ptr<Reranker>> create(boost::asio::any_io_executor executor,
                                                          const core::RerankConfig& config,
                                                          const std::string& ca_file);
    Reranker(const Reranker&) = delete;
    Reranker& operator=(const Reranker&) = delete;

    /// Scores of `documents` for `query`, best first. Each document is cut to
    /// max_passage_bytes first. Errors: kUnavailable (breaker open, service failing or
    /// cancelled), kTimeout, kCorrupt (a malformed answer), kInvalidArgument (the service
    /// refused the request: 4xx).
    boost::asio::awaitable<core::Result<std::vector<RerankScore>>> rerank(
        std::string query,
        std::vector<std::string> documents,
        std::shared_ptr<core::CancelToken> cancel);

    /// "cohere:MODEL": part of answer cache keys.
    const std::string& id() const { return id_; }
    std::size_t candidates() const { return candidates_; }
    CircuitBreaker::State breaker_state() const { return breaker_.state(); }
    void close_idle() { client_.close_idle(); }

private:
    Reranker(boost::asio::any_io_executor executor,
             const core::RerankConfig& config,
             http::ClientOptions options,
             std::string api_key);

    std::string dialect_;
    std::string model_;
    std::string api_key_;
    std::string id_;
    std::size_t candidates_;
    std::size_t max_passage_bytes_;
    http::HttpClient client_;
    CircuitBreaker breaker_;
};

}  // namespace ragd::llm
