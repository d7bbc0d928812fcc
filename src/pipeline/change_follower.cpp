#include "pipeline/change_follower.hpp"

#include "core/log.hpp"

namespace ragd::pipeline {

ChangeFollower::ChangeFollower(IndexMaintainer& maintainer, std::chrono::milliseconds interval)
    : maintainer_(maintainer), interval_(interval) {
    status_.last_success = std::chrono::steady_clock::now();
    thread_ = std::thread([this] { run(); });
}

ChangeFollower::~ChangeFollower() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

FollowerStatus ChangeFollower::status() const {
    std::lock_guard lock(mutex_);
    return status_;
}

void ChangeFollower::run() {
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, interval_, [this] { return stopping_; })) {
        lock.unlock();
        auto caught_up = maintainer_.catch_up();
        lock.lock();
        if (caught_up) {
            if (status_.failures_in_a_row > 0) {
                core::log::info("following the change log again",
                                {{"after_failures", status_.failures_in_a_row}});
            }
            status_.last_success = std::chrono::steady_clock::now();
            status_.failures_in_a_row = 0;
            status_.last_error.clear();
            if (caught_up->changes > 0) {
                core::log::debug("applied changes from storage",
                                 {{"changes", caught_up->changes},
                                  {"to_seq", caught_up->to_seq},
                                  {"chunks_added", caught_up->chunks_added},
                                  {"chunks_removed", caught_up->chunks_removed}});
            }
            continue;
        }
        // Logged on the first failure only: storage being down is also on /ready and would
        // otherwise write a line every interval.
        if (status_.failures_in_a_row++ == 0) {
            core::log::warn("cannot follow the change log; retrying",
                            {{"error", caught_up.error().detail}});
        }
        status_.last_error = caught_up.error().detail;
    }
}

}  // namespace ragd::pipeline
