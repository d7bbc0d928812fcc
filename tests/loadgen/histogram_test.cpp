// Percentile accuracy of the log-bucketed histogram against exact percentiles of known
// distributions, and merge semantics.
#include "loadgen/histogram.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace ragd::loadgen {
namespace {

// The exact percentile by the same definition: the ceil(p% * n)-th smallest value.
std::uint64_t exact_percentile(std::vector<std::uint64_t> values, double percent) {
    std::sort(values.begin(), values.end());
    const auto rank = static_cast<std::size_t>(
        std::max(1.0, std::ceil(percent / 100.0 * static_cast<double>(values.size()))));
    return values[rank - 1];
}

void expect_within_one_percent(const std::vector<std::uint64_t>& values) {
    Histogram histogram;
    for (const auto value : values) {
        histogram.record(value);
    }
    for (const double pct : {1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9, 99.99}) {
        const double exact = static_cast<double>(exact_percentile(values, pct));
        const double got = static_cast<double>(histogram.percentile(pct));
        EXPECT_LE(std::abs(got - exact), exact * 0.01 + 0.5) << "p" << pct;
    }
    EXPECT_EQ(histogram.max(), *std::max_element(values.begin(), values.end()));
    EXPECT_EQ(histogram.min(), *std::min_element(values.begin(), values.end()));
    EXPECT_EQ(histogram.percentile(100), histogram.max());
    EXPECT_EQ(histogram.count(), values.size());
}

TEST(Histogram, EmptyReportsZero) {
    Histogram histogram;
    EXPECT_EQ(histogram.count(), 0U);
    EXPECT_EQ(histogram.percentile(50), 0U);
    EXPECT_EQ(histogram.min(), 0U);
    EXPECT_EQ(histogram.max(), 0U);
    EXPECT_EQ(histogram.mean(), 0.0);
}

TEST(Histogram, SmallValuesAreExact) {
    Histogram histogram;
    for (std::uint64_t value = 0; value < 100; ++value) {
        histogram.record(value);
    }
    EXPECT_EQ(histogram.percentile(50), 49U);
    EXPECT_EQ(histogram.percentile(1), 0U);
    EXPECT_EQ(histogram.percentile(99), 98U);
    EXPECT_DOUBLE_EQ(histogram.mean(), 49.5);
}

TEST(Histogram, UniformDistribution) {
    std::vector<std::uint64_t> values;
    for (std::uint64_t value = 1; value <= 1'000'000; value += 7) {
        values.push_back(value * 1000);  // 1 us .. 1 s in ns
    }
    expect_within_one_percent(values);
}

TEST(Histogram, ExponentialDistribution) {
    std::mt19937_64 rng(42);
    std::exponential_distribution<double> latency_ms(1.0 / 20.0);
    std::vector<std::uint64_t> values;
    values.reserve(200'000);
    for (int idx = 0; idx < 200'000; ++idx) {
        values.push_back(static_cast<std::uint64_t>(latency_ms(rng) * 1e6) + 1);
    }
    expect_within_one_percent(values);
}

TEST(Histogram, LogNormalWithHeavyTail) {
    std::mt19937_64 rng(7);
    std::lognormal_distribution<double> latency_ns(13.0, 1.5);
    std::vector<std::uint64_t> values;
    values.reserve(200'000);
    for (int idx = 0; idx < 200'000; ++idx) {
        values.push_back(static_cast<std::uint64_t>(latency_ns(rng)));
    }
    expect_within_one_percent(values);
}

TEST(Histogram, BimodalPercentilesLandInTheRightMode) {
    Histogram histogram;
    for (int idx = 0; idx < 900; ++idx) {
        histogram.record(1'000'000);  // 1 ms
    }
    for (int idx = 0; idx < 100; ++idx) {
        histogram.record(500'000'000);  // 500 ms
    }
    EXPECT_NEAR(static_cast<double>(histogram.percentile(90)), 1e6, 1e4);
    EXPECT_NEAR(static_cast<double>(histogram.percentile(91)), 5e8, 5e6);
}

TEST(Histogram, EveryValueFallsInsideItsBucket) {
    std::mt19937_64 rng(3);
    for (int idx = 0; idx < 100'000; ++idx) {
        const std::uint64_t value = rng() >> (rng() % 64);
        const auto bucket = Histogram::bucket_index(value);
        ASSERT_LT(bucket, Histogram::kBucketCount);
        EXPECT_LE(Histogram::bucket_low(bucket), value);
        EXPECT_LT(value - Histogram::bucket_low(bucket), Histogram::bucket_width(bucket));
        // Relative bucket width bounds the error: at most 1/128 of the value.
        EXPECT_LE(static_cast<double>(Histogram::bucket_width(bucket)),
                  std::max(1.0, static_cast<double>(value) / 128.0));
    }
    EXPECT_EQ(Histogram::bucket_index(UINT64_MAX), Histogram::kBucketCount - 1);
}

TEST(Histogram, MergeEqualsRecordingEverything) {
    std::mt19937_64 rng(11);
    Histogram all;
    Histogram first;
    Histogram second;
    for (int idx = 0; idx < 50'000; ++idx) {
        const std::uint64_t value = rng() % 10'000'000;
        all.record(value);
        (idx % 3 == 0 ? first : second).record(value);
    }
    first.merge(second);
    EXPECT_EQ(first.count(), all.count());
    EXPECT_EQ(first.min(), all.min());
    EXPECT_EQ(first.max(), all.max());
    EXPECT_DOUBLE_EQ(first.mean(), all.mean());
    for (const double pct : {50.0, 90.0, 99.0, 99.9}) {
        EXPECT_EQ(first.percentile(pct), all.percentile(pct));
    }
    first.clear();
    EXPECT_EQ(first.count(), 0U);
    EXPECT_EQ(first.percentile(50), 0U);
}

}  // namespace
}  // namespace ragd::loadgen
