// Bucket layout: index < 128 holds that exact value; above, index 128 + o*128 + s covers
// [(128 + s) << o, (129 + s) << o), i.e. octave o+7 split into 128 equal parts.
#include "loadgen/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace ragd::loadgen {

namespace {
constexpr std::uint64_t kSubBuckets = std::uint64_t{1} << Histogram::kSubBucketBits;
}  // namespace

Histogram::Histogram() : counts_(kBucketCount, 0) {}

std::size_t Histogram::bucket_index(std::uint64_t value) {
    if (value < kSubBuckets) {
        return static_cast<std::size_t>(value);
    }
    const unsigned octave = static_cast<unsigned>(std::bit_width(value)) - 1 - kSubBucketBits;
    const std::uint64_t sub = (value >> octave) - kSubBuckets;
    return static_cast<std::size_t>(kSubBuckets + octave * kSubBuckets + sub);
}

std::uint64_t Histogram::bucket_low(std::size_t index) {
    if (index < kSubBuckets) {
        return index;
    }
    const std::uint64_t octave = (index - kSubBuckets) / kSubBuckets;
    const std::uint64_t sub = (index - kSubBuckets) % kSubBuckets;
    return (kSubBuckets + sub) << octave;
}

std::uint64_t Histogram::bucket_width(std::size_t index) {
    if (index < kSubBuckets) {
        return 1;
    }
    return std::uint64_t{1} << ((index - kSubBuckets) / kSubBuckets);
}

void Histogram::merge(const Histogram& other) {
    for (std::size_t idx = 0; idx < kBucketCount; ++idx) {
        counts_[idx] += other.counts_[idx];
    }
    count_ += other.count_;
    sum_ += other.sum_;
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
}

void Histogram::clear() {
    std::fill(counts_.begin(), counts_.end(), 0);
    count_ = 0;
    sum_ = 0.0;
    min_ = UINT64_MAX;
    max_ = 0;
}

std::uint64_t Histogram::percentile(double percent) const {
    if (count_ == 0) {
        return 0;
    }
    if (percent >= 100.0) {
        return max_;
    }
    const double wanted = std::ceil(std::max(percent, 0.0) / 100.0 * static_cast<double>(count_));
    const std::uint64_t rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(wanted));
    std::uint64_t seen = 0;
    for (std::size_t idx = 0; idx < kBucketCount; ++idx) {
        seen += counts_[idx];
        if (seen >= rank) {
            const std::uint64_t mid = bucket_low(idx) + bucket_width(idx) / 2;
            return std::clamp(mid, min(), max_);
        }
    }
    return max_;
}

}  // namespace ragd::loadgen
