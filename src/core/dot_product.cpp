#include "core/dot_product.hpp"

namespace ragd::core {

// Compiled for AVX2 and for baseline x86-64, picked at load time. The ifunc resolver of
// target_clones runs before the sanitizer runtimes are up (TSan segfaults in it, ASan
// misreports), so sanitizer builds take the baseline loop.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
__attribute__((target_clones("avx2", "default")))
#endif
float dot_product(const float* a, const float* b, std::size_t dimensions) {
    // 32 partial sums = four independent 8-wide accumulators, so consecutive adds do not wait
    // on each other's latency (one accumulator made search ~40% slower than hnswlib's SSE).
    constexpr std::size_t kLanes = 32;
    float sums[kLanes] = {};
    std::size_t i = 0;
    for (; i + kLanes <= dimensions; i += kLanes) {
        for (std::size_t lane = 0; lane < kLanes; ++lane) {
            sums[lane] += a[i + lane] * b[i + lane];
        }
    }
    float total = 0;
    for (float sum : sums) {
        total += sum;
    }
    for (; i < dimensions; ++i) {
        total += a[i] * b[i];
    }
    return total;
}

}  // namespace ragd::core
