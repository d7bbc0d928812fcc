// The question's embedding, when the embedder is a remote service: awaited on the I/O thread
// (HttpEmbedder::embed_async) before retrieval runs on the compute pool, so no compute thread
// waits on the network. With the built-in embedder this does nothing: retrieval embeds there.
#pragma once

#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "core/cancel_token.hpp"
#include "core/error.hpp"
#include "embed/embedder.hpp"
#include "metrics/metrics.hpp"
#include "pipeline/query_service.hpp"

namespace ragd::api {

/// Fills options.query_vector (and embed_ms) for a remote embedder, unless the mode is bm25 or
/// the vector is already there. When the service fails, a hybrid search goes on with BM25
/// alone (logged, answers are not worse than BM25's); a vector-only search gets the error.
/// Counted in `metrics` (may be null) unless the client left.
boost::asio::awaitable<core::Result<void>> embed_question(const embed::Embedder& embedder,
                                                          const std::string& question,
                                                          pipeline::QueryOptions& options,
                                                          std::shared_ptr<core::CancelToken> cancel,
                                                          metrics::Metrics* metrics);

}  // namespace ragd::api
