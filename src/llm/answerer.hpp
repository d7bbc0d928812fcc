// The generation stage of a query: builds the prompt and walks the fallback chain (e.g.
// anthropic → openai → extractive) until a generator answers. An upstream whose breaker is open
// is skipped at once; one that fails before anything reached the client falls through to the
// next; a failure after the client got part of the answer is final (reported in-band).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "core/cancel_token.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "llm/extractive_generator.hpp"
#include "llm/prompt_builder.hpp"
#include "llm/upstream.hpp"

namespace ragd::llm {

struct AnswerRequest {
    std::string question;
    std::vector<Passage> passages;  ///< best first, numbered from 1
    std::size_t max_tokens = 512;
    double temperature = 0.2;
    bool stream = false;  ///< deltas go to the sink as they arrive
    std::shared_ptr<core::CancelToken> cancel;
    std::vector<http::Header> forward_headers;  ///< X-Request-Id, traceparent, tracestate
};

struct Answer {
    std::string text;
    std::string generator;  ///< "extractive" or the upstream's name
    std::string model;      ///< the upstream model; empty for extractive
    Usage usage;
    std::vector<std::size_t> cited;  ///< passage numbers cited, in first-use order
    std::size_t upstream_attempts = 0;
    /// Why earlier generators of the chain did not answer ("openai: circuit breaker is open").
    std::vector<std::string> fallbacks;
    double first_token_ms = 0;
};

struct AnswerFailure {
    core::Error error;
    bool streamed = false;  ///< part of the answer reached the sink before the failure
    std::size_t upstream_attempts = 0;
    std::vector<std::string> fallbacks;
};

template <class T>
using AnswerResult = boost::system::result<T, AnswerFailure>;

[[noreturn]] void throw_exception_from_error(const AnswerFailure& failure,
                                             const boost::source_location& loc);

/// Runs CPU work (the extractive answerer) off the I/O thread; false when the compute queue is
/// full. http::RequestContext::run_compute fits.
using ComputeRunner = std::function<boost::asio::awaitable<bool>(std::function<void()>)>;

/// Health of one upstream, for /ready and metrics.
struct UpstreamStatus {
    std::string name;
    std::string dialect;
    std::string model;
    CircuitBreaker::State breaker = CircuitBreaker::State::kClosed;
    http::HttpClient::Stats pool;
};

class Answerer {
public:
    /// Builds the chain from llm.provider then llm.fallback (duplicates dropped; extractive is
    /// always last even when not listed, so an answer is always possible). kInvalidArgument
    /// names a bad upstream or prompt setting.
    static core::Result<std::unique_ptr<Answerer>> create(boost::asio::any_io_executor executor,
                                                          const core::LlmConfig& config,
                                                          UpstreamObserver* observer);
    ~Answerer();

    boost::asio::awaitable<AnswerResult<Answer>> answer(const AnswerRequest& request,
                                                        AnswerSink* sink,
                                                        const ComputeRunner& compute);

    /// The chain's names in order, e.g. {"openai", "extractive"}.
    std::vector<std::string> chain() const;
    /// True when the chain is extractive only (no network involved).
    bool offline() const { return upstreams_.empty(); }
    std::vector<UpstreamStatus> upstream_statuses() const;
    void close_idle();

private:
    Answerer(PromptBuilder prompt_builder, std::size_t extractive_max_sentences);

    boost::asio::awaitable<AnswerResult<Answer>> answer_extractive(const AnswerRequest& request,
                                                                   AnswerSink* sink,
                                                                   const ComputeRunner& compute);

    PromptBuilder prompt_builder_;
    ExtractiveGenerator extractive_;
    /// In chain order; the extractive generator follows them.
    std::vector<std::unique_ptr<Upstream>> upstreams_;
};

/// Passage numbers cited as [n] (also "[1, 2]" and "[1][2]") in `text` that are among
/// `valid`, in first-use order, without duplicates.
std::vector<std::size_t> find_citations(std::string_view text,
                                        const std::vector<std::size_t>& valid);

}  // namespace ragd::llm
