// An embedder backed by an OpenAI-compatible embeddings API (embedding_protocol.hpp). Requests
// run on a private io_context thread over a pooled keep-alive client, in batches of
// embed.batch_size, up to embed.concurrency at once, each retried with backoff on connection
// failures, timeouts, 429 and 5xx, behind a circuit breaker. embed() blocks its caller (ingest,
// the CLI); the server's routes co_await embed_async() and never block an I/O thread on it.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "core/cancel_token.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "embed/embedder.hpp"

namespace ragd::embed {

class HttpEmbedder final : public Embedder {
public:
    /// kInvalidArgument for a bad base_url or ca_file, or an api_key_env that is unset.
    static core::Result<std::unique_ptr<HttpEmbedder>> create(const core::EmbedConfig& config);
    ~HttpEmbedder() override;
    HttpEmbedder(const HttpEmbedder&) = delete;
    HttpEmbedder& operator=(const HttpEmbedder&) = delete;

    /// "openai:MODEL:DIMENSIONS", plus ":p" and 8 hex digits of a hash of the document prefix
    /// when there is one (it changes every stored vector).
    std::string model_id() const override { return model_id_; }
    std::size_t dimensions() const override { return dimensions_; }
    /// Blocks until every batch is embedded (for ingest and the CLI: it ignores the circuit
    /// breaker and retries within embed.max_attempts). Errors: kUnavailable (service failing),
    /// kTimeout, kCorrupt (a malformed answer, or vectors of the wrong length),
    /// kInvalidArgument (the service refused the request: 4xx other than 429).
    core::Result<std::vector<Vector>> embed(std::span<const std::string_view> texts,
                                            EmbedKind kind) const override;
    const HttpEmbedder* remote() const override { return this; }

    /// For a question on the query path: resumes on the caller's executor; fails at once
    /// (kUnavailable) while the circuit breaker is open, and with kTimeout when no vector came
    /// within embed.query_timeout_ms (retries included; counted against the breaker), since
    /// the query can go on with BM25. `cancel` (may be null) aborts the requests in flight
    /// with kUnavailable.
    boost::asio::awaitable<core::Result<std::vector<Vector>>> embed_async(
        std::vector<std::string> texts,
        EmbedKind kind,
        std::shared_ptr<core::CancelToken> cancel) const;

    /// "closed", "open" or "half_open".
    const char* breaker_state() const;

    struct Impl;

private:
    HttpEmbedder(const core::EmbedConfig& config, std::unique_ptr<Impl> impl);

    std::string model_id_;
    std::size_t dimensions_;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ragd::embed
