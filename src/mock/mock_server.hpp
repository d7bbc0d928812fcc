// `ragd mock-llm`: a fake LLM provider (OpenAI Chat Completions and Anthropic Messages, with
// streaming) for ragd's tests and for load tests that must not pay for tokens. Asio-free header;
// the server lives in mock_server.cpp, the one file of this layer that includes Beast.
#pragma once

#include <memory>
#include <string>

#include "core/error.hpp"
#include "mock/options.hpp"
#include "mock/stats.hpp"

namespace ragd::mock {

/// Serves POST /v1/chat/completions, POST /v1/messages, POST /v1/embeddings, GET /health and
/// GET /stats (and Bedrock and rerank routes) on one io_context per I/O thread (connections
/// are spread round-robin and never change thread, so a connection needs no strand). A client that
/// closes mid-answer is noticed at once: its timers are cancelled and it is counted in /stats.
class MockServer {
public:
    /// `options` must have passed validate_options().
    explicit MockServer(MockLlmOptions options);
    ~MockServer();
    MockServer(const MockServer&) = delete;
    MockServer& operator=(const MockServer&) = delete;

    /// Binds and listens on options.listen (port 0 picks a free port). kInvalidArgument for an
    /// address that does not parse or resolve, kIo when it cannot be bound.
    core::Result<void> listen();
    /// The bound "HOST:PORT" (after listen()).
    std::string local_endpoint() const;
    /// Serves until stop() or SIGINT/SIGTERM; the calling thread is one of the I/O threads.
    /// Open connections are dropped when it returns.
    void run();
    /// Makes run() return. Thread-safe.
    void stop();
    const MockStats& stats() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// The subcommand: validates `options`, raises the open-file limit to its hard maximum (each
/// connection is a descriptor), listens, prints exactly one line "listening on HOST:PORT" to
/// stdout, and serves until SIGINT/SIGTERM. Returns the exit code: 0 after a signal, 1 when the
/// options are invalid or the address cannot be bound (the reason goes to stderr).
int run_mock_llm(const MockLlmOptions& options);

}  // namespace ragd::mock
