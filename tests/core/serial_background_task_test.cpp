#include "core/serial_background_task.hpp"

#include <atomic>
#include <chrono>
#include <future>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace ragd::core {
namespace {

using namespace std::chrono_literals;

/// A task that blocks until the test releases it, counting its runs and their overlaps.
struct GatedTask {
    std::atomic<int> started{0};
    std::atomic<int> finished{0};
    std::atomic<int> running{0};
    std::atomic<int> most_at_once{0};
    std::promise<void> gate;
    std::shared_future<void> opened = gate.get_future().share();
    std::promise<void> first_started;
    bool fail_first = false;

    Result<void> operator()() {
        int now = ++running;
        int most = most_at_once.load();
        while (now > most && !most_at_once.compare_exchange_weak(most, now)) {
        }
        if (++started == 1) {
            first_started.set_value();
        }
        opened.wait();
        --running;
        ++finished;
        if (fail_first && finished == 1) {
            return fail(ErrorCode::kIo, "disk full");
        }
        return {};
    }
};

TEST(SerialBackgroundTask, StartReturnsWhileTheTaskRuns) {
    GatedTask task;
    SerialBackgroundTask background([&task] { return task(); }, true);
    auto first_started = task.first_started.get_future();
    ASSERT_TRUE(background.start());  // returns with the task blocked on the gate
    first_started.wait();
    EXPECT_EQ(task.finished, 0);
    task.gate.set_value();
    EXPECT_TRUE(background.wait());
    EXPECT_EQ(task.finished, 1);
}

TEST(SerialBackgroundTask, TheNextStartWaitsForThePreviousRun) {
    GatedTask task;
    SerialBackgroundTask background([&task] { return task(); }, true);
    auto first_started = task.first_started.get_future();
    ASSERT_TRUE(background.start());
    first_started.wait();
    auto second = std::async(std::launch::async, [&background] { return background.start(); });
    // While the first run is held, the second start() cannot return.
    EXPECT_EQ(second.wait_for(50ms), std::future_status::timeout);
    task.gate.set_value();
    EXPECT_TRUE(second.get());
    EXPECT_TRUE(background.wait());
    EXPECT_EQ(task.started, 2);
    EXPECT_EQ(task.finished, 2);
    EXPECT_EQ(task.most_at_once, 1);  // never two runs at once
}

TEST(SerialBackgroundTask, ARunsErrorComesBackFromTheNextStartOrWait) {
    GatedTask task;
    task.fail_first = true;
    task.gate.set_value();
    SerialBackgroundTask background([&task] { return task(); }, true);
    ASSERT_TRUE(background.start());
    auto previous = background.start();  // the first run's result, and a second run begins
    ASSERT_FALSE(previous);
    EXPECT_EQ(previous.error().detail, "disk full");
    EXPECT_TRUE(background.wait());
    EXPECT_EQ(task.finished, 2);
    EXPECT_TRUE(background.wait());  // nothing running: no error
}

TEST(SerialBackgroundTask, AnExceptionBecomesAnError) {
    SerialBackgroundTask background(
        []() -> Result<void> { throw std::runtime_error("index exploded"); }, true);
    ASSERT_TRUE(background.start());
    auto result = background.wait();
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code, ErrorCode::kInternal);
    EXPECT_EQ(result.error().detail, "index exploded");
}

TEST(SerialBackgroundTask, DestructionWaitsForTheRun) {
    std::atomic<bool> done{false};
    {
        SerialBackgroundTask background(
            [&done]() -> Result<void> {
                std::this_thread::sleep_for(20ms);
                done = true;
                return {};
            },
            true);
        ASSERT_TRUE(background.start());
    }
    EXPECT_TRUE(done);
}

// What the task keeps per thread (the term extractor's stem cache) must outlive one run: a
// thread_local counter sees every run only if they all run on one thread. (Thread ids would not
// tell: a new thread may reuse a joined one's id.)
TEST(SerialBackgroundTask, EveryRunSeesTheSameThreadLocalState) {
    std::vector<int> seen;
    std::vector<std::thread::id> threads;
    SerialBackgroundTask background(
        [&]() -> Result<void> {
            thread_local int runs_on_this_thread = 0;
            seen.push_back(++runs_on_this_thread);
            threads.push_back(std::this_thread::get_id());
            return {};
        },
        true);
    for (int run = 0; run < 3; ++run) {
        ASSERT_TRUE(background.start());
    }
    ASSERT_TRUE(background.wait());
    EXPECT_EQ(seen, (std::vector<int>{1, 2, 3}));
    ASSERT_FALSE(threads.empty());
    EXPECT_NE(threads[0], std::this_thread::get_id());
}

TEST(SerialBackgroundTask, WithoutAThreadOfItsOwnStartRunsTheTaskItself) {
    std::vector<std::thread::id> threads;
    bool fail_next = true;
    SerialBackgroundTask background(
        [&]() -> Result<void> {
            threads.push_back(std::this_thread::get_id());
            if (std::exchange(fail_next, false)) {
                return fail(ErrorCode::kIo, "disk full");
            }
            return {};
        },
        false);
    EXPECT_FALSE(background.on_own_thread());
    ASSERT_TRUE(background.start());
    ASSERT_EQ(threads.size(), 1u);  // done by the time start() returned
    EXPECT_EQ(threads[0], std::this_thread::get_id());
    auto previous = background.start();  // the error still comes back one call later
    ASSERT_FALSE(previous);
    EXPECT_EQ(previous.error().detail, "disk full");
    EXPECT_TRUE(background.wait());
    EXPECT_EQ(threads.size(), 2u);
}

TEST(SerialBackgroundTask, ByDefaultAWorkerOnlyWithMoreThanOneCpu) {
    SerialBackgroundTask background([]() -> Result<void> { return {}; });
    EXPECT_EQ(background.on_own_thread(), usable_cpus() > 1);
    EXPECT_GE(usable_cpus(), 1u);
}

}  // namespace
}  // namespace ragd::core
