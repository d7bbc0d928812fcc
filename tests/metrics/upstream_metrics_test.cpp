// The upstream series keep one sample per label set however often calls repeat (they are looked
// up once and then kept), and appear only once something was recorded for them.
#include "metrics/upstream_metrics.hpp"

#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "metrics_sample.hpp"

namespace ragd::metrics {
namespace {

using test_support::sample;

TEST(UpstreamMetricsTest, EachProviderAndOutcomeCountsInItsOwnSeries) {
    Metrics metrics;
    UpstreamMetrics upstream(metrics);
    upstream.call("openai", "ok", 0.1);
    upstream.call("openai", "ok", 0.3);
    upstream.call("openai", "timeout", 30);
    upstream.call("anthropic", "ok", 0.2);
    upstream.tokens("openai", 100, 20);
    upstream.tokens("openai", 50, 5);
    upstream.tokens("anthropic", 7, 1);
    upstream.first_token("openai", 0.05);
    const std::string text = metrics.serialize();

    EXPECT_EQ(sample(text, R"(ragd_upstream_requests_total{outcome="ok",provider="openai"})"), 2);
    EXPECT_EQ(sample(text, R"(ragd_upstream_requests_total{outcome="timeout",provider="openai"})"),
              1);
    EXPECT_EQ(sample(text, R"(ragd_upstream_requests_total{outcome="ok",provider="anthropic"})"),
              1);
    EXPECT_EQ(sample(text, R"(ragd_upstream_duration_seconds_count{provider="openai"})"), 3);
    EXPECT_DOUBLE_EQ(*sample(text, R"(ragd_upstream_duration_seconds_sum{provider="openai"})"),
                     30.4);
    EXPECT_EQ(sample(text, R"(ragd_upstream_duration_seconds_count{provider="anthropic"})"), 1);
    EXPECT_EQ(sample(text, R"(ragd_upstream_tokens_total{direction="in",provider="openai"})"), 150);
    EXPECT_EQ(sample(text, R"(ragd_upstream_tokens_total{direction="out",provider="openai"})"), 25);
    EXPECT_EQ(sample(text, R"(ragd_upstream_tokens_total{direction="in",provider="anthropic"})"),
              7);
    EXPECT_EQ(sample(text, R"(ragd_upstream_first_token_seconds_count{provider="openai"})"), 1);
    // Nothing streamed from anthropic and nothing retried: no such series yet.
    EXPECT_EQ(sample(text, R"(ragd_upstream_first_token_seconds_count{provider="anthropic"})"),
              std::nullopt);
    EXPECT_EQ(text.find("ragd_upstream_retries_total{"), std::string::npos);
}

TEST(UpstreamMetricsTest, ConcurrentCallsLoseNoIncrement) {
    Metrics metrics;
    UpstreamMetrics upstream(metrics);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&upstream, t] {
            for (int i = 0; i < 1000; ++i) {
                upstream.call(
                    t % 2 == 0 ? "openai" : "anthropic", i % 2 == 0 ? "ok" : "reset", 0.01);
                upstream.tokens("openai", 1, 2);
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    const std::string text = metrics.serialize();
    EXPECT_EQ(sample(text, R"(ragd_upstream_requests_total{outcome="ok",provider="openai"})"),
              1000);
    EXPECT_EQ(sample(text, R"(ragd_upstream_requests_total{outcome="reset",provider="anthropic"})"),
              1000);
    EXPECT_EQ(sample(text, R"(ragd_upstream_duration_seconds_count{provider="openai"})"), 2000);
    EXPECT_EQ(sample(text, R"(ragd_upstream_tokens_total{direction="in",provider="openai"})"),
              4000);
    EXPECT_EQ(sample(text, R"(ragd_upstream_tokens_total{direction="out",provider="openai"})"),
              8000);
}

}  // namespace
}  // namespace ragd::metrics
