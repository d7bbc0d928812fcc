// The LLM upstream series: calls by outcome, call latency, time to first token, retries,
// tokens, breaker state and connection-pool sizes, labelled by upstream name (`provider`).
// Registered on the Metrics registry; api/ feeds them from llm::UpstreamObserver.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "metrics/metrics.hpp"

namespace ragd::metrics {

/// Thread-safe. The per-call series (requests, duration, first token, tokens) are looked up in
/// their family once per label set and then kept, since they are fed once per upstream call.
class UpstreamMetrics {
public:
    explicit UpstreamMetrics(Metrics& metrics);
    ~UpstreamMetrics();
    UpstreamMetrics(const UpstreamMetrics&) = delete;
    UpstreamMetrics& operator=(const UpstreamMetrics&) = delete;

    /// ragd_upstream_requests_total{provider,outcome} and
    /// ragd_upstream_duration_seconds{provider}. outcome: ok, rejected, cancelled, timeout,
    /// connect_error, reset, http_429, http_4xx, http_5xx.
    void call(std::string_view provider, std::string_view outcome, double seconds);
    /// ragd_upstream_first_token_seconds{provider}.
    void first_token(std::string_view provider, double seconds);
    /// ragd_upstream_retries_total{provider}.
    void retry(std::string_view provider);
    /// ragd_upstream_tokens_total{provider,direction="in"|"out"}.
    void tokens(std::string_view provider, std::size_t prompt, std::size_t completion);
    /// ragd_upstream_breaker_state{provider}: 0 closed, 1 half-open, 2 open.
    void breaker_state(std::string_view provider, int state);
    /// ragd_upstream_connections{provider,state="in_use"|"idle"}.
    void pool(std::string_view provider, std::size_t in_use, std::size_t idle);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ragd::metrics
