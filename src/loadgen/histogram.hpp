// A log-bucketed latency histogram in the manner of HdrHistogram: fixed memory, O(1) record,
// mergeable across threads, so percentiles over millions of requests need no per-request storage.
#pragma once

#include <cstdint>
#include <vector>

namespace ragd::loadgen {

/// Records unsigned values (ragd bench records nanoseconds). Values below 128 are exact; above,
/// each power of two is split into 128 equal buckets, so a reported value is within 1/256
/// (0.4%) of the value it stands for. Uses ~58 KiB, allocated once in the constructor.
class Histogram {
public:
    /// Buckets per power of two, as a power of two.
    static constexpr unsigned kSubBucketBits = 7;

    Histogram();

    void record(std::uint64_t value) {
        ++counts_[bucket_index(value)];
        ++count_;
        sum_ += static_cast<double>(value);
        if (value < min_) {
            min_ = value;
        }
        if (value > max_) {
            max_ = value;
        }
    }
    /// Adds every value `other` holds.
    void merge(const Histogram& other);
    void clear();

    std::uint64_t count() const { return count_; }
    /// Smallest and largest recorded value, exact; 0 when empty.
    std::uint64_t min() const { return count_ == 0 ? 0 : min_; }
    std::uint64_t max() const { return max_; }
    double mean() const { return count_ == 0 ? 0.0 : sum_ / static_cast<double>(count_); }
    /// The value below or at which `percent` (0..100) of the recorded values lie: the smallest
    /// bucket holding the ceil(percent% * count)-th value, reported as the bucket's midpoint
    /// clamped to [min, max]. 100 gives max() exactly; 0 when empty.
    std::uint64_t percentile(double percent) const;

    /// Bucket of a value, and the smallest value of a bucket (exposed for tests).
    static std::size_t bucket_index(std::uint64_t value);
    static std::uint64_t bucket_low(std::size_t index);
    static std::uint64_t bucket_width(std::size_t index);
    static constexpr std::size_t kBucketCount = (64 - kSubBucketBits + 1) << kSubBucketBits;

private:
    std::vector<std::uint64_t> counts_;
    std::uint64_t count_ = 0;
    double sum_ = 0.0;
    std::uint64_t min_ = UINT64_MAX;
    std::uint64_t max_ = 0;
};

}  // namespace ragd::loadgen
