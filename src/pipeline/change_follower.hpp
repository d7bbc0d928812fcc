// Keeps one replica's indexes in step with a shared system of record (PostgreSQL): other
// replicas write to it, and nothing tells this one, so a thread applies the change log every
// interval. The indexes stay searchable throughout; catch_up() takes the maintainer's lock, so
// a catch-up started by this replica's own writes simply waits its turn.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "pipeline/index_maintainer.hpp"

namespace ragd::pipeline {

/// What the follower last saw, for /ready and logs.
struct FollowerStatus {
    /// Steady-clock time of the last catch-up that worked (the start, when none has yet).
    std::chrono::steady_clock::time_point last_success;
    std::uint64_t failures_in_a_row = 0;
    std::string last_error;  ///< of the latest failure; empty after a success
};

class ChangeFollower {
public:
    /// Starts the thread: a catch-up every `interval` (> 0).
    ChangeFollower(IndexMaintainer& maintainer, std::chrono::milliseconds interval);
    ~ChangeFollower();  ///< stops the thread; a catch-up in progress finishes first
    ChangeFollower(const ChangeFollower&) = delete;
    ChangeFollower& operator=(const ChangeFollower&) = delete;

    FollowerStatus status() const;
    std::chrono::milliseconds interval() const { return interval_; }

private:
    void run();

    IndexMaintainer& maintainer_;
    const std::chrono::milliseconds interval_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;  ///< mutex_
    FollowerStatus status_;  ///< mutex_
    std::thread thread_;     // last: started once everything above exists
};

}  // namespace ragd::pipeline
