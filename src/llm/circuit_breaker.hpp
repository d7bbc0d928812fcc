// A per-upstream circuit breaker: after an upstream keeps failing, calls fail fast (and fall back)
// for a while instead of queueing behind timeouts, then a few probe calls test whether it healed.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>

namespace ragd::llm {

struct CircuitBreakerOptions {
    /// Open after this many failures in a row (closed state). 0 disables this trigger. Default 5.
    std::size_t consecutive_failures = 5;
    /// Open when failures / calls >= this over the window, once the window holds at least
    /// `min_calls` completed calls. 0 disables this trigger. Default 0.5.
    double failure_ratio = 0.5;
    /// Completed calls the window needs before `failure_ratio` applies. Default 20.
    std::size_t min_calls = 20;
    /// Sliding window for `failure_ratio`, kept as 10 buckets of window/10 each. Default 10 s.
    std::chrono::milliseconds window{10'000};
    /// How long the breaker stays open before it admits probes. Default 5 s.
    std::chrono::milliseconds open_duration{5'000};
    /// Probe calls admitted at once while half-open (at least 1). Default 1.
    std::size_t half_open_probes = 1;
    /// Probe successes that close the breaker again (at least 1). Default 2.
    std::size_t close_after_successes = 2;
};

/// closed --(consecutive failures | failure ratio)--> open --(open_duration)--> half_open
/// half_open --(close_after_successes probe successes)--> closed; --(one probe failure)--> open.
///
/// Each call asks for a Permit and completes it with record_success() or record_failure(). A permit
/// dropped without either is "abandoned" (the client went away, a fallback won the race) and
/// changes nothing except freeing its probe slot: a cancelled client is not an upstream failure.
/// Count as failures what says the upstream is unhealthy (connect errors, timeouts, 5xx, resets);
/// not the caller's own 4xx.
///
/// Results of permits issued before the last state change are ignored, so a slow call from the
/// closed period cannot close a breaker that has since opened.
///
/// Thread-safety: all members may be called concurrently from any thread; one mutex, held for a
/// few dozen instructions; nothing allocates after construction. The breaker must outlive its
/// permits.
class CircuitBreaker {
public:
    using Clock = std::chrono::steady_clock;

    enum class State { kClosed, kOpen, kHalfOpen };

    /// Called on every state change, with the breaker's lock held, on the thread whose call caused
    /// it (opening/closing: the completing call; half-opening: the next try_acquire after
    /// open_duration). Notifications are therefore in order. It must be cheap (count, log) and must
    /// not call back into this breaker.
    using Listener = std::function<void(State from, State to)>;

    /// Permission for one call (or a rejection). Move-only.
    class Permit {
    public:
        Permit() = default;  ///< a rejected permit
        Permit(Permit&& other) noexcept;
        Permit& operator=(Permit&& other) noexcept;
        Permit(const Permit&) = delete;
        Permit& operator=(const Permit&) = delete;
        /// Not completed: abandoned (frees a probe slot; no effect on the state).
        ~Permit();

        /// True when the call may proceed.
        bool allowed() const { return allowed_; }
        explicit operator bool() const { return allowed_; }
        /// True when this call is a half-open probe.
        bool probe() const { return probe_; }
        /// For a rejected permit: time until the breaker admits probes (zero when it already is
        /// half-open and all probe slots are taken). Suitable for a Retry-After hint.
        std::chrono::nanoseconds retry_after() const { return retry_after_; }

        /// Completes the call; only the first record_* counts, later ones and those on a
        /// rejected permit do nothing.
        void record_success(Clock::time_point now = Clock::now());
        void record_failure(Clock::time_point now = Clock::now());

    private:
        friend class CircuitBreaker;
        Permit(CircuitBreaker* breaker, std::uint64_t epoch, bool probe)
            : breaker_(breaker), epoch_(epoch), allowed_(true), probe_(probe) {}

        CircuitBreaker* breaker_ = nullptr;  // null once completed or when rejected
        std::uint64_t epoch_ = 0;
        bool allowed_ = false;
        bool probe_ = false;
        std::chrono::nanoseconds retry_after_{0};
    };

    explicit CircuitBreaker(CircuitBreakerOptions options = {}, Listener listener = {});
    CircuitBreaker(const CircuitBreaker&) = delete;
    CircuitBreaker& operator=(const CircuitBreaker&) = delete;

    /// Asks to make a call. Closed: allowed. Open: rejected until open_duration has passed, then
    /// the breaker turns half-open. Half-open: allowed as a probe while fewer than
    /// half_open_probes probes are in flight, else rejected.
    Permit try_acquire(Clock::time_point now = Clock::now());

    /// The state a try_acquire at `now` would see (open turns half-open once open_duration passed).
    State state(Clock::time_point now = Clock::now()) const;

    const CircuitBreakerOptions& options() const { return options_; }

private:
    enum class Outcome { kSuccess, kFailure, kAbandoned };

    /// Failure/success counts per time bucket; the ratio trigger sums the live ones.
    struct WindowBucket {
        std::int64_t index = -1;  // which window/10 interval since the clock's epoch it counts
        std::uint32_t successes = 0;
        std::uint32_t failures = 0;
    };
    static constexpr std::size_t kWindowBuckets = 10;

    void complete(std::uint64_t epoch, bool probe, Outcome outcome, Clock::time_point now);
    void transition(State to, Clock::time_point now);  // caller holds mutex_
    bool should_trip(Clock::time_point now) const;     // caller holds mutex_
    std::int64_t bucket_index(Clock::time_point now) const;

    const CircuitBreakerOptions options_;
    const Listener listener_;
    const std::chrono::nanoseconds bucket_width_;

    mutable std::mutex mutex_;
    // Everything below is guarded by mutex_.
    State state_ = State::kClosed;
    std::uint64_t epoch_ = 1;  // bumped on every transition; permits carry the one they saw
    Clock::time_point opened_at_{};
    std::size_t consecutive_failures_ = 0;
    std::size_t probes_in_flight_ = 0;
    std::size_t probe_successes_ = 0;
    std::array<WindowBucket, kWindowBuckets> window_{};
};

/// "closed", "open" or "half_open": for logs and metric labels.
const char* circuit_state_name(CircuitBreaker::State state);

}  // namespace ragd::llm
