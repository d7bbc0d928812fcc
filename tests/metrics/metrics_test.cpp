// Metrics without a server: series move as recorded, the text output names every family with the
// labels given, and the scrape-time gauges (index, process) are read on each serialize().
#include "metrics/metrics.hpp"

#include <cstdlib>
#include <ctime>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

#include "metrics_sample.hpp"

namespace ragd::metrics {
namespace {

using test_support::sample;

TEST(MetricsTest, RequestCounterAndHistogramMoveWithEachObservation) {
    Metrics metrics;
    metrics.observe_request("/v1/documents/{id}", "GET", 200, 0.002);
    metrics.observe_request("/v1/documents/{id}", "GET", 200, 0.2);
    metrics.observe_request("/v1/documents/{id}", "GET", 404, 0.001);
    metrics.observe_request("unmatched", "POST", 405, 0.0005);
    const std::string text = metrics.serialize();

    // prometheus-cpp prints labels sorted by name.
    EXPECT_EQ(
        sample(text,
               R"(ragd_http_requests_total{code="200",method="GET",route="/v1/documents/{id}"})"),
        2);
    EXPECT_EQ(
        sample(text,
               R"(ragd_http_requests_total{code="404",method="GET",route="/v1/documents/{id}"})"),
        1);
    EXPECT_EQ(
        sample(text, R"(ragd_http_requests_total{code="405",method="POST",route="unmatched"})"), 1);
    EXPECT_EQ(
        sample(text, R"(ragd_http_request_duration_seconds_count{route="/v1/documents/{id}"})"), 3);
    EXPECT_NEAR(
        *sample(text, R"(ragd_http_request_duration_seconds_sum{route="/v1/documents/{id}"})"),
        0.203,
        1e-9);
    // Buckets are cumulative: 0.001 and 0.002 fall at or under 0.0025, 0.2 only from 0.25 up.
    EXPECT_EQ(
        sample(
            text,
            R"(ragd_http_request_duration_seconds_bucket{route="/v1/documents/{id}",le="0.0025"})"),
        2);
    EXPECT_EQ(
        sample(
            text,
            R"(ragd_http_request_duration_seconds_bucket{route="/v1/documents/{id}",le="0.25"})"),
        3);
    EXPECT_EQ(
        sample(text,
               R"(ragd_http_request_duration_seconds_bucket{route="/v1/documents/{id}",le="60"})"),
        3);
    EXPECT_EQ(
        sample(
            text,
            R"(ragd_http_request_duration_seconds_bucket{route="/v1/documents/{id}",le="+Inf"})"),
        3);
    EXPECT_EQ(sample(text, R"(ragd_http_request_duration_seconds_count{route="unmatched"})"), 1);
}

TEST(MetricsTest, GaugesGoUpAndDown) {
    Metrics metrics;
    metrics.request_started();
    metrics.request_started();
    metrics.request_finished();
    metrics.connection_opened();
    metrics.connection_opened();
    metrics.connection_opened();
    metrics.connection_closed();
    metrics.shed();
    metrics.shed();
    const std::string text = metrics.serialize();
    EXPECT_EQ(sample(text, "ragd_inflight_requests"), 1);
    EXPECT_EQ(sample(text, "ragd_open_connections"), 2);
    EXPECT_EQ(sample(text, R"(ragd_shed_total{reason="queue_full"})"), 2);
}

TEST(MetricsTest, StagesAreSeparateSeries) {
    Metrics metrics;
    metrics.observe_stage(Stage::kEmbed, 0.0002);
    metrics.observe_stage(Stage::kEmbed, 0.0003);
    metrics.observe_stage(Stage::kGenerate, 1.5);
    const std::string text = metrics.serialize();
    EXPECT_EQ(sample(text, R"(ragd_stage_duration_seconds_count{stage="embed"})"), 2);
    EXPECT_EQ(sample(text, R"(ragd_stage_duration_seconds_count{stage="generate"})"), 1);
    EXPECT_EQ(sample(text, R"(ragd_stage_duration_seconds_count{stage="bm25"})"), 0);
    EXPECT_EQ(sample(text, R"(ragd_stage_duration_seconds_bucket{stage="embed",le="0.00025"})"), 1);
    EXPECT_EQ(sample(text, R"(ragd_stage_duration_seconds_bucket{stage="generate",le="1"})"), 0);
    EXPECT_EQ(sample(text, R"(ragd_stage_duration_seconds_bucket{stage="generate",le="2.5"})"), 1);
    for (const char* stage : {"embed", "vector", "bm25", "fuse", "generate"}) {
        EXPECT_TRUE(
            sample(text, std::string("ragd_stage_duration_seconds_count{stage=\"") + stage + "\"}"))
            << stage;
    }
}

TEST(MetricsTest, SerializationHasTypeAndHelpForEveryFamily) {
    Metrics metrics;
    metrics.observe_request("/health", "GET", 200, 0.001);
    const std::string text = metrics.serialize();
    const std::vector<std::pair<std::string, std::string>> families = {
        {"ragd_http_requests_total", "counter"},
        {"ragd_http_request_duration_seconds", "histogram"},
        {"ragd_inflight_requests", "gauge"},
        {"ragd_open_connections", "gauge"},
        {"ragd_shed_total", "counter"},
        {"ragd_stage_duration_seconds", "histogram"},
        {"ragd_index_documents", "gauge"},
        {"ragd_index_chunks", "gauge"},
        {"ragd_index_vectors", "gauge"},
        {"ragd_index_change_seq_lag", "gauge"},
        {"ragd_index_applied_seq", "gauge"},
        {"ragd_build_info", "gauge"},
        {"process_cpu_seconds_total", "counter"},
        {"process_resident_memory_bytes", "gauge"},
        {"process_open_fds", "gauge"},
        {"process_start_time_seconds", "gauge"},
    };
    for (const auto& [name, type] : families) {
        EXPECT_NE(text.find("# TYPE " + name + " " + type + "\n"), std::string::npos) << name;
        EXPECT_NE(text.find("# HELP " + name + " "), std::string::npos) << name;
    }
}

TEST(MetricsTest, BuildInfoCarriesVersionAndCommit) {
    const BuildInfo info = build_info();
    EXPECT_FALSE(info.version.empty());
    EXPECT_FALSE(info.commit.empty());
    Metrics metrics;
    EXPECT_EQ(
        sample(metrics.serialize(),
               "ragd_build_info{commit=\"" + info.commit + "\",version=\"" + info.version + "\"}"),
        1);
}

TEST(MetricsTest, IndexGaugesAreReadAtEachScrapeAndKeptWhenTheSourceFails) {
    Metrics metrics;
    std::optional<IndexSnapshot> next = IndexSnapshot{3, 12, 11, 2, 40};
    int calls = 0;
    metrics.set_index_source([&] {
        ++calls;
        return next;
    });
    std::string text = metrics.serialize();
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(sample(text, "ragd_index_documents"), 3);
    EXPECT_EQ(sample(text, "ragd_index_chunks"), 12);
    EXPECT_EQ(sample(text, "ragd_index_vectors"), 11);
    EXPECT_EQ(sample(text, "ragd_index_change_seq_lag"), 2);
    EXPECT_EQ(sample(text, "ragd_index_applied_seq"), 40);

    next = IndexSnapshot{4, 15, 15, 0, 42};
    text = metrics.serialize();
    EXPECT_EQ(sample(text, "ragd_index_documents"), 4);
    EXPECT_EQ(sample(text, "ragd_index_change_seq_lag"), 0);
    EXPECT_EQ(sample(text, "ragd_index_applied_seq"), 42);

    next = std::nullopt;  // storage unreadable: the last values stay
    text = metrics.serialize();
    EXPECT_EQ(calls, 3);
    EXPECT_EQ(sample(text, "ragd_index_documents"), 4);
}

TEST(MetricsTest, ProcessMetricsArePlausible) {
    const auto snapshot = read_process_snapshot();
    ASSERT_TRUE(snapshot);
    EXPECT_GT(snapshot->resident_memory_bytes, 1024 * 1024);
    EXPECT_GE(snapshot->virtual_memory_bytes, snapshot->resident_memory_bytes);
    EXPECT_GE(snapshot->open_fds, 3);  // stdin, stdout, stderr at least
    EXPECT_GE(snapshot->max_fds, snapshot->open_fds);
    const double now = static_cast<double>(std::time(nullptr));
    EXPECT_LE(snapshot->start_time_seconds, now + 1);
    EXPECT_GT(snapshot->start_time_seconds, now - 3600);

    // CPU time moves when the process works.
    const double before = snapshot->cpu_seconds;
    volatile double sink = 0;
    const std::clock_t until = std::clock() + CLOCKS_PER_SEC / 20;
    while (std::clock() < until) {
        sink = sink + 1;
    }
    EXPECT_GT(read_process_snapshot()->cpu_seconds, before);

    Metrics metrics;
    const std::string text = metrics.serialize();
    EXPECT_GT(*sample(text, "process_resident_memory_bytes"), 1024 * 1024);
    EXPECT_GE(*sample(text, "process_open_fds"), 3);
    EXPECT_GT(*sample(text, "process_start_time_seconds"), now - 3600);
    EXPECT_TRUE(sample(text, "process_cpu_seconds_total"));
}

TEST(MetricsTest, ConcurrentRecordingLosesNothing) {
    Metrics metrics;
    constexpr int kThreads = 4;
    constexpr int kPerThread = 5000;
    std::vector<std::thread> threads;
    for (int thread_idx = 0; thread_idx < kThreads; ++thread_idx) {
        threads.emplace_back([&metrics, thread_idx] {
            const std::string route = "/r" + std::to_string(thread_idx % 2);
            for (int request_idx = 0; request_idx < kPerThread; ++request_idx) {
                metrics.request_started();
                metrics.observe_request(route, "GET", 200 + request_idx % 2, 0.001);
                metrics.request_finished();
            }
        });
    }
    for (std::thread& thread : threads) {
        thread.join();
    }
    const std::string text = metrics.serialize();
    EXPECT_EQ(sample(text, R"(ragd_http_request_duration_seconds_count{route="/r0"})"),
              2 * kPerThread);
    EXPECT_EQ(sample(text, R"(ragd_http_requests_total{code="201",method="GET",route="/r1"})"),
              kPerThread);
    EXPECT_EQ(sample(text, "ragd_inflight_requests"), 0);
}

}  // namespace
}  // namespace ragd::metrics
