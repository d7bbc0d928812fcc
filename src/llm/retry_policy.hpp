// When to retry an upstream LLM call and how long to wait first: the classification of attempt
// outcomes, exponential backoff with full jitter, the server's Retry-After, and a retry budget so
// that retries cannot multiply the load on an upstream that is already down.
//
// Typical use by a provider call (one RetryPolicy and one RetryBudget per upstream):
//   budget.record_request(now);
//   for (std::size_t attempt = 1;; ++attempt) {
//       ... make the attempt; on failure describe it in an AttemptOutcome ...
//       const auto decision = policy.decide(outcome, attempt, deadline - Clock::now());
//       if (!decision.retry() || !budget.try_acquire_retry(Clock::now())) { fall back; }
//       co_await sleep(decision.delay);
//   }
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string_view>

namespace ragd::llm {

/// How one attempt failed, as the provider observed it.
struct AttemptOutcome {
    enum class Kind {
        kConnectError,     ///< DNS, refused, TLS handshake failed: the request never got through
        kConnectTimeout,   ///< connect or TLS handshake did not finish in time
        kHttpStatus,       ///< the upstream answered with a non-2xx `http_status`
        kConnectionReset,  ///< the connection broke (reset, EOF, unparsable stream) mid-response
        kTimeout,          ///< the response or the next token did not arrive in time
        kCancelled,        ///< our own client went away or our deadline passed
    };
    Kind kind = Kind::kConnectError;
    int http_status = 0;  ///< for kHttpStatus
    /// True once any token of this answer has been forwarded to the client: a retry would
    /// repeat or contradict what the client already has, so nothing is retried after that.
    bool streamed_to_client = false;
    /// The delay the server asked for (see server_retry_delay()), if it sent one.
    std::optional<std::chrono::milliseconds> retry_after;
};

struct RetryOptions {
    /// Attempts in total, the first included; 1 disables retries. Default 3.
    std::size_t max_attempts = 3;
    /// Backoff before retry k (k = 1, 2, ...) is uniform in [0, min(max_delay,
    /// base_delay*2^(k-1))].
    std::chrono::milliseconds base_delay{100};   ///< default 100 ms
    std::chrono::milliseconds max_delay{2'000};  ///< default 2 s
    /// A server asking (Retry-After) for a longer wait than this is not retried: fall back
    /// instead. Default 10 s.
    std::chrono::milliseconds max_retry_after{10'000};
};

struct RetryDecision {
    enum class Verdict {
        kRetry,              ///< retry after `delay`
        kNotRetryable,       ///< the outcome is not worth retrying (4xx, after streaming, ...)
        kAttemptsExhausted,  ///< max_attempts reached
        kRetryAfterTooLong,  ///< the server asked for a wait longer than max_retry_after
        kDeadline,           ///< the wait would not end before the request's deadline
    };
    Verdict verdict = Verdict::kNotRetryable;
    std::chrono::milliseconds delay{0};  ///< for kRetry: how long to wait before the next attempt

    bool retry() const { return verdict == Verdict::kRetry; }
};

/// "retry", "not_retryable", "attempts_exhausted", "retry_after_too_long", "deadline".
const char* retry_verdict_name(RetryDecision::Verdict verdict);

/// Stateless apart from its options and random source.
///
/// Thread-safety: const and safe to share between threads, provided the injected random source
/// is (the default one is thread-local).
class RetryPolicy {
public:
    /// Returns a uniformly distributed value in [0, 1).
    using RandomUnit = std::function<double()>;

    /// An empty `random` uses a thread-local engine seeded from std::random_device.
    explicit RetryPolicy(RetryOptions options = {}, RandomUnit random = {});

    /// Retryable: connect errors and timeouts; HTTP 429, 500, 502, 503, 504 and 529 (Anthropic's
    /// "overloaded"); connection resets; all of them only while nothing was streamed to the client.
    /// Not retryable: other statuses (400, 401, 403, 404, ...), response timeouts (the deadline is
    /// mostly spent; a fallback has better odds), cancellation.
    static bool is_retryable(const AttemptOutcome& outcome);

    /// The jittered backoff before the retry that follows attempt number `attempts_made` (>= 1).
    std::chrono::milliseconds backoff(std::size_t attempts_made) const;

    /// Decides after attempt number `attempts_made` (1-based) failed with `outcome`. The delay is
    /// the server's retry_after when given, else backoff(). `time_left` is the time until the
    /// request's deadline; a delay that reaches it is not worth waiting.
    RetryDecision decide(
        const AttemptOutcome& outcome,
        std::size_t attempts_made,
        std::chrono::nanoseconds time_left = std::chrono::nanoseconds::max()) const;

    const RetryOptions& options() const { return options_; }

private:
    RetryOptions options_;
    RandomUnit random_;
};

/// Parses a Retry-After header value: delay-seconds ("120"; fractions tolerated) or an HTTP-date
/// (IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", and the obsolete RFC 850 and asctime forms that
/// RFC 9110 requires recipients to accept), relative to `now`. A date in the past gives zero.
/// nullopt when the value is malformed.
std::optional<std::chrono::milliseconds> parse_retry_after(
    std::string_view value, std::chrono::system_clock::time_point now);

/// Parses a retry-after-ms header value (OpenAI, Azure): non-negative milliseconds, fractions
/// allowed. nullopt when malformed.
std::optional<std::chrono::milliseconds> parse_retry_after_ms(std::string_view value);

/// The delay a response asks for, from its retry-after-ms and Retry-After header values (pass an
/// empty view for an absent header). retry-after-ms wins when both parse: it is more precise.
std::optional<std::chrono::milliseconds> server_retry_delay(
    std::string_view retry_after_ms,
    std::string_view retry_after,
    std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

struct RetryBudgetOptions {
    /// Retries allowed as a fraction of the requests seen in the window. Default 0.2.
    double budget_ratio = 0.2;
    /// Retries always allowed per second of window, so a quiet upstream can still be retried.
    /// Default 2.
    double min_retries_per_second = 2.0;
    /// How far back "recent" reaches, kept as 10 buckets of window/10. Default 10 s.
    std::chrono::milliseconds window{10'000};
};

/// Retry throttling per upstream, like Finagle's RetryBudget and Envoy's retry budgets: a retry is
/// allowed only while retries <= budget_ratio * requests + min_retries_per_second * window over
/// the last `window`. In an outage every request fails, the budget runs dry, and the upstream sees
/// at most ~1.2x its normal load instead of max_attempts times it.
///
/// Thread-safety: all members may be called concurrently; one mutex, no allocation.
class RetryBudget {
public:
    using Clock = std::chrono::steady_clock;

    explicit RetryBudget(RetryBudgetOptions options = {});

    /// Counts one original request (its first attempt; retries are not requests).
    void record_request(Clock::time_point now = Clock::now());

    /// Counts and allows one retry when the budget has room; otherwise counts nothing.
    bool try_acquire_retry(Clock::time_point now = Clock::now());

    const RetryBudgetOptions& options() const { return options_; }

private:
    struct Bucket {
        std::int64_t index = -1;
        std::uint64_t requests = 0;
        std::uint64_t retries = 0;
    };
    static constexpr std::size_t kBuckets = 10;

    Bucket& current_bucket(Clock::time_point now);  // caller holds mutex_

    const RetryBudgetOptions options_;
    const std::chrono::nanoseconds bucket_width_;
    std::mutex mutex_;
    std::array<Bucket, kBuckets> buckets_{};  // guarded by mutex_
};

}  // namespace ragd::llm
