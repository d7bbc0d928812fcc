// Upstream::call: admission (breaker → bulkhead → quota), then attempts. Every wait is a
// co_await on the caller's strand; cancellation (client gone) reaches the HTTP client through
// the CancelToken and ends the call without counting against the upstream's health.
#include "llm/upstream.hpp"

#include <cstdlib>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "http/client_url.hpp"
#include "llm/bedrock_auth.hpp"
#include "llm/client_outcome.hpp"

namespace ragd::llm {
namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

/// Largest error body read for its message; largest non-streamed answer.
constexpr std::size_t kErrorBodyBytes = 64 * 1024;
constexpr std::size_t kCompletionBodyBytes = 8 * 1024 * 1024;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

/// Waits `delay` unless `cancel` fires first; false when cancelled.
net::awaitable<bool> sleep_for(std::chrono::nanoseconds delay,
                               const std::shared_ptr<core::CancelToken>& cancel) {
    net::steady_timer timer(co_await net::this_coro::executor, delay);
    core::CancelRegistration registration(
        cancel, [&timer] { net::post(timer.get_executor(), [&timer] { timer.cancel(); }); });
    auto [ec] = co_await timer.async_wait(net::as_tuple(net::use_awaitable));
    co_return !ec && !(cancel && cancel->cancelled());
}

/// Failures that say the upstream is unhealthy (they move the breaker); a 4xx other than 429
/// is our request's fault, and cancellation is our client's.
bool counts_against_health(const AttemptOutcome& outcome) {
    switch (outcome.kind) {
        case AttemptOutcome::Kind::kHttpStatus:
            return outcome.http_status == 429 || outcome.http_status >= 500;
        case AttemptOutcome::Kind::kCancelled:
            return false;
        default:
            return true;
    }
}

std::string outcome_label(const AttemptOutcome& outcome) {
    switch (outcome.kind) {
        case AttemptOutcome::Kind::kHttpStatus:
            if (outcome.http_status == 429) {
                return "http_429";
            }
            return outcome.http_status >= 500 ? "http_5xx" : "http_4xx";
        case AttemptOutcome::Kind::kConnectTimeout:
        case AttemptOutcome::Kind::kTimeout:
            return "timeout";
        case AttemptOutcome::Kind::kCancelled:
            return "cancelled";
        case AttemptOutcome::Kind::kConnectError:
            return "connect_error";
        case AttemptOutcome::Kind::kConnectionReset:
            return "reset";
    }
    return "error";
}

core::ErrorCode error_code_for(const AttemptOutcome& outcome) {
    switch (outcome.kind) {
        case AttemptOutcome::Kind::kHttpStatus:
            if (outcome.http_status == 429) {
                return core::ErrorCode::kOverloaded;
            }
            return outcome.http_status >= 500 ? core::ErrorCode::kUnavailable
                                              : core::ErrorCode::kInvalidArgument;
        case AttemptOutcome::Kind::kConnectTimeout:
        case AttemptOutcome::Kind::kTimeout:
            return core::ErrorCode::kTimeout;
        default:
            return core::ErrorCode::kUnavailable;
    }
}

}  // namespace

void throw_exception_from_error(const UpstreamFailure& failure, const boost::source_location&) {
    throw core::ErrorException(failure.error);
}

std::string default_base_url(std::string_view dialect, std::string_view aws_region) {
    if (dialect == "bedrock") {
        return "https://bedrock-runtime." + std::string(aws_region) + ".amazonaws.com";
    }
    return dialect == "anthropic" ? "https://api.anthropic.com" : "https://api.openai.com";
}

std::string default_model(std::string_view dialect) {
    if (dialect == "bedrock") {
        return "anthropic.claude-3-haiku-20240307-v1:0";
    }
    return dialect == "anthropic" ? "claude-3-5-haiku-latest" : "gpt-4o-mini";
}

std::string default_api_key_env(std::string_view dialect) {
    if (dialect == "bedrock") {
        return "AWS_BEARER_TOKEN_BEDROCK";
    }
    return dialect == "anthropic" ? "ANTHROPIC_API_KEY" : "OPENAI_API_KEY";
}

/// One attempt's result: success (answer filled in), or a failure described for the retry
/// policy, with a message that never contains request headers.
struct Upstream::Attempt {
    bool ok = false;
    AttemptOutcome outcome;
    std::string detail;
};

core::Result<std::unique_ptr<Upstream>> Upstream::create(net::any_io_executor executor,
                                                         const core::UpstreamConfig& upstream,
                                                         const core::LlmConfig& llm,
                                                         UpstreamObserver* observer) {
    auto protocol = make_wire_protocol(upstream.provider);
    if (!protocol) {
        return core::fail(core::ErrorCode::kInvalidArgument,
                          "llm upstream '" + upstream.name + "': unknown provider '" +
                              upstream.provider + "' (openai, anthropic or bedrock)");
    }
    Endpoint endpoint;
    endpoint.api_key_header = upstream.api_key_header;
    endpoint.extra_query = upstream.extra_query;
    endpoint.anthropic_version = llm.anthropic_version;
    auto headers = parse_header_list(upstream.extra_headers);
    if (!headers) {
        return core::fail(core::ErrorCode::kInvalidArgument,
                          "llm upstream '" + upstream.name + "': " + headers.error().detail);
    }
    endpoint.extra_headers = std::move(*headers);
    const std::string key_env = upstream.api_key_env.empty()
                                    ? default_api_key_env(upstream.provider)
                                    : upstream.api_key_env;
    if (const char* key = std::getenv(key_env.c_str()); key != nullptr && *key != '\0') {
        endpoint.api_key = key;
    } else if (!upstream.api_key_env.empty()) {
        return core::fail(core::ErrorCode::kInvalidArgument,
                          "llm upstream '" + upstream.name + "': environment variable " + key_env +
                              " (api_key_env) is not set");
    }

    const bool bedrock = upstream.provider == "bedrock";
    if (bedrock) {
        auto region = bedrock_region(upstream);
        if (!region) {
            return region.error();
        }
        endpoint.aws_region = std::move(*region);
    }

    http::ClientOptions options;
    options.base_url = upstream.base_url.empty()
                           ? default_base_url(upstream.provider, endpoint.aws_region)
                           : upstream.base_url;
    if (bedrock) {
        // SigV4 signs the Host header and the whole path the client sends.
        auto url = http::parse_upstream_url(options.base_url);
        if (url) {
            endpoint.host_header = url->host_header();
            endpoint.path_prefix = url->path_prefix;
        }
    }
    options.max_connections = llm.max_connections;
    options.max_idle = std::min<std::size_t>(llm.max_connections, 256);
    options.connect_timeout = llm.connect_timeout;
    options.first_byte_timeout = llm.first_token_timeout;
    options.read_idle_timeout = llm.idle_timeout;
    options.total_timeout = llm.total_timeout;
    options.ca_file = llm.ca_file;
    if (auto valid = http::HttpClient::validate(options); !valid) {
        return core::fail(core::ErrorCode::kInvalidArgument,
                          "llm upstream '" + upstream.name + "': " + valid.error().detail);
    }
    if (bedrock && endpoint.api_key.empty()) {
        // Last: a fetch of temporary credentials may take a while, and a configuration error
        // found above would make it wasted.
        auto credentials = bedrock_credentials(upstream, llm, endpoint.aws_region);
        if (!credentials) {
            return credentials.error();
        }
        endpoint.aws_credentials = std::move(*credentials);
    }
    return std::unique_ptr<Upstream>(new Upstream(std::move(executor),
                                                  upstream,
                                                  llm,
                                                  std::move(protocol),
                                                  std::move(endpoint),
                                                  std::move(options),
                                                  observer));
}

namespace {

CircuitBreakerOptions breaker_options(const core::LlmConfig& llm) {
    CircuitBreakerOptions options;
    options.consecutive_failures = llm.breaker_failures;
    options.open_duration = llm.breaker_open;
    return options;
}

BulkheadOptions bulkhead_options(const core::LlmConfig& llm) {
    BulkheadOptions options;
    options.max_concurrent = llm.max_concurrent;
    options.max_queue = llm.max_queue;
    options.queue_timeout = llm.queue_timeout;
    return options;
}

QuotaOptions quota_options(const core::LlmConfig& llm) {
    QuotaOptions options;
    options.requests_per_minute = llm.requests_per_minute;
    options.tokens_per_minute = llm.tokens_per_minute;
    return options;
}

RetryOptions retry_options(const core::LlmConfig& llm) {
    RetryOptions options;
    options.max_attempts = llm.max_attempts;
    return options;
}

RetryBudgetOptions budget_options(const core::LlmConfig& llm) {
    RetryBudgetOptions options;
    options.budget_ratio = llm.retry_budget_ratio;
    return options;
}

}  // namespace

Upstream::Upstream(net::any_io_executor executor,
                   const core::UpstreamConfig& upstream,
                   const core::LlmConfig& llm,
                   std::unique_ptr<WireProtocol> protocol,
                   Endpoint endpoint,
                   http::ClientOptions client_options,
                   UpstreamObserver* observer)
    : name_(upstream.name),
      model_(upstream.model.empty() ? default_model(upstream.provider) : upstream.model),
      protocol_(std::move(protocol)),
      endpoint_(std::move(endpoint)),
      client_(std::move(executor), std::move(client_options)),
      observer_(observer),
      breaker_(breaker_options(llm),
               [this](CircuitBreaker::State, CircuitBreaker::State to) {
                   if (observer_ != nullptr) {
                       observer_->on_breaker_state(name_, to);
                   }
               }),
      bulkhead_(bulkhead_options(llm)),
      quota_(quota_options(llm)),
      retry_policy_(retry_options(llm)),
      retry_budget_(budget_options(llm)),
      quota_wait_(llm.quota_wait),
      total_timeout_(llm.total_timeout) {}

Upstream::~Upstream() = default;

void Upstream::report(std::string_view outcome, Clock::time_point started) {
    if (observer_ != nullptr) {
        observer_->on_call(name_, CallReport{std::string(outcome), seconds_since(started)});
    }
}

net::awaitable<UpstreamResult<UpstreamAnswer>> Upstream::call(const Prompt& prompt,
                                                              const CallContext& context,
                                                              AnswerSink* sink) {
    const auto started = Clock::now();
    const auto fail_with = [&](core::ErrorCode code,
                               std::string detail,
                               std::string_view label,
                               bool streamed,
                               std::size_t attempts) {
        report(label, started);
        return UpstreamFailure{
            core::Error(code, name_ + ": " + std::move(detail)), streamed, attempts};
    };

    CircuitBreaker::Permit permit = breaker_.try_acquire();
    if (!permit) {
        co_return fail_with(
            core::ErrorCode::kUnavailable, "circuit breaker is open", "rejected", false, 0);
    }
    auto slot = co_await bulkhead_.acquire(context.cancel);
    if (!slot) {
        co_return fail_with(slot.error().code, slot.error().detail, "rejected", false, 0);
    }
    const std::size_t estimated = prompt.estimated_tokens + context.max_tokens;
    QuotaLimiter::Reservation reservation = quota_.reserve(estimated);
    if (!reservation && reservation.wait() <= quota_wait_) {
        if (!co_await sleep_for(reservation.wait(), context.cancel)) {
            co_return fail_with(core::ErrorCode::kUnavailable, "cancelled", "cancelled", false, 0);
        }
        reservation = quota_.reserve(estimated);
    }
    if (!reservation) {
        co_return fail_with(core::ErrorCode::kOverloaded,
                            "client-side quota (requests/tokens per minute) is spent",
                            "rejected",
                            false,
                            0);
    }

    CallParams params;
    params.model = model_;
    params.max_tokens = context.max_tokens;
    params.temperature = context.temperature;
    params.stream = context.stream;
    params.now = std::chrono::system_clock::now();
    WireRequest request = protocol_->build_request(prompt, params, endpoint_);
    for (const http::Header& header : context.forward_headers) {
        request.headers.push_back(header);
    }

    retry_budget_.record_request();
    UpstreamAnswer answer;
    const auto deadline = started + total_timeout_;
    for (std::size_t attempt_idx = 1;; ++attempt_idx) {
        answer.attempts = attempt_idx;
        Attempt attempt = co_await attempt_once(request, context, sink, started, answer);
        if (attempt.ok) {
            permit.record_success();
            reservation.settle(answer.usage.reported
                                   ? answer.usage.prompt_tokens + answer.usage.completion_tokens
                                   : estimated);
            if (observer_ != nullptr && answer.usage.reported) {
                observer_->on_tokens(
                    name_, answer.usage.prompt_tokens, answer.usage.completion_tokens);
            }
            report("ok", started);
            co_return answer;
        }
        const bool streamed = attempt.outcome.streamed_to_client;
        if (attempt.outcome.kind == AttemptOutcome::Kind::kCancelled) {
            reservation.settle(estimated);
            co_return fail_with(core::ErrorCode::kUnavailable,
                                "cancelled",
                                "cancelled",
                                streamed,
                                attempt_idx);  // permit abandoned: not the upstream's fault
        }
        const auto decision =
            retry_policy_.decide(attempt.outcome, attempt_idx, deadline - Clock::now());
        if (!decision.retry() || !retry_budget_.try_acquire_retry()) {
            if (counts_against_health(attempt.outcome)) {
                permit.record_failure();
            }
            if (attempt.outcome.kind == AttemptOutcome::Kind::kConnectError) {
                reservation.cancel();
            } else {
                reservation.settle(estimated);
            }
            const std::string retries =
                attempt_idx > 1 ? " (after " + std::to_string(attempt_idx) + " attempts)" : "";
            co_return fail_with(error_code_for(attempt.outcome),
                                attempt.detail + retries,
                                outcome_label(attempt.outcome),
                                streamed,
                                attempt_idx);
        }
        if (observer_ != nullptr) {
            observer_->on_retry(name_);
        }
        if (!co_await sleep_for(decision.delay, context.cancel)) {
            co_return fail_with(
                core::ErrorCode::kUnavailable, "cancelled", "cancelled", false, attempt_idx);
        }
    }
}

net::awaitable<Upstream::Attempt> Upstream::attempt_once(const WireRequest& wire,
                                                         const CallContext& context,
                                                         AnswerSink* sink,
                                                         Clock::time_point started,
                                                         UpstreamAnswer& answer) {
    Attempt attempt;
    http::ClientRequest request;
    request.method = http::Method::kPost;
    request.target = wire.target;
    request.headers = wire.headers;
    request.body = wire.body;
    auto sent = co_await client_.send(std::move(request), context.cancel);
    if (!sent) {
        attempt.outcome.kind = attempt_kind_for(sent.error().kind);
        attempt.detail = sent.error().message;
        co_return attempt;
    }
    http::ClientResponse& response = **sent;
    if (response.status() < 200 || response.status() > 299) {
        attempt.outcome.kind = AttemptOutcome::Kind::kHttpStatus;
        attempt.outcome.http_status = response.status();
        attempt.outcome.retry_after = response_retry_delay(response);
        auto body = co_await response.read_all(kErrorBodyBytes);
        attempt.detail = "HTTP " + std::to_string(response.status()) +
                         (body ? ": " + WireProtocol::error_detail(*body) : std::string());
        co_return attempt;
    }

    if (!context.stream) {
        auto body = co_await response.read_all(kCompletionBodyBytes);
        if (!body) {
            attempt.outcome.kind = attempt_kind_for(body.error().kind);
            attempt.detail = body.error().message;
            co_return attempt;
        }
        auto completion = protocol_->parse_completion(*body);
        if (!completion) {
            attempt.outcome.kind = AttemptOutcome::Kind::kConnectionReset;
            attempt.detail = completion.error().detail;
            co_return attempt;
        }
        answer.text = std::move(completion->text);
        answer.usage = completion->usage;
        // Not streamed: the first token arrives with the whole answer.
        answer.first_token_ms = seconds_since(started) * 1000.0;
        attempt.ok = true;
        co_return attempt;
    }

    auto decoder = protocol_->stream_decoder();
    std::vector<StreamEvent> events;
    answer.text.clear();
    bool done = false;
    while (!done) {
        auto piece = co_await response.read_some();
        if (!piece) {
            attempt.outcome.kind = attempt_kind_for(piece.error().kind);
            attempt.outcome.streamed_to_client = !answer.text.empty();
            attempt.detail = piece.error().message;
            co_return attempt;
        }
        if (!piece->has_value()) {
            break;  // end of body
        }
        events.clear();
        decoder->feed(**piece, events);
        for (StreamEvent& event : events) {
            switch (event.kind) {
                case StreamEvent::Kind::kDelta:
                    if (answer.text.empty()) {
                        answer.first_token_ms = seconds_since(started) * 1000.0;
                        if (observer_ != nullptr) {
                            observer_->on_first_token(name_, answer.first_token_ms / 1000.0);
                        }
                    }
                    answer.text += event.text;
                    if (sink != nullptr && !co_await sink->on_delta(event.text)) {
                        attempt.outcome.kind = AttemptOutcome::Kind::kCancelled;
                        attempt.outcome.streamed_to_client = true;
                        attempt.detail = "client went away";
                        co_return attempt;
                    }
                    break;
                case StreamEvent::Kind::kUsage:
                    answer.usage = event.usage;
                    break;
                case StreamEvent::Kind::kDone:
                    done = true;
                    break;
                case StreamEvent::Kind::kError:
                    attempt.outcome.kind = AttemptOutcome::Kind::kConnectionReset;
                    attempt.outcome.streamed_to_client = !answer.text.empty();
                    attempt.detail = "stream error: " + event.text;
                    co_return attempt;
            }
            if (done) {
                break;
            }
        }
    }
    if (!done) {
        attempt.outcome.kind = AttemptOutcome::Kind::kConnectionReset;
        attempt.outcome.streamed_to_client = !answer.text.empty();
        attempt.detail = "stream ended before its final event";
        co_return attempt;
    }
    if (answer.first_token_ms == 0) {
        answer.first_token_ms = seconds_since(started) * 1000.0;
    }
    // Read to the end of the body (normally just the chunked terminator) so the connection goes
    // back to the pool; an upstream that keeps talking after its final event is not waited for.
    for (int drain_idx = 0; drain_idx < 4; ++drain_idx) {
        auto rest = co_await response.read_some();
        if (!rest || !rest->has_value()) {
            break;
        }
    }
    attempt.ok = true;
    co_return attempt;
}

}  // namespace ragd::llm
