// The bulkhead's queue hands a slot over directly from the releasing call to the first waiter, so
// a newcomer can never overtake the queue. Waking is a hand-made asynchronous operation: the waiter
// parks its completion handler here, and whoever settles the wait first (release, timer, cancel
// token) takes the handler under the mutex and posts it to the waiter's own executor. The waiter's
// timer is touched only by the waiter's coroutine, never by the (possibly other) waking thread.
#include "llm/bulkhead.hpp"

#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace ragd::llm {

namespace net = boost::asio;

namespace detail {

enum class WaitOutcome { kGranted, kTimedOut, kCancelled };
using WaitHandler = net::any_completion_handler<void(WaitOutcome)>;

struct Waiter {
    explicit Waiter(net::any_io_executor e) : executor(std::move(e)) {}

    const net::any_io_executor executor;  // the waiting coroutine's
    // The rest is guarded by BulkheadState::mutex.
    std::optional<WaitOutcome> outcome;  // set once, by whoever settles the wait first
    std::optional<WaitHandler> handler;  // parked completion handler of the waiting coroutine
    std::list<std::shared_ptr<Waiter>>::iterator position;
};

namespace {

/// Resumes the waiter on its own executor, never inline on the settling thread, which may hold
/// unrelated locks or be running another request. (any_completion_executor cannot be posted to
/// in Boost 1.81, hence the explicit executor.)
void deliver(const net::any_io_executor& executor, WaitHandler handler, WaitOutcome outcome) {
    net::post(executor,
              [handler = std::move(handler), outcome]() mutable { std::move(handler)(outcome); });
}

std::optional<WaitHandler> take(std::optional<WaitHandler>& handler) {
    std::optional<WaitHandler> taken;
    taken.swap(handler);
    return taken;
}

}  // namespace

struct BulkheadState {
    explicit BulkheadState(BulkheadOptions o) : options(o) {}

    const BulkheadOptions options;
    mutable std::mutex mutex;
    std::size_t in_use = 0;                    // guarded by mutex
    std::list<std::shared_ptr<Waiter>> queue;  // guarded by mutex; front waited longest

    /// Takes a slot when one is free and nobody waits; the caller holds mutex.
    bool try_take_locked() {
        if (options.max_concurrent == 0 || (in_use < options.max_concurrent && queue.empty())) {
            ++in_use;
            return true;
        }
        return false;
    }

    void release() {
        std::shared_ptr<Waiter> waiter;
        std::optional<WaitHandler> handler;
        {
            const std::lock_guard lock(mutex);
            if (queue.empty()) {
                --in_use;
                return;
            }
            waiter = std::move(queue.front());
            queue.pop_front();
            waiter->outcome = WaitOutcome::kGranted;  // the slot moves over; in_use unchanged
            handler = take(waiter->handler);
        }
        if (handler) {
            deliver(waiter->executor, std::move(*handler), WaitOutcome::kGranted);
        }
    }

    /// Ends a wait by timeout or cancellation, unless it already ended.
    void abandon(const std::shared_ptr<Waiter>& waiter, WaitOutcome outcome) {
        std::optional<WaitHandler> handler;
        {
            const std::lock_guard lock(mutex);
            if (waiter->outcome) {
                return;
            }
            waiter->outcome = outcome;
            queue.erase(waiter->position);
            handler = take(waiter->handler);
        }
        if (handler) {
            deliver(waiter->executor, std::move(*handler), outcome);
        }
    }

    /// Stores the waiting coroutine's handler, or completes it at once when the wait already ended
    /// between queueing and parking.
    void park(const std::shared_ptr<Waiter>& waiter, WaitHandler handler) {
        std::optional<WaitOutcome> outcome;
        {
            const std::lock_guard lock(mutex);
            outcome = waiter->outcome;
            if (!outcome) {
                waiter->handler.emplace(std::move(handler));
                return;
            }
        }
        deliver(waiter->executor, std::move(handler), *outcome);
    }
};

/// The initiation of the "wait for my turn" operation; a named type rather than a lambda because
/// capturing lambdas inside a co_await expression miscompile with GCC 12.
struct ParkInitiation {
    std::shared_ptr<BulkheadState> state;
    std::shared_ptr<Waiter> waiter;

    template <class Handler>
    void operator()(Handler&& handler) const {
        state->park(waiter, WaitHandler(std::forward<Handler>(handler)));
    }
};

}  // namespace detail

namespace {

using detail::BulkheadState;
using detail::Waiter;
using detail::WaitOutcome;

}  // namespace

BulkheadSlot::BulkheadSlot(std::shared_ptr<detail::BulkheadState> state)
    : state_(std::move(state)) {}

// Releasing can only throw when locking the mutex or allocating the waiter's wake-up fails; the
// slot count would then be wrong forever, so terminating (noexcept) is the honest outcome.
// NOLINTNEXTLINE(bugprone-exception-escape)
BulkheadSlot& BulkheadSlot::operator=(BulkheadSlot&& other) noexcept {
    if (this != &other) {
        release();
        state_ = std::move(other.state_);
    }
    return *this;
}

// NOLINTNEXTLINE(bugprone-exception-escape): see operator= above.
BulkheadSlot::~BulkheadSlot() {
    release();
}

void BulkheadSlot::release() {
    if (auto state = std::exchange(state_, nullptr)) {
        state->release();
    }
}

Bulkhead::Bulkhead(BulkheadOptions options) : state_(std::make_shared<BulkheadState>(options)) {}

std::size_t Bulkhead::in_use() const {
    const std::lock_guard lock(state_->mutex);
    return state_->in_use;
}

std::size_t Bulkhead::queued() const {
    const std::lock_guard lock(state_->mutex);
    return state_->queue.size();
}

const BulkheadOptions& Bulkhead::options() const {
    return state_->options;
}

namespace {

core::Error cancelled_error() {
    return core::fail(core::ErrorCode::kUnavailable,
                      "request cancelled while waiting for an upstream call slot");
}

}  // namespace

net::awaitable<core::Result<BulkheadSlot>> Bulkhead::acquire(
    std::shared_ptr<core::CancelToken> cancel) {
    return acquire_slot(state_, std::move(cancel));
}

net::awaitable<core::Result<BulkheadSlot>> Bulkhead::acquire_slot(
    std::shared_ptr<detail::BulkheadState> state, std::shared_ptr<core::CancelToken> cancel) {
    if (cancel && cancel->cancelled()) {
        co_return cancelled_error();
    }
    const BulkheadOptions& options = state->options;
    {
        const std::lock_guard lock(state->mutex);
        if (state->try_take_locked()) {
            co_return BulkheadSlot(state);
        }
    }

    // Allocated only on the waiting path.
    auto waiter = std::make_shared<Waiter>(co_await net::this_coro::executor);
    {
        const std::lock_guard lock(state->mutex);
        if (state->try_take_locked()) {
            co_return BulkheadSlot(state);
        }
        if (options.queue_timeout <= std::chrono::milliseconds(0) ||
            state->queue.size() >= options.max_queue) {
            co_return core::fail(core::ErrorCode::kOverloaded,
                                 "all " + std::to_string(options.max_concurrent) +
                                     " upstream call slots are busy and " +
                                     std::to_string(state->queue.size()) +
                                     " callers already wait (bulkhead max_queue " +
                                     std::to_string(options.max_queue) + ")");
        }
        waiter->position = state->queue.insert(state->queue.end(), waiter);
    }

    net::steady_timer timer(waiter->executor, options.queue_timeout);
    // The timer handler and the cancel callback hold the waiter and the state, never the frame.
    timer.async_wait([state, waiter](const boost::system::error_code& error) {
        if (!error) {
            state->abandon(waiter, WaitOutcome::kTimedOut);
        }
    });
    WaitOutcome outcome = WaitOutcome::kCancelled;
    {
        const core::CancelRegistration registration(
            cancel, [state, waiter] { state->abandon(waiter, WaitOutcome::kCancelled); });
        const detail::ParkInitiation initiation{state, waiter};
        outcome = co_await net::async_initiate<const net::use_awaitable_t<>, void(WaitOutcome)>(
            initiation, net::use_awaitable);
    }
    timer.cancel();

    switch (outcome) {
        case WaitOutcome::kGranted:
            co_return BulkheadSlot(state);
        case WaitOutcome::kTimedOut:
            co_return core::fail(
                core::ErrorCode::kTimeout,
                "no upstream call slot became free within the bulkhead queue_timeout of " +
                    std::to_string(options.queue_timeout.count()) + " ms");
        case WaitOutcome::kCancelled:
            break;
    }
    co_return cancelled_error();
}

}  // namespace ragd::llm
