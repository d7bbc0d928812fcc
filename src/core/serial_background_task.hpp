// One task at a time, beside the caller: a bulk ingest parses, embeds and stores the next files
// on one core while the index catch-up of the previous ones runs on another. Starting the next
// run waits for the previous one, so the caller is never more than one run ahead: the indexes
// lag storage by at most one batch, and the chunks handed to them meanwhile stay bounded.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "core/error.hpp"

namespace ragd::core {

/// Owned and driven by one thread. The runs share one worker thread, so what the task keeps
/// per thread (the BM25 term extractor's stem cache) stays warm from one run to the next.
class SerialBackgroundTask {
public:
    /// `own_thread`: run on a worker thread (true) or on the caller's, inside start() (false).
    /// By default a worker only when this process may use more than one CPU: on one core the
    /// two would only take turns, adding context switches and sharing the caches between two
    /// working sets.
    explicit SerialBackgroundTask(std::function<Result<void>()> task,
                                  std::optional<bool> own_thread = std::nullopt);
    /// Waits for a run still going (its error is lost: call wait() first to see it).
    ~SerialBackgroundTask();
    SerialBackgroundTask(const SerialBackgroundTask&) = delete;
    SerialBackgroundTask& operator=(const SerialBackgroundTask&) = delete;

    /// Waits for the previous run, if any, then starts a new one. Returns the previous run's
    /// error (the new run starts either way).
    Result<void> start();
    /// Waits for the run going, if any, and returns its error.
    Result<void> wait();
    /// Whether runs go to a worker thread.
    bool on_own_thread() const { return own_thread_; }

private:
    Result<void> run_task();
    void work();

    std::function<Result<void>()> task_;
    bool own_thread_ = false;
    std::mutex mutex_;
    std::condition_variable changed_;
    bool requested_ = false;  ///< mutex_: a run is asked for and not taken yet
    bool busy_ = false;       ///< mutex_: a run is asked for or going
    bool stopping_ = false;   ///< mutex_
    Result<void> last_;       ///< mutex_: the finished run's result, until collected
    std::thread worker_;      ///< started by the first start() when own_thread_
};

/// CPUs this process may run on (its affinity mask), at least 1.
std::size_t usable_cpus();

}  // namespace ragd::core
