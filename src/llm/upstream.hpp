// One configured LLM upstream: its wire dialect, its pooled HTTP client, and the resilience
// around every call (circuit breaker, bulkhead, client-side quota, retries with backoff under a
// retry budget). An Upstream answers one prompt, streaming deltas to a sink as they arrive.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "core/cancel_token.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "http/client.hpp"
#include "llm/bulkhead.hpp"
#include "llm/circuit_breaker.hpp"
#include "llm/quota_limiter.hpp"
#include "llm/retry_policy.hpp"
#include "llm/wire_protocol.hpp"

namespace ragd::llm {

/// Receives an answer while it is generated. on_delta returns false when nobody listens any
/// more (the client left): the call then stops.
class AnswerSink {
public:
    virtual ~AnswerSink() = default;
    virtual boost::asio::awaitable<bool> on_delta(std::string_view text) = 0;
};

/// How a call ended, for metrics ("ok", "error", "timeout", "rejected", "cancelled", "http_4xx",
/// "http_5xx", "http_429").
struct CallReport {
    std::string outcome;
    double seconds = 0;
};

/// Told about every upstream call (thread-safe, cheap; from I/O threads).
class UpstreamObserver {
public:
    virtual ~UpstreamObserver() = default;
    virtual void on_call(std::string_view upstream, const CallReport& report) = 0;
    virtual void on_first_token(std::string_view upstream, double seconds) = 0;
    virtual void on_retry(std::string_view upstream) = 0;
    virtual void on_tokens(std::string_view upstream,
                           std::size_t prompt,
                           std::size_t completion) = 0;
    virtual void on_breaker_state(std::string_view upstream, CircuitBreaker::State state) = 0;
};

struct UpstreamAnswer {
    std::string text;
    Usage usage;
    std::size_t attempts = 0;
    double first_token_ms = 0;  ///< from the call's start to the first delta (0: none)
};

/// The outcome of a failed call: the error, and whether part of the answer already reached the
/// sink (then no fallback may follow).
struct UpstreamFailure {
    core::Error error;
    bool streamed = false;
    std::size_t attempts = 0;
};

template <class T>
using UpstreamResult = boost::system::result<T, UpstreamFailure>;

[[noreturn]] void throw_exception_from_error(const UpstreamFailure& failure,
                                             const boost::source_location& loc);

/// What a call carries besides the prompt.
struct CallContext {
    std::shared_ptr<core::CancelToken> cancel;
    /// Forwarded upstream as-is (X-Request-Id, traceparent, tracestate).
    std::vector<http::Header> forward_headers;
    std::size_t max_tokens = 512;
    double temperature = 0.2;
    bool stream = false;
};

class Upstream {
public:
    /// kInvalidArgument when the dialect is unknown, the URL or CA file is bad, or the API key
    /// variable named by the config is unset (an unset default variable is allowed: local
    /// servers need no key). Bedrock without an API key fetches its first temporary AWS
    /// credentials here (blocking; see bedrock_credentials), and fails when that fails.
    static core::Result<std::unique_ptr<Upstream>> create(boost::asio::any_io_executor executor,
                                                          const core::UpstreamConfig& upstream,
                                                          const core::LlmConfig& llm,
                                                          UpstreamObserver* observer);
    ~Upstream();
    Upstream(const Upstream&) = delete;
    Upstream& operator=(const Upstream&) = delete;

    const std::string& name() const { return name_; }
    const std::string& model() const { return model_; }
    std::string_view dialect() const { return protocol_->dialect(); }

    /// One answer: breaker, bulkhead and quota admission, then attempts with retries (only
    /// before the first delta reached `sink`). Errors: kUnavailable (breaker open, upstream
    /// failing, cancelled), kOverloaded (bulkhead or quota full), kTimeout, kInvalidArgument
    /// (the upstream refused the request: 4xx).
    boost::asio::awaitable<UpstreamResult<UpstreamAnswer>> call(const Prompt& prompt,
                                                                const CallContext& context,
                                                                AnswerSink* sink);

    CircuitBreaker::State breaker_state() const { return breaker_.state(); }
    http::HttpClient::Stats pool_stats() const { return client_.stats(); }
    void close_idle() { client_.close_idle(); }

private:
    struct Attempt;
    Upstream(boost::asio::any_io_executor executor,
             const core::UpstreamConfig& upstream,
             const core::LlmConfig& llm,
             std::unique_ptr<WireProtocol> protocol,
             Endpoint endpoint,
             http::ClientOptions client_options,
             UpstreamObserver* observer);

    boost::asio::awaitable<Attempt> attempt_once(const WireRequest& request,
                                                 const CallContext& context,
                                                 AnswerSink* sink,
                                                 std::chrono::steady_clock::time_point started,
                                                 UpstreamAnswer& answer);
    void report(std::string_view outcome, std::chrono::steady_clock::time_point started);

    std::string name_;
    std::string model_;
    std::unique_ptr<WireProtocol> protocol_;
    Endpoint endpoint_;
    http::HttpClient client_;
    UpstreamObserver* observer_;
    CircuitBreaker breaker_;
    Bulkhead bulkhead_;
    QuotaLimiter quota_;
    RetryPolicy retry_policy_;
    RetryBudget retry_budget_;
    std::chrono::milliseconds quota_wait_;
    std::chrono::milliseconds total_timeout_;
};

/// The provider's public API and default model, for an empty base_url / model (Bedrock's API
/// is regional).
std::string default_base_url(std::string_view dialect, std::string_view aws_region = {});
std::string default_model(std::string_view dialect);
/// OPENAI_API_KEY / ANTHROPIC_API_KEY / AWS_BEARER_TOKEN_BEDROCK.
std::string default_api_key_env(std::string_view dialect);

}  // namespace ragd::llm
