// Reservations against the two per-minute buckets. Both buckets are checked before either is
// charged, under one lock, so a request refused for tokens does not also eat a request slot.
#include "llm/quota_limiter.hpp"

#include <algorithm>
#include <utility>

namespace ragd::llm {
namespace {

std::optional<core::TokenBucket> per_minute_bucket(double per_minute,
                                                   core::TokenBucket::Clock::time_point now) {
    if (per_minute <= 0) {
        return std::nullopt;
    }
    return std::optional<core::TokenBucket>(std::in_place, per_minute / 60.0, per_minute, now);
}

}  // namespace

QuotaLimiter::Reservation::Reservation(Reservation&& other) noexcept
    : limiter_(std::exchange(other.limiter_, nullptr)),
      granted_(other.granted_),
      estimated_tokens_(other.estimated_tokens_),
      wait_(other.wait_) {}

QuotaLimiter::Reservation& QuotaLimiter::Reservation::operator=(Reservation&& other) noexcept {
    if (this != &other) {
        limiter_ = std::exchange(other.limiter_, nullptr);
        granted_ = other.granted_;
        estimated_tokens_ = other.estimated_tokens_;
        wait_ = other.wait_;
    }
    return *this;
}

void QuotaLimiter::Reservation::settle(std::size_t actual_tokens, Clock::time_point now) {
    if (auto* limiter = std::exchange(limiter_, nullptr)) {
        limiter->correct(
            0, static_cast<double>(estimated_tokens_) - static_cast<double>(actual_tokens), now);
    }
}

void QuotaLimiter::Reservation::cancel(Clock::time_point now) {
    if (auto* limiter = std::exchange(limiter_, nullptr)) {
        limiter->correct(1, static_cast<double>(estimated_tokens_), now);
    }
}

QuotaLimiter::QuotaLimiter(QuotaOptions options, Clock::time_point now)
    : options_(options),
      requests_(per_minute_bucket(options.requests_per_minute, now)),
      tokens_(per_minute_bucket(options.tokens_per_minute, now)) {}

QuotaLimiter::Reservation QuotaLimiter::reserve(std::size_t estimated_tokens,
                                                Clock::time_point now) {
    Reservation reservation;
    reservation.estimated_tokens_ = estimated_tokens;
    const auto tokens = static_cast<double>(estimated_tokens);
    {
        const std::lock_guard lock(mutex_);
        const auto wait =
            std::max(requests_ ? requests_->time_until(1, now) : std::chrono::nanoseconds(0),
                     tokens_ ? tokens_->time_until(tokens, now) : std::chrono::nanoseconds(0));
        if (wait > std::chrono::nanoseconds(0)) {
            reservation.wait_ = wait;
            return reservation;
        }
        // Both fit (time_until is zero), so these takes cannot fail; adjust() avoids re-checking.
        if (requests_) {
            requests_->adjust(-1, now);
        }
        if (tokens_) {
            tokens_->adjust(-tokens, now);
        }
    }
    reservation.granted_ = true;
    reservation.limiter_ = this;
    return reservation;
}

void QuotaLimiter::correct(double requests_delta, double tokens_delta, Clock::time_point now) {
    const std::lock_guard lock(mutex_);
    if (requests_ && requests_delta != 0) {
        requests_->adjust(requests_delta, now);
    }
    if (tokens_ && tokens_delta != 0) {
        tokens_->adjust(tokens_delta, now);
    }
}

}  // namespace ragd::llm
