// The time source the caches read expiry against, injected so tests can move time forward.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace ragd::cache {

using SteadyClock = std::chrono::steady_clock;
/// Returns "now"; an empty function means SteadyClock::now.
using NowFn = std::function<SteadyClock::time_point()>;

/// A cached answer: immutable and shared, so a hit costs a reference-count increment rather
/// than a copy of the serialized JSON while the shard lock is held.
using CachedValue = std::shared_ptr<const std::string>;

inline NowFn default_now(NowFn now) {
    if (now) {
        return now;
    }
    return [] {
        return SteadyClock::now();
    };
}

}  // namespace ragd::cache
