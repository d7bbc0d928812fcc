#include "retrieval/int8_dot_space.hpp"

#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define RAGD_INT8_DOT_AVX2 1
#include <immintrin.h>
#endif

#include "core/int8_quantize.hpp"

namespace ragd::retrieval {
namespace {

float scale_of(const void* encoded) {
    float scale = 0;
    std::memcpy(&scale, encoded, sizeof scale);
    return scale;
}

const std::int8_t* bytes_of(const void* encoded) {
    return static_cast<const std::int8_t*>(encoded) + sizeof(float);
}

/// Several independent sums of 16-bit products: the compiler turns this into pmaddwd at
/// baseline x86-64 (SSE2) and plain multiply-adds elsewhere.
std::int32_t dot_portable(const std::int8_t* a, const std::int8_t* b, std::size_t dimensions) {
    constexpr std::size_t kLanes = 16;
    std::int32_t sums[kLanes] = {};
    std::size_t dim = 0;
    for (; dim + kLanes <= dimensions; dim += kLanes) {
        for (std::size_t lane = 0; lane < kLanes; ++lane) {
            sums[lane] +=
                static_cast<std::int16_t>(a[dim + lane]) * static_cast<std::int16_t>(b[dim + lane]);
        }
    }
    std::int32_t total = 0;
    for (std::int32_t sum : sums) {
        total += sum;
    }
    for (; dim < dimensions; ++dim) {
        total += a[dim] * b[dim];
    }
    return total;
}

#ifdef RAGD_INT8_DOT_AVX2
/// 32 bytes per step: maddubs multiplies |a| (as unsigned) by b carrying a's sign, adding pairs
/// into 16 bits (at most 2 * 127 * 127, no saturation since -128 never occurs), then madd widens
/// to 32 bits. Two accumulators hide the add latency.
__attribute__((target("avx2"))) std::int32_t dot_avx2(const std::int8_t* a,
                                                      const std::int8_t* b,
                                                      std::size_t dimensions) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i sum0 = _mm256_setzero_si256();
    __m256i sum1 = _mm256_setzero_si256();
    std::size_t dim = 0;
    for (; dim + 64 <= dimensions; dim += 64) {
        __m256i a0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + dim));
        __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + dim));
        __m256i a1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + dim + 32));
        __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + dim + 32));
        __m256i pairs0 = _mm256_maddubs_epi16(_mm256_sign_epi8(a0, a0), _mm256_sign_epi8(b0, a0));
        __m256i pairs1 = _mm256_maddubs_epi16(_mm256_sign_epi8(a1, a1), _mm256_sign_epi8(b1, a1));
        sum0 = _mm256_add_epi32(sum0, _mm256_madd_epi16(pairs0, ones));
        sum1 = _mm256_add_epi32(sum1, _mm256_madd_epi16(pairs1, ones));
    }
    __m256i sum = _mm256_add_epi32(sum0, sum1);
    __m128i half = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
    half = _mm_add_epi32(half, _mm_shuffle_epi32(half, 0x4e));
    half = _mm_add_epi32(half, _mm_shuffle_epi32(half, 0xb1));
    std::int32_t total = _mm_cvtsi128_si32(half);
    for (; dim < dimensions; ++dim) {
        total += a[dim] * b[dim];
    }
    return total;
}

float distance_avx2(const void* a, const void* b, const void* dimensions) {
    std::int32_t dot =
        dot_avx2(bytes_of(a), bytes_of(b), *static_cast<const std::size_t*>(dimensions));
    return 1.0f - scale_of(a) * scale_of(b) * static_cast<float>(dot);
}

bool cpu_has_avx2() {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
}
#endif

float distance_portable(const void* a, const void* b, const void* dimensions) {
    std::int32_t dot =
        dot_portable(bytes_of(a), bytes_of(b), *static_cast<const std::size_t*>(dimensions));
    return 1.0f - scale_of(a) * scale_of(b) * static_cast<float>(dot);
}

}  // namespace

std::int32_t int8_dot_product(const std::int8_t* a, const std::int8_t* b, std::size_t dimensions) {
#ifdef RAGD_INT8_DOT_AVX2
    static const bool kAvx2 = cpu_has_avx2();
    if (kAvx2) {
        return dot_avx2(a, b, dimensions);
    }
#endif
    return dot_portable(a, b, dimensions);
}

std::vector<Int8DotKernel> int8_dot_kernels_for_this_cpu() {
    std::vector<Int8DotKernel> kernels{{"portable", &dot_portable}};
#ifdef RAGD_INT8_DOT_AVX2
    if (cpu_has_avx2()) {
        kernels.push_back({"avx2", &dot_avx2});
    }
#endif
    return kernels;
}

void Int8DotSpace::encode(std::span<const float> vector, std::span<std::byte> out) const {
    auto* bytes = reinterpret_cast<std::int8_t*>(out.data() + sizeof(float));
    const float scale = core::quantize_int8(vector.first(dimensions_), {bytes, dimensions_});
    std::memcpy(out.data(), &scale, sizeof scale);
}

float Int8DotSpace::dot(const void* a, const void* b, std::size_t dimensions) {
    return scale_of(a) * scale_of(b) *
           static_cast<float>(int8_dot_product(bytes_of(a), bytes_of(b), dimensions));
}

hnswlib::DISTFUNC<float> Int8DotSpace::get_dist_func() {
#ifdef RAGD_INT8_DOT_AVX2
    static const bool kAvx2 = cpu_has_avx2();
    if (kAvx2) {
        return &distance_avx2;
    }
#endif
    return &distance_portable;
}

}  // namespace ragd::retrieval
