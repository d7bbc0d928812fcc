#include "metrics/upstream_metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace ragd::metrics {
namespace {

// Upstream calls: from a cached local model (tens of ms) to a long generation (minutes).
const prometheus::Histogram::BucketBoundaries kUpstreamBuckets = {
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120};

}  // namespace

struct UpstreamMetrics::Impl {
    explicit Impl(prometheus::Registry& registry)
        : requests(prometheus::BuildCounter()
                       .Name("ragd_upstream_requests_total")
                       .Help("LLM upstream calls (retries included in one call), by outcome.")
                       .Register(registry)),
          duration(prometheus::BuildHistogram()
                       .Name("ragd_upstream_duration_seconds")
                       .Help("LLM upstream call duration, admission to last byte.")
                       .Register(registry)),
          first_token(prometheus::BuildHistogram()
                          .Name("ragd_upstream_first_token_seconds")
                          .Help("Time from the start of a streamed call to its first token.")
                          .Register(registry)),
          retries(prometheus::BuildCounter()
                      .Name("ragd_upstream_retries_total")
                      .Help("Retried LLM upstream attempts.")
                      .Register(registry)),
          tokens(prometheus::BuildCounter()
                     .Name("ragd_upstream_tokens_total")
                     .Help("Tokens the upstreams reported, prompt (in) and completion (out).")
                     .Register(registry)),
          breaker(prometheus::BuildGauge()
                      .Name("ragd_upstream_breaker_state")
                      .Help("Circuit breaker state: 0 closed, 1 half-open, 2 open.")
                      .Register(registry)),
          connections(prometheus::BuildGauge()
                          .Name("ragd_upstream_connections")
                          .Help("Pooled upstream connections, in use or idle.")
                          .Register(registry)) {}

    prometheus::Family<prometheus::Counter>& requests;
    prometheus::Family<prometheus::Histogram>& duration;
    prometheus::Family<prometheus::Histogram>& first_token;
    prometheus::Family<prometheus::Counter>& retries;
    prometheus::Family<prometheus::Counter>& tokens;
    prometheus::Family<prometheus::Gauge>& breaker;
    prometheus::Family<prometheus::Gauge>& connections;
};

UpstreamMetrics::UpstreamMetrics(Metrics& metrics)
    : impl_(std::make_unique<Impl>(metrics.registry())) {}

UpstreamMetrics::~UpstreamMetrics() = default;

// Family::Add is itself thread-safe and returns the existing series for known labels; the
// cost (a label map per call) is fine at upstream-call rates.
void UpstreamMetrics::call(std::string_view provider, std::string_view outcome, double seconds) {
    const std::string name(provider);
    impl_->requests.Add({{"provider", name}, {"outcome", std::string(outcome)}}).Increment();
    impl_->duration.Add({{"provider", name}}, kUpstreamBuckets).Observe(seconds);
}

void UpstreamMetrics::first_token(std::string_view provider, double seconds) {
    impl_->first_token.Add({{"provider", std::string(provider)}}, kUpstreamBuckets)
        .Observe(seconds);
}

void UpstreamMetrics::retry(std::string_view provider) {
    impl_->retries.Add({{"provider", std::string(provider)}}).Increment();
}

void UpstreamMetrics::tokens(std::string_view provider,
                             std::size_t prompt,
                             std::size_t completion) {
    const std::string name(provider);
    impl_->tokens.Add({{"provider", name}, {"direction", "in"}})
        .Increment(static_cast<double>(prompt));
    impl_->tokens.Add({{"provider", name}, {"direction", "out"}})
        .Increment(static_cast<double>(completion));
}

void UpstreamMetrics::breaker_state(std::string_view provider, int state) {
    impl_->breaker.Add({{"provider", std::string(provider)}}).Set(state);
}

void UpstreamMetrics::pool(std::string_view provider, std::size_t in_use, std::size_t idle) {
    const std::string name(provider);
    impl_->connections.Add({{"provider", name}, {"state", "in_use"}})
        .Set(static_cast<double>(in_use));
    impl_->connections.Add({{"provider", name}, {"state", "idle"}}).Set(static_cast<double>(idle));
}

}  // namespace ragd::metrics
