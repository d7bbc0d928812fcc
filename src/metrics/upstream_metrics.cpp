#include "metrics/upstream_metrics.hpp"

#include <mutex>
#include <unordered_map>

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

/// The series of one family that calls have used, by provider and second label value.
/// Family::Add builds a label map and hashes it on every call; per upstream call (one per
/// uncached query) that was ~1 % of ragd's CPU, so each series is looked up there once.
/// Series are never removed from their family, so the pointers stay valid.
template <typename Metric>
class SeriesCache {
public:
    template <typename Make>
    Metric& get(std::string_view provider, std::string_view detail, Make make) {
        std::string key;
        key.reserve(provider.size() + 1 + detail.size());
        key.append(provider).append(1, '\n').append(detail);
        const std::lock_guard lock(mutex_);
        auto found = series_.find(key);
        if (found == series_.end()) {
            found = series_.emplace(std::move(key), &make()).first;
        }
        return *found->second;
    }

private:
    std::mutex mutex_;
    std::unordered_map<std::string, Metric*> series_;
};

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

    SeriesCache<prometheus::Counter> requests_by_outcome;
    SeriesCache<prometheus::Histogram> duration_by_provider;
    SeriesCache<prometheus::Histogram> first_token_by_provider;
    SeriesCache<prometheus::Counter> tokens_by_direction;
};

UpstreamMetrics::UpstreamMetrics(Metrics& metrics)
    : impl_(std::make_unique<Impl>(metrics.registry())) {}

UpstreamMetrics::~UpstreamMetrics() = default;

void UpstreamMetrics::call(std::string_view provider, std::string_view outcome, double seconds) {
    impl_->requests_by_outcome
        .get(provider,
             outcome,
             [&]() -> prometheus::Counter& {
                 return impl_->requests.Add(
                     {{"provider", std::string(provider)}, {"outcome", std::string(outcome)}});
             })
        .Increment();
    impl_->duration_by_provider
        .get(
            provider,
            "",
            [&]() -> prometheus::Histogram& {
                return impl_->duration.Add({{"provider", std::string(provider)}}, kUpstreamBuckets);
            })
        .Observe(seconds);
}

void UpstreamMetrics::first_token(std::string_view provider, double seconds) {
    impl_->first_token_by_provider
        .get(provider,
             "",
             [&]() -> prometheus::Histogram& {
                 return impl_->first_token.Add({{"provider", std::string(provider)}},
                                               kUpstreamBuckets);
             })
        .Observe(seconds);
}

void UpstreamMetrics::retry(std::string_view provider) {
    impl_->retries.Add({{"provider", std::string(provider)}}).Increment();
}

void UpstreamMetrics::tokens(std::string_view provider,
                             std::size_t prompt,
                             std::size_t completion) {
    for (const auto& [direction, count] :
         {std::pair<std::string_view, std::size_t>{"in", prompt},
          std::pair<std::string_view, std::size_t>{"out", completion}}) {
        impl_->tokens_by_direction
            .get(provider,
                 direction,
                 [&]() -> prometheus::Counter& {
                     return impl_->tokens.Add({{"provider", std::string(provider)},
                                               {"direction", std::string(direction)}});
                 })
            .Increment(static_cast<double>(count));
    }
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
