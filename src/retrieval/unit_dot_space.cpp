#include "retrieval/unit_dot_space.hpp"

namespace ragd::retrieval {

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
__attribute__((target_clones("avx2", "default")))
#endif
float dot_product(const float* a, const float* b, std::size_t dimensions) {
    float sums[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::size_t i = 0;
    for (; i + 8 <= dimensions; i += 8) {
        for (std::size_t lane = 0; lane < 8; ++lane) {
            sums[lane] += a[i + lane] * b[i + lane];
        }
    }
    float total = ((sums[0] + sums[4]) + (sums[1] + sums[5])) +
                  ((sums[2] + sums[6]) + (sums[3] + sums[7]));
    for (; i < dimensions; ++i) {
        total += a[i] * b[i];
    }
    return total;
}

}  // namespace ragd::retrieval
