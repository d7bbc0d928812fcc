// Client-side quota for one LLM upstream: requests per minute and tokens per minute, as the
// providers publish their rate limits. Staying under them here turns a burst of 429s from the
// upstream into a short local wait, a fallback, or a fast 429 of our own.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>

#include "core/token_bucket.hpp"

namespace ragd::llm {

struct QuotaOptions {
    /// Requests per minute to this upstream; 0 means unlimited. Default 0.
    double requests_per_minute = 0;
    /// Tokens (prompt + completion) per minute; 0 means unlimited. Default 0.
    double tokens_per_minute = 0;
};

/// Two token buckets refilled continuously, each allowing a burst of one minute's worth. A request
/// reserves one request and its estimated tokens; when the upstream reports actual usage, the
/// reservation is settled and the tokens bucket corrected (possibly into debt, which later
/// requests wait out). A request estimated at more than a whole minute's tokens is admitted once
/// the bucket is full, rather than never.
///
/// Thread-safety: all members may be called concurrently from any thread; one mutex makes
/// reserving both buckets atomic; nothing allocates. The limiter must outlive its reservations.
class QuotaLimiter {
public:
    using Clock = std::chrono::steady_clock;

    /// The outcome of reserve(): granted, or the time to wait. Move-only.
    class Reservation {
    public:
        Reservation() = default;  ///< not granted, no wait known
        Reservation(Reservation&& other) noexcept;
        Reservation& operator=(Reservation&& other) noexcept;
        Reservation(const Reservation&) = delete;
        Reservation& operator=(const Reservation&) = delete;
        /// An unsettled reservation keeps its estimate: the tokens stay spent.
        ~Reservation() = default;

        bool granted() const { return granted_; }
        explicit operator bool() const { return granted_; }
        /// For a refused reservation: how long until the same request would fit, if nothing else
        /// were reserved meanwhile; nanoseconds::max() if it never will.
        std::chrono::nanoseconds wait() const { return wait_; }
        std::size_t estimated_tokens() const { return estimated_tokens_; }

        /// Corrects the tokens bucket by (estimated - actual) tokens once usage is known. Only the
        /// first settle()/cancel() of a granted reservation counts.
        void settle(std::size_t actual_tokens, Clock::time_point now = Clock::now());
        /// The request never reached the upstream (connect error, rejected locally): gives back
        /// the request and all its estimated tokens.
        void cancel(Clock::time_point now = Clock::now());

    private:
        friend class QuotaLimiter;

        QuotaLimiter* limiter_ = nullptr;  // null once settled or when refused
        bool granted_ = false;
        std::size_t estimated_tokens_ = 0;
        std::chrono::nanoseconds wait_{0};
    };

    explicit QuotaLimiter(QuotaOptions options = {}, Clock::time_point now = Clock::now());
    QuotaLimiter(const QuotaLimiter&) = delete;
    QuotaLimiter& operator=(const QuotaLimiter&) = delete;

    /// Reserves one request and `estimated_tokens` when both fit now; otherwise reserves nothing
    /// and says how long to wait (the caller may queue up to its own maximum, fall back, or shed).
    Reservation reserve(std::size_t estimated_tokens, Clock::time_point now = Clock::now());

    /// True when neither limit is set: reserve() always grants.
    bool unlimited() const { return !requests_ && !tokens_; }
    const QuotaOptions& options() const { return options_; }

private:
    void correct(double requests_delta, double tokens_delta, Clock::time_point now);

    const QuotaOptions options_;
    std::mutex mutex_;  // makes the two-bucket reservation atomic
    std::optional<core::TokenBucket> requests_;
    std::optional<core::TokenBucket> tokens_;
};

}  // namespace ragd::llm
