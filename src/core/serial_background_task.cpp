#include "core/serial_background_task.hpp"

#include <exception>
#include <system_error>
#include <utility>

#include <sched.h>

namespace ragd::core {

std::size_t usable_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) {
        return 1;
    }
    const int count = CPU_COUNT(&set);
    return count > 0 ? static_cast<std::size_t>(count) : 1;
}

SerialBackgroundTask::SerialBackgroundTask(std::function<Result<void>()> task,
                                           std::optional<bool> own_thread)
    : task_(std::move(task)), own_thread_(own_thread.value_or(usable_cpus() > 1)) {}

SerialBackgroundTask::~SerialBackgroundTask() {
    (void)wait();
    if (worker_.joinable()) {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        changed_.notify_all();
        worker_.join();
    }
}

Result<void> SerialBackgroundTask::run_task() {
    try {
        return task_();
    } catch (const std::exception& e) {
        // The owner sees it as an error, as it would a failed catch-up.
        return fail(ErrorCode::kInternal, e.what());
    }
}

Result<void> SerialBackgroundTask::start() {
    Result<void> previous = wait();
    if (own_thread_ && !worker_.joinable()) {
        try {
            worker_ = std::thread([this] { work(); });
        } catch (const std::system_error&) {
            own_thread_ = false;  // no thread to be had (a process limit): run here, only slower
        }
    }
    if (!own_thread_) {
        Result<void> result = run_task();
        std::lock_guard lock(mutex_);
        last_ = std::move(result);
        return previous;
    }
    {
        std::lock_guard lock(mutex_);
        requested_ = true;
        busy_ = true;
    }
    changed_.notify_all();
    return previous;
}

Result<void> SerialBackgroundTask::wait() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return !busy_; });
    return std::exchange(last_, Result<void>{});
}

void SerialBackgroundTask::work() {
    std::unique_lock lock(mutex_);
    for (;;) {
        changed_.wait(lock, [this] { return requested_ || stopping_; });
        if (!requested_) {
            return;  // stopping, nothing asked for
        }
        requested_ = false;
        lock.unlock();
        Result<void> result = run_task();
        lock.lock();
        last_ = std::move(result);
        busy_ = false;
        changed_.notify_all();
    }
}

}  // namespace ragd::core
