// One embed call: the texts (with their prefix) in batches → each batch: breaker permit → POST →
// status check → parse, retried per llm::RetryPolicy. Only the service's own failures
// (connection errors, timeouts, 5xx, 429, malformed answers) move the breaker.
#include "embed/http_embedder.hpp"

#include <optional>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include "core/hash.hpp"
#include "core/utf8.hpp"
#include "embed/embedding_protocol.hpp"
#include "http/client.hpp"
#include "llm/circuit_breaker.hpp"
#include "llm/client_outcome.hpp"
#include "llm/retry_policy.hpp"

namespace ragd::embed {
namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

core::Error failure(core::ErrorCode code, std::string detail) {
    return core::fail(code, "embeddings service: " + std::move(detail));
}

llm::AttemptOutcome outcome_for(http::ClientErrorKind kind) {
    llm::AttemptOutcome outcome;
    outcome.kind = llm::attempt_kind_for(kind);
    return outcome;
}

}  // namespace

/// What one embed call may spend: ingest calls wait as long as their attempts take; a question
/// has a deadline (embed.query_timeout_ms) and is turned away while the breaker is open.
struct CallLimits {
    /// Fires when the caller goes away or the deadline passes; aborts requests in flight.
    std::shared_ptr<core::CancelToken> cancel;
    /// The caller's own token (may be null): tells a client that left from a deadline.
    std::shared_ptr<core::CancelToken> caller;
    Clock::time_point deadline = Clock::time_point::max();
    bool use_breaker = false;

    bool deadline_passed() const {
        return deadline != Clock::time_point::max() && Clock::now() >= deadline;
    }
};

struct HttpEmbedder::Impl {
    Impl(const core::EmbedConfig& config, http::ClientOptions options, std::string key)
        : work(net::make_work_guard(context)),
          client(std::make_unique<http::HttpClient>(context.get_executor(), std::move(options))),
          model(config.model),
          api_key(std::move(key)),
          dimensions(config.dimensions),
          send_dimensions(config.send_dimensions),
          batch_size(config.batch_size),
          concurrency(config.concurrency),
          timeout(config.timeout),
          query_timeout(config.query_timeout),
          query_prefix(config.query_prefix),
          document_prefix(config.document_prefix),
          policy(llm::RetryOptions{config.max_attempts,
                                   std::chrono::milliseconds(200),
                                   std::chrono::milliseconds(5'000),
                                   std::chrono::milliseconds(30'000)}) {
        thread = std::thread([this] { context.run(); });
    }

    ~Impl() {
        client.reset();  // posts the pool's shutdown to the context, which still runs
        work.reset();
        thread.join();
    }

    /// A question's texts within query_timeout: the breaker is asked, and the deadline fires
    /// the call's token (a timer on `context`). Runs on `context`.
    net::awaitable<core::Result<std::vector<Vector>>> embed_question(
        std::vector<std::string> texts, std::shared_ptr<core::CancelToken> caller) {
        CallLimits limits;
        limits.cancel = core::CancelToken::create();
        limits.caller = caller;
        limits.deadline = Clock::now() + query_timeout;
        limits.use_breaker = true;
        const core::CancelRegistration forward(caller,
                                               [token = limits.cancel] { token->cancel(); });
        net::steady_timer timer(context, limits.deadline);
        timer.async_wait([token = limits.cancel](const boost::system::error_code& ec) {
            if (!ec) {
                token->cancel();
            }
        });
        co_return co_await embed_all(std::move(texts), std::move(limits));
    }

    /// Every text of one call, in batches, `concurrency` batches at a time. Runs on `context`.
    net::awaitable<core::Result<std::vector<Vector>>> embed_all(std::vector<std::string> texts,
                                                                CallLimits limits) {
        std::vector<Vector> vectors(texts.size());
        const std::size_t batches = (texts.size() + batch_size - 1) / batch_size;
        std::optional<core::Error> first_error;
        std::size_t next = 0;
        while (next < batches && !first_error) {
            const std::size_t wave = std::min(concurrency, batches - next);
            std::size_t pending = wave;
            net::steady_timer done(context, Clock::time_point::max());
            for (std::size_t in_wave = 0; in_wave < wave; ++in_wave) {
                const std::size_t begin = (next + in_wave) * batch_size;
                const std::size_t end = std::min(texts.size(), begin + batch_size);
                net::co_spawn(
                    context,
                    [&, begin, end]() -> net::awaitable<void> {
                        auto embedded = co_await embed_batch(
                            std::span<const std::string>(texts.data() + begin, end - begin),
                            limits);
                        if (!embedded) {
                            if (!first_error) {
                                first_error = embedded.error();
                            }
                        } else {
                            for (std::size_t i = 0; i < embedded->size(); ++i) {
                                vectors[begin + i] = std::move((*embedded)[i]);
                            }
                        }
                        if (--pending == 0) {
                            done.cancel();
                        }
                    },
                    net::detached);
            }
            // One thread runs the context: `pending` needs no atomics, and the timer's cancel
            // cannot be lost between the check and the wait.
            while (pending > 0) {
                boost::system::error_code ignored;
                co_await done.async_wait(net::redirect_error(net::use_awaitable, ignored));
            }
            next += wave;
        }
        if (first_error) {
            co_return *first_error;
        }
        co_return vectors;
    }

    net::awaitable<core::Result<std::vector<Vector>>> embed_batch(
        std::span<const std::string> texts, const CallLimits& limits) {
        std::string body = build_embeddings_request(
            model, texts, send_dimensions ? std::optional<std::size_t>(dimensions) : std::nullopt);
        // A float prints as up to ~16 bytes in JSON; leave room for formatting and metadata.
        const std::size_t max_response = std::size_t{1024} * 1024 + texts.size() * dimensions * 32;
        const auto started = Clock::now();
        const auto budget = timeout * static_cast<long>(policy.options().max_attempts);
        for (std::size_t attempt = 1;; ++attempt) {
            // Ingest calls neither ask nor move the breaker: it guards the query path only.
            llm::CircuitBreaker::Permit permit;
            if (limits.use_breaker) {
                permit = breaker.try_acquire();
                if (!permit) {
                    co_return failure(core::ErrorCode::kUnavailable, "circuit breaker open");
                }
            }
            http::ClientRequest request;
            request.method = http::Method::kPost;
            request.target = "/v1/embeddings";
            request.body = body;
            request.headers.push_back({"Content-Type", "application/json"});
            request.headers.push_back({"Accept", "application/json"});
            if (!api_key.empty()) {
                request.headers.push_back({"Authorization", "Bearer " + api_key});
            }
            llm::AttemptOutcome outcome;
            core::Error error(core::ErrorCode::kUnavailable, "");
            auto sent = co_await client->send(std::move(request), limits.cancel);
            if (sent) {
                http::ClientResponse& response = **sent;
                auto answer = co_await response.read_all(max_response);
                if (answer) {
                    const int status = response.status();
                    if (status >= 200 && status <= 299) {
                        auto vectors = parse_embeddings_response(*answer, texts.size(), dimensions);
                        if (!vectors) {
                            permit.record_failure();
                            co_return failure(vectors.error().code, vectors.error().detail);
                        }
                        permit.record_success();
                        co_return std::move(*vectors);
                    }
                    outcome.kind = llm::AttemptOutcome::Kind::kHttpStatus;
                    outcome.http_status = status;
                    outcome.retry_after = llm::response_retry_delay(response);
                    const bool service_fault = status == 429 || status >= 500;
                    if (service_fault) {
                        permit.record_failure();
                    } else {
                        permit.record_success();  // reachable and answering: our request's fault
                    }
                    error = failure(service_fault ? core::ErrorCode::kUnavailable
                                                  : core::ErrorCode::kInvalidArgument,
                                    "HTTP " + std::to_string(status) + ": " +
                                        core::sanitize_utf8(answer->substr(0, 300)));
                } else {
                    outcome = outcome_for(answer.error().kind);
                    error =
                        failure(llm::error_code_for(answer.error().kind), answer.error().message);
                }
            } else {
                outcome = outcome_for(sent.error().kind);
                error = failure(llm::error_code_for(sent.error().kind), sent.error().message);
            }
            if (outcome.kind == llm::AttemptOutcome::Kind::kCancelled && limits.deadline_passed()) {
                // Too slow for a question: the service's fault, unlike a client that left.
                permit.record_failure();
                co_return deadline_failure();
            }
            if (outcome.kind != llm::AttemptOutcome::Kind::kHttpStatus &&
                outcome.kind != llm::AttemptOutcome::Kind::kCancelled) {
                permit.record_failure();
            }
            // Unlike an answer, an embedding has no fallback: a timed-out batch is worth
            // another try as long as the call's budget allows it.
            if (outcome.kind == llm::AttemptOutcome::Kind::kTimeout) {
                outcome.kind = llm::AttemptOutcome::Kind::kConnectTimeout;
            }
            const auto now = Clock::now();
            Clock::duration time_left =
                now - started < budget ? budget - (now - started) : Clock::duration::zero();
            if (limits.deadline != Clock::time_point::max()) {
                time_left = std::min(
                    time_left,
                    limits.deadline > now ? limits.deadline - now : Clock::duration::zero());
            }
            const auto decision = policy.decide(outcome, attempt, time_left);
            if (!decision.retry()) {
                if (attempt > 1) {
                    error.detail += " (after " + std::to_string(attempt) + " attempts)";
                }
                co_return error;
            }
            // Shared with the wake-up, which may still be queued when this frame has moved on.
            auto pause = std::make_shared<net::steady_timer>(context, decision.delay);
            const core::CancelRegistration wake(
                limits.cancel, [pause, this] { net::post(context, [pause] { pause->cancel(); }); });
            boost::system::error_code ignored;
            co_await pause->async_wait(net::redirect_error(net::use_awaitable, ignored));
            if (limits.cancel && limits.cancel->cancelled()) {
                co_return limits.deadline_passed()
                    ? deadline_failure()
                    : failure(core::ErrorCode::kUnavailable, "cancelled");
            }
        }
    }

    core::Error deadline_failure() const {
        return failure(core::ErrorCode::kTimeout,
                       "no answer within embed.query_timeout_ms (" +
                           std::to_string(query_timeout.count()) + " ms)");
    }

    std::vector<std::string> with_prefix(std::span<const std::string_view> texts,
                                         EmbedKind kind) const {
        const std::string& prefix = kind == EmbedKind::kQuery ? query_prefix : document_prefix;
        std::vector<std::string> out;
        out.reserve(texts.size());
        for (std::string_view text : texts) {
            std::string full;
            full.reserve(prefix.size() + text.size());
            full.append(prefix).append(text);
            out.push_back(std::move(full));
        }
        return out;
    }

    net::io_context context{1};
    net::executor_work_guard<net::io_context::executor_type> work;
    std::unique_ptr<http::HttpClient> client;
    std::thread thread;
    std::string model;
    std::string api_key;
    std::size_t dimensions;
    bool send_dimensions;
    std::size_t batch_size;
    std::size_t concurrency;
    std::chrono::milliseconds timeout;
    std::chrono::milliseconds query_timeout;
    std::string query_prefix;
    std::string document_prefix;
    llm::RetryPolicy policy;
    llm::CircuitBreaker breaker;
};

core::Result<std::unique_ptr<HttpEmbedder>> HttpEmbedder::create(const core::EmbedConfig& config) {
    auto api_key = llm::api_key_from_env(config.api_key_env, "embed.api_key_env");
    if (!api_key) {
        return core::fail(core::ErrorCode::kInvalidArgument, "embed: " + api_key.error().detail);
    }
    http::ClientOptions options =
        http::one_deadline_options(config.base_url, config.timeout, config.ca_file, 16);
    if (auto valid = http::HttpClient::validate(options); !valid) {
        return core::fail(core::ErrorCode::kInvalidArgument, "embed: " + valid.error().detail);
    }
    auto impl = std::make_unique<Impl>(config, std::move(options), std::move(*api_key));
    return std::unique_ptr<HttpEmbedder>(new HttpEmbedder(config, std::move(impl)));
}

HttpEmbedder::HttpEmbedder(const core::EmbedConfig& config, std::unique_ptr<Impl> impl)
    : model_id_("openai:" + config.model + ":" + std::to_string(config.dimensions)),
      dimensions_(config.dimensions),
      impl_(std::move(impl)) {
    if (!config.document_prefix.empty()) {
        model_id_ += ":p" + core::sha256_hex(config.document_prefix).substr(0, 8);
    }
}

HttpEmbedder::~HttpEmbedder() = default;

core::Result<std::vector<Vector>> HttpEmbedder::embed(std::span<const std::string_view> texts,
                                                      EmbedKind kind) const {
    if (texts.empty()) {
        return std::vector<Vector>{};
    }
    std::future<core::Result<std::vector<Vector>>> result =
        net::co_spawn(impl_->context,
                      impl_->embed_all(impl_->with_prefix(texts, kind), CallLimits{}),
                      net::use_future);
    return result.get();
}

net::awaitable<core::Result<std::vector<Vector>>> HttpEmbedder::embed_async(
    std::vector<std::string> texts,
    EmbedKind kind,
    std::shared_ptr<core::CancelToken> cancel) const {
    if (texts.empty()) {
        co_return std::vector<Vector>{};
    }
    std::vector<std::string_view> views(texts.begin(), texts.end());
    auto prefixed = impl_->with_prefix(views, kind);
    co_return co_await net::co_spawn(impl_->context,
                                     impl_->embed_question(std::move(prefixed), std::move(cancel)),
                                     net::use_awaitable);
}

const char* HttpEmbedder::breaker_state() const {
    return llm::circuit_state_name(impl_->breaker.state());
}

}  // namespace ragd::embed
