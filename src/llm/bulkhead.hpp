// A bulkhead per upstream: caps the calls in flight to one LLM upstream, with a short bounded FIFO
// queue in front, so that one slow upstream cannot absorb every I/O coroutine and connection.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>

#include <boost/asio/awaitable.hpp>

#include "core/cancel_token.hpp"
#include "core/error.hpp"

namespace ragd::llm {

struct BulkheadOptions {
    /// Calls in flight at once. 0 means unlimited (the bulkhead admits everything). Default 32.
    std::size_t max_concurrent = 32;
    /// Callers that may wait for a slot; one more is rejected at once (kOverloaded). Default 64.
    std::size_t max_queue = 64;
    /// How long a caller waits for a slot before kTimeout; <= 0 disables waiting. Default 2 s.
    std::chrono::milliseconds queue_timeout{2'000};
};

namespace detail {
struct BulkheadState;
}

/// One occupied call slot. Move-only; releasing it (destructor or release()) hands the slot to the
/// longest-waiting caller, resumed on that caller's own executor, or frees it.
class BulkheadSlot {
public:
    BulkheadSlot() = default;  ///< holds no slot
    BulkheadSlot(BulkheadSlot&& other) noexcept = default;
    BulkheadSlot& operator=(BulkheadSlot&& other) noexcept;  // NOLINT(bugprone-exception-escape)
    BulkheadSlot(const BulkheadSlot&) = delete;
    BulkheadSlot& operator=(const BulkheadSlot&) = delete;
    ~BulkheadSlot();  // NOLINT(bugprone-exception-escape): terminates if releasing fails

    /// Gives the slot back early; harmless when it holds none.
    void release();
    explicit operator bool() const { return state_ != nullptr; }

private:
    friend class Bulkhead;
    explicit BulkheadSlot(std::shared_ptr<detail::BulkheadState> state);

    std::shared_ptr<detail::BulkheadState> state_;
};

/// Thread-safety: acquire(), in_use() and queued() may be called concurrently from any thread
/// (e.g. the several threads running one io_context); slots may be released on any thread. One
/// mutex guards the counters and the queue; taking a free slot does not allocate, queueing
/// allocates one waiter. Slots and waiters keep the shared state alive, so the Bulkhead object may
/// be destroyed before them. A waiter parked when its io_context is destroyed (not merely stopped)
/// is leaked rather than resumed.
class Bulkhead {
public:
    explicit Bulkhead(BulkheadOptions options = {});

    /// A slot at once when one is free and nobody is queued (FIFO: no overtaking). Otherwise waits
    /// in the queue: kOverloaded at once when the queue is full (or waiting is disabled), kTimeout
    /// after queue_timeout, kUnavailable when `cancel` (may be null) fires while waiting or had
    /// already fired. Must be awaited from a coroutine whose executor runs the timer.
    boost::asio::awaitable<core::Result<BulkheadSlot>> acquire(
        std::shared_ptr<core::CancelToken> cancel);

    /// Slots occupied now (granted to a waiter counts as occupied).
    std::size_t in_use() const;
    /// Callers waiting now.
    std::size_t queued() const;

    const BulkheadOptions& options() const;

private:
    /// The body of acquire(); it owns the state, so the Bulkhead may be destroyed meanwhile.
    static boost::asio::awaitable<core::Result<BulkheadSlot>> acquire_slot(
        std::shared_ptr<detail::BulkheadState> state, std::shared_ptr<core::CancelToken> cancel);

    std::shared_ptr<detail::BulkheadState> state_;
};

}  // namespace ragd::llm
