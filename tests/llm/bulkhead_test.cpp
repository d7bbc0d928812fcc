// Bulkhead on a real io_context run by two threads: immediate slots, queue overflow, queue
// timeout, cancellation, FIFO hand-over, and the concurrency cap under load.
#include "llm/bulkhead.hpp"

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

namespace ragd::llm {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;

using SlotResult = core::Result<BulkheadSlot>;

/// An io_context run by two threads for the test's lifetime.
class TwoThreads {
public:
    TwoThreads() {
        for (auto& thread : threads_) {
            thread = std::thread([this] { io_.run(); });
        }
    }
    ~TwoThreads() {
        work_.reset();
        for (auto& thread : threads_) {
            thread.join();
        }
    }
    net::io_context& io() { return io_; }

private:
    net::io_context io_;
    net::executor_work_guard<net::io_context::executor_type> work_{io_.get_executor()};
    std::thread threads_[2];
};

std::future<SlotResult> start_acquire(TwoThreads& pool,
                                      Bulkhead& bulkhead,
                                      std::shared_ptr<core::CancelToken> cancel = nullptr) {
    return net::co_spawn(pool.io(), bulkhead.acquire(std::move(cancel)), net::use_future);
}

SlotResult get(std::future<SlotResult>& future) {
    if (future.wait_for(10s) != std::future_status::ready) {
        ADD_FAILURE() << "acquire did not complete within 10 s";
        return core::fail(core::ErrorCode::kInternal, "test timeout");
    }
    return future.get();
}

/// Waits (bounded) until `queued` callers wait in `bulkhead`.
bool wait_for_queued(const Bulkhead& bulkhead, std::size_t queued) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (bulkhead.queued() != queued) {
        if (std::chrono::steady_clock::now() > deadline) {
            return false;
        }
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

BulkheadOptions options(std::size_t max_concurrent,
                        std::size_t max_queue,
                        std::chrono::milliseconds queue_timeout = 10s) {
    BulkheadOptions o;
    o.max_concurrent = max_concurrent;
    o.max_queue = max_queue;
    o.queue_timeout = queue_timeout;
    return o;
}

TEST(Bulkhead, GrantsFreeSlotsAtOnceAndCountsThem) {
    TwoThreads pool;
    Bulkhead bulkhead(options(2, 0));
    auto first = start_acquire(pool, bulkhead);
    auto second = start_acquire(pool, bulkhead);
    auto slot1 = get(first);
    auto slot2 = get(second);
    ASSERT_TRUE(slot1.has_value());
    ASSERT_TRUE(slot2.has_value());
    EXPECT_EQ(bulkhead.in_use(), 2u);
    slot1->release();
    EXPECT_FALSE(*slot1);
    EXPECT_EQ(bulkhead.in_use(), 1u);
    {
        BulkheadSlot moved = std::move(*slot2);
        EXPECT_TRUE(moved);
    }
    EXPECT_EQ(bulkhead.in_use(), 0u);
}

TEST(Bulkhead, FullQueueRejectsAtOnce) {
    TwoThreads pool;
    Bulkhead bulkhead(options(1, 1));
    auto held_future = start_acquire(pool, bulkhead);
    auto held = get(held_future);
    ASSERT_TRUE(held.has_value());
    auto waiting = start_acquire(pool, bulkhead);
    ASSERT_TRUE(wait_for_queued(bulkhead, 1));
    auto rejected_future = start_acquire(pool, bulkhead);
    const auto rejected = get(rejected_future);
    ASSERT_FALSE(rejected.has_value());
    EXPECT_EQ(rejected.error().code, core::ErrorCode::kOverloaded);
    EXPECT_EQ(waiting.wait_for(0s), std::future_status::timeout) << "the waiter still waits";

    held->release();  // hands the slot to the waiter
    auto granted = get(waiting);
    ASSERT_TRUE(granted.has_value());
    EXPECT_EQ(bulkhead.in_use(), 1u);
}

TEST(Bulkhead, NoQueueMeansImmediateRejection) {
    TwoThreads pool;
    Bulkhead bulkhead(options(1, 0));
    auto held_future = start_acquire(pool, bulkhead);
    auto held = get(held_future);
    auto rejected_future = start_acquire(pool, bulkhead);
    EXPECT_EQ(get(rejected_future).error().code, core::ErrorCode::kOverloaded);
}

TEST(Bulkhead, WaiterTimesOut) {
    TwoThreads pool;
    Bulkhead bulkhead(options(1, 4, 50ms));
    auto held_future = start_acquire(pool, bulkhead);
    auto held = get(held_future);
    const auto started = std::chrono::steady_clock::now();
    auto waiting = start_acquire(pool, bulkhead);
    const auto result = get(waiting);
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error().code, core::ErrorCode::kTimeout);
    EXPECT_GE(std::chrono::steady_clock::now() - started, 50ms);
    EXPECT_EQ(bulkhead.queued(), 0u);
    held->release();
    EXPECT_EQ(bulkhead.in_use(), 0u) << "the timed-out waiter got no slot";
}

TEST(Bulkhead, CancelWhileWaitingLeavesTheQueue) {
    TwoThreads pool;
    Bulkhead bulkhead(options(1, 4));
    auto held_future = start_acquire(pool, bulkhead);
    auto held = get(held_future);
    auto token = core::CancelToken::create();
    auto waiting = start_acquire(pool, bulkhead, token);
    ASSERT_TRUE(wait_for_queued(bulkhead, 1));
    token->cancel();  // from this (non-I/O) thread
    const auto result = get(waiting);
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error().code, core::ErrorCode::kUnavailable);
    EXPECT_EQ(bulkhead.queued(), 0u);
    held->release();
    EXPECT_EQ(bulkhead.in_use(), 0u);
}

TEST(Bulkhead, AlreadyCancelledTokenIsRefused) {
    TwoThreads pool;
    Bulkhead bulkhead(options(4, 4));
    auto token = core::CancelToken::create();
    token->cancel();
    auto future = start_acquire(pool, bulkhead, token);
    EXPECT_EQ(get(future).error().code, core::ErrorCode::kUnavailable);
    EXPECT_EQ(bulkhead.in_use(), 0u);
}

/// Acquires, records its id in `order`, and releases at once.
net::awaitable<void> take_in_turn(Bulkhead& bulkhead,
                                  int id,
                                  std::mutex& mutex,
                                  std::vector<int>& order) {
    auto slot = co_await bulkhead.acquire(nullptr);
    if (slot) {
        const std::lock_guard lock(mutex);
        order.push_back(id);
    }
}

TEST(Bulkhead, WaitersAreServedInArrivalOrder) {
    TwoThreads pool;
    Bulkhead bulkhead(options(1, 16));
    auto held_future = start_acquire(pool, bulkhead);
    auto held = get(held_future);
    std::mutex mutex;
    std::vector<int> order;
    std::vector<std::future<void>> done;
    for (int id = 1; id <= 8; ++id) {
        done.push_back(
            net::co_spawn(pool.io(), take_in_turn(bulkhead, id, mutex, order), net::use_future));
        ASSERT_TRUE(wait_for_queued(bulkhead, static_cast<std::size_t>(id)));
    }
    held->release();
    for (auto& future : done) {
        ASSERT_EQ(future.wait_for(10s), std::future_status::ready);
    }
    EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8}));
    EXPECT_EQ(bulkhead.in_use(), 0u);
}

/// Holds a slot for a short timer wait, tracking the peak number of holders.
net::awaitable<bool> busy_call(Bulkhead& bulkhead,
                               std::atomic<int>& active,
                               std::atomic<int>& peak) {
    auto slot = co_await bulkhead.acquire(nullptr);
    if (!slot) {
        co_return false;
    }
    const int now_active = ++active;
    int seen = peak.load();
    while (now_active > seen && !peak.compare_exchange_weak(seen, now_active)) {
    }
    net::steady_timer timer(co_await net::this_coro::executor, 1ms);
    co_await timer.async_wait(net::use_awaitable);
    --active;
    co_return true;
}

TEST(Bulkhead, NeverExceedsTheCapUnderLoad) {
    TwoThreads pool;
    Bulkhead bulkhead(options(3, 500));
    std::atomic<int> active{0};
    std::atomic<int> peak{0};
    std::vector<std::future<bool>> calls;
    for (int call_idx = 0; call_idx < 300; ++call_idx) {
        calls.push_back(
            net::co_spawn(pool.io(), busy_call(bulkhead, active, peak), net::use_future));
    }
    int succeeded = 0;
    for (auto& call : calls) {
        ASSERT_EQ(call.wait_for(20s), std::future_status::ready);
        succeeded += call.get() ? 1 : 0;
    }
    EXPECT_EQ(succeeded, 300);
    EXPECT_EQ(peak.load(), 3);
    EXPECT_EQ(bulkhead.in_use(), 0u);
    EXPECT_EQ(bulkhead.queued(), 0u);
}

TEST(Bulkhead, ZeroMaxConcurrentIsUnlimited) {
    TwoThreads pool;
    Bulkhead bulkhead(options(0, 0));
    std::vector<SlotResult> slots;
    for (int call_idx = 0; call_idx < 50; ++call_idx) {
        auto future = start_acquire(pool, bulkhead);
        slots.push_back(get(future));
        ASSERT_TRUE(slots.back().has_value());
    }
    EXPECT_EQ(bulkhead.in_use(), 50u);
}

}  // namespace
}  // namespace ragd::llm
