// A steady clock the test moves by hand, for TTL tests without sleeping.
#pragma once

#include <atomic>
#include <chrono>

#include "cache/clock.hpp"

namespace ragd::cache::testing {

class FakeClock {
public:
    NowFn now_fn() {
        return [this] {
            return SteadyClock::time_point(SteadyClock::duration(ticks_.load()));
        };
    }
    void advance(std::chrono::milliseconds by) {
        ticks_ += std::chrono::duration_cast<SteadyClock::duration>(by).count();
    }

private:
    std::atomic<SteadyClock::rep> ticks_{1'000'000'000};
};

}  // namespace ragd::cache::testing
