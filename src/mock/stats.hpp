// Counters behind GET /stats: what tests and load testers read to check the mock's view of the
// traffic (did the client's disconnect reach us, how many errors were injected).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "mock/options.hpp"

namespace ragd::mock {

/// Endpoints counted separately in "requests".
enum class Endpoint {
    kChatCompletions,
    kMessages,
    kConverse,
    kRerank,
    kEmbeddings,
    kHealth,
    kStats,
    kOther,
    kCount
};

/// Relaxed atomics: I/O threads bump them, /stats reads a near-consistent snapshot.
struct MockStats {
    using Counter = std::atomic<std::uint64_t>;
    using Gauge = std::atomic<std::int64_t>;

    Counter requests[static_cast<int>(Endpoint::kCount)] = {};
    Counter connections_accepted{0};
    Gauge connections_open{0};
    Gauge streams_in_flight{0};
    /// Requests waiting or writing their answer (streaming or not).
    Gauge requests_in_flight{0};
    Counter streams_completed{0};
    /// Streams whose client closed (or reset) the connection before the last event.
    Counter client_closed_mid_stream{0};
    /// Non-streaming requests whose client left during the latency wait.
    Counter client_closed_before_response{0};
    Counter errors_injected[4] = {};  ///< indexed by ErrorKind
    Counter auth_failures{0};
    Counter bad_requests{0};
    Counter tokens_sent{0};
    Counter accept_errors{0};

    void count_request(Endpoint endpoint) {
        requests[static_cast<int>(endpoint)].fetch_add(1, std::memory_order_relaxed);
    }
    void count_error(ErrorKind kind) {
        errors_injected[static_cast<int>(kind)].fetch_add(1, std::memory_order_relaxed);
    }

    /// A JSON object of every counter (see docs/mock-llm.md for the field list).
    std::string to_json() const;
};

/// Increments a gauge for the lifetime of the guard, however its scope ends.
class GaugeGuard {
public:
    explicit GaugeGuard(MockStats::Gauge& gauge) : gauge_(&gauge) {
        gauge_->fetch_add(1, std::memory_order_relaxed);
    }
    GaugeGuard(const GaugeGuard&) = delete;
    GaugeGuard& operator=(const GaugeGuard&) = delete;
    ~GaugeGuard() { gauge_->fetch_sub(1, std::memory_order_relaxed); }

private:
    MockStats::Gauge* gauge_;
};

}  // namespace ragd::mock
