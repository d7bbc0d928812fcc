#include "cache/singleflight.hpp"

#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <gtest/gtest.h>

namespace ragd::cache {
namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;
using Flight = Singleflight<int>;
using Strand = net::strand<net::io_context::executor_type>;

// Waits (a bounded poll on a timer) until `followers` callers wait on `key`: a condition, not
// a guessed sleep.
net::awaitable<void> until_waiting(Flight* flight, std::string key, std::size_t followers) {
    net::steady_timer timer(co_await net::this_coro::executor);
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (flight->waiting(key) < followers && std::chrono::steady_clock::now() < deadline) {
        timer.expires_after(1ms);
        co_await timer.async_wait(net::use_awaitable);
    }
}

enum class Ending { kValue, kError, kThrow, kHang };

net::awaitable<core::Result<int>> gated_work(Flight* flight,
                                             std::string key,
                                             std::size_t followers,
                                             Ending ending,
                                             std::atomic<int>* calls) {
    ++*calls;
    co_await until_waiting(flight, key, followers);
    switch (ending) {
        case Ending::kValue:
            co_return 42;
        case Ending::kError:
            co_return core::fail(core::ErrorCode::kTimeout, "llm too slow");
        case Ending::kThrow:
            throw std::runtime_error("boom");
        case Ending::kHang:
            break;
    }
    net::steady_timer forever(co_await net::this_coro::executor, 1h);
    co_await forever.async_wait(net::use_awaitable);
    co_return 0;
}

/// The work as a named callable, not a lambda inside a co_await (GCC 12, STYLE.md).
struct GatedWork {
    Flight* flight;
    std::string key;
    std::size_t followers;
    Ending ending;
    std::atomic<int>* calls;
    net::awaitable<core::Result<int>> operator()() const {
        return gated_work(flight, key, followers, ending, calls);
    }
};

struct Outcomes {
    std::mutex mutex;
    std::vector<FlightResult<int>> results;
    int thrown = 0;
    int resumed_elsewhere = 0;
};

net::awaitable<void> call(
    Flight* flight, std::string key, GatedWork work, Strand strand, Outcomes* outcomes) {
    try {
        FlightResult<int> result = co_await flight->run(key, work);
        const bool on_own_strand = strand.running_in_this_thread();
        const std::lock_guard lock(outcomes->mutex);
        outcomes->resumed_elsewhere += on_own_strand ? 0 : 1;
        outcomes->results.push_back(std::move(result));
    } catch (const std::exception&) {
        const std::lock_guard lock(outcomes->mutex);
        ++outcomes->thrown;
    }
}

void run_on_two_threads(net::io_context& io) {
    std::thread helper([&io] { io.run_for(30s); });
    io.run_for(30s);
    helper.join();
}

TEST(Singleflight, HundredIdenticalRequestsOnTwoThreadsRunTheWorkOnce) {
    net::io_context io(2);
    Flight flight;
    std::atomic<int> calls{0};
    Outcomes outcomes;
    constexpr std::size_t kCallers = 100;
    for (std::size_t caller_idx = 0; caller_idx < kCallers; ++caller_idx) {
        Strand strand = net::make_strand(io);
        GatedWork work{&flight, "q", kCallers - 1, Ending::kValue, &calls};
        net::co_spawn(strand, call(&flight, "q", work, strand, &outcomes), net::detached);
    }
    run_on_two_threads(io);

    EXPECT_EQ(calls.load(), 1);
    ASSERT_EQ(outcomes.results.size(), kCallers);
    int shared = 0;
    for (const auto& result : outcomes.results) {
        ASSERT_TRUE(result.result.has_value());
        EXPECT_EQ(*result.result, 42);
        shared += result.shared ? 1 : 0;
    }
    EXPECT_EQ(shared, static_cast<int>(kCallers) - 1);
    EXPECT_EQ(outcomes.resumed_elsewhere, 0);
    EXPECT_EQ(flight.in_flight(), 0u);
}

TEST(Singleflight, DifferentKeysDoNotWaitForEachOther) {
    net::io_context io;
    Flight flight;
    std::atomic<int> calls{0};
    Outcomes outcomes;
    for (const char* key : {"a", "b", "c"}) {
        Strand strand = net::make_strand(io);
        GatedWork work{&flight, key, 0, Ending::kValue, &calls};
        net::co_spawn(strand, call(&flight, key, work, strand, &outcomes), net::detached);
    }
    io.run_for(30s);
    EXPECT_EQ(calls.load(), 3);
    ASSERT_EQ(outcomes.results.size(), 3u);
    for (const auto& result : outcomes.results) {
        EXPECT_FALSE(result.shared);
    }
}

TEST(Singleflight, ErrorsReachCurrentWaitersButAreNotCached) {
    net::io_context io(2);
    Flight flight;
    std::atomic<int> calls{0};
    Outcomes outcomes;
    for (int caller_idx = 0; caller_idx < 4; ++caller_idx) {
        Strand strand = net::make_strand(io);
        GatedWork work{&flight, "q", 3, Ending::kError, &calls};
        net::co_spawn(strand, call(&flight, "q", work, strand, &outcomes), net::detached);
    }
    run_on_two_threads(io);
    EXPECT_EQ(calls.load(), 1);
    ASSERT_EQ(outcomes.results.size(), 4u);
    for (const auto& result : outcomes.results) {
        ASSERT_FALSE(result.result.has_value());
        EXPECT_EQ(result.result.error().code, core::ErrorCode::kTimeout);
        EXPECT_EQ(result.result.error().detail, "llm too slow");
    }

    // The next request computes again.
    io.restart();
    Strand strand = net::make_strand(io);
    GatedWork work{&flight, "q", 0, Ending::kValue, &calls};
    net::co_spawn(strand, call(&flight, "q", work, strand, &outcomes), net::detached);
    io.run_for(30s);
    EXPECT_EQ(calls.load(), 2);
    ASSERT_EQ(outcomes.results.size(), 5u);
    EXPECT_EQ(*outcomes.results.back().result, 42);
}

TEST(Singleflight, LeaderExceptionFailsFollowersAndReachesTheLeader) {
    net::io_context io;
    Flight flight;
    std::atomic<int> calls{0};
    Outcomes outcomes;
    for (int caller_idx = 0; caller_idx < 3; ++caller_idx) {
        Strand strand = net::make_strand(io);
        GatedWork work{&flight, "q", 2, Ending::kThrow, &calls};
        net::co_spawn(strand, call(&flight, "q", work, strand, &outcomes), net::detached);
    }
    io.run_for(30s);
    EXPECT_EQ(calls.load(), 1);
    EXPECT_EQ(outcomes.thrown, 1);
    ASSERT_EQ(outcomes.results.size(), 2u);
    for (const auto& result : outcomes.results) {
        ASSERT_FALSE(result.result.has_value());
        EXPECT_EQ(result.result.error().code, core::ErrorCode::kInternal);
        EXPECT_NE(result.result.error().detail.find("boom"), std::string::npos);
        EXPECT_TRUE(result.shared);
    }
    EXPECT_EQ(flight.in_flight(), 0u);
}

net::awaitable<void> cancel_when_waiting(Flight* flight,
                                         std::string key,
                                         std::size_t followers,
                                         net::cancellation_signal* signal) {
    co_await until_waiting(flight, key, followers);
    signal->emit(net::cancellation_type::terminal);
}

TEST(Singleflight, CancelledLeaderFailsFollowersWithUnavailable) {
    net::io_context io;  // one thread: the signal is emitted where the leader runs
    Flight flight;
    std::atomic<int> calls{0};
    Outcomes outcomes;
    net::cancellation_signal signal;
    std::exception_ptr leader_error;

    Strand leader_strand = net::make_strand(io);
    GatedWork hang{&flight, "q", 0, Ending::kHang, &calls};
    net::co_spawn(leader_strand,
                  call(&flight, "q", hang, leader_strand, &outcomes),
                  net::bind_cancellation_slot(signal.slot(), [&](std::exception_ptr error) {
                      leader_error = std::move(error);
                  }));
    for (int follower_idx = 0; follower_idx < 3; ++follower_idx) {
        Strand strand = net::make_strand(io);
        net::co_spawn(strand, call(&flight, "q", hang, strand, &outcomes), net::detached);
    }
    net::co_spawn(io, cancel_when_waiting(&flight, "q", 3, &signal), net::detached);
    io.run_for(30s);

    EXPECT_EQ(calls.load(), 1);
    EXPECT_EQ(outcomes.thrown, 1);  // the leader saw its own cancellation
    ASSERT_EQ(outcomes.results.size(), 3u);
    for (const auto& result : outcomes.results) {
        ASSERT_FALSE(result.result.has_value());
        EXPECT_EQ(result.result.error().code, core::ErrorCode::kUnavailable);
        EXPECT_NE(result.result.error().detail.find("cancelled"), std::string::npos);
    }
    EXPECT_EQ(flight.in_flight(), 0u);
}

TEST(Singleflight, DestroyedLeaderFailsFollowersInsteadOfHanging) {
    Flight flight;
    std::atomic<int> calls{0};
    Outcomes outcomes;
    auto leader_io = std::make_unique<net::io_context>();
    net::io_context follower_io;

    GatedWork hang{&flight, "q", 0, Ending::kHang, &calls};
    {
        // Scoped: a strand handle must not outlive its io_context.
        Strand leader_strand = net::make_strand(*leader_io);
        net::co_spawn(
            leader_strand, call(&flight, "q", hang, leader_strand, &outcomes), net::detached);
    }
    leader_io->poll();  // the leader starts its work and suspends on its hour-long timer
    ASSERT_EQ(calls.load(), 1);

    for (int follower_idx = 0; follower_idx < 3; ++follower_idx) {
        Strand strand = net::make_strand(follower_io);
        net::co_spawn(strand, call(&flight, "q", hang, strand, &outcomes), net::detached);
    }
    std::thread followers([&follower_io] { follower_io.run_for(30s); });
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (flight.waiting("q") < 3 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(1ms);
    }
    ASSERT_EQ(flight.waiting("q"), 3u);

    leader_io.reset();  // destroys the suspended leader coroutine without resuming it
    followers.join();   // returns as soon as every follower has its answer

    EXPECT_EQ(calls.load(), 1);
    ASSERT_EQ(outcomes.results.size(), 3u);
    for (const auto& result : outcomes.results) {
        ASSERT_FALSE(result.result.has_value());
        EXPECT_EQ(result.result.error().code, core::ErrorCode::kUnavailable);
        EXPECT_NE(result.result.error().detail.find("without a result"), std::string::npos);
    }
    EXPECT_EQ(flight.in_flight(), 0u);
}

}  // namespace
}  // namespace ragd::cache
