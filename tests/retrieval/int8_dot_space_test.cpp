// The int8 space behind the vector index: the kernel picked for this CPU matches a plain loop
// exactly, encoding error stays within its bound, and dot products of encoded unit vectors are
// close enough to the float ones that rankings survive.
#include "retrieval/int8_dot_space.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "storage/vector_codec.hpp"

namespace ragd::retrieval {
namespace {

std::vector<float> random_unit(std::mt19937& rng, std::size_t dims) {
    std::normal_distribution<float> normal;
    std::vector<float> vector(dims);
    double norm = 0;
    for (float& value : vector) {
        value = normal(rng);
        norm += static_cast<double>(value) * value;
    }
    for (float& value : vector) {
        value = static_cast<float>(value / std::sqrt(norm));
    }
    return vector;
}

float float_dot(const std::vector<float>& a, const std::vector<float>& b) {
    double sum = 0;
    for (std::size_t dim = 0; dim < a.size(); ++dim) {
        sum += static_cast<double>(a[dim]) * b[dim];
    }
    return static_cast<float>(sum);
}

std::vector<std::byte> encode(const Int8DotSpace& space, const std::vector<float>& vector) {
    std::vector<std::byte> out(space.encoded_bytes());
    space.encode(vector, out);
    return out;
}

TEST(Int8DotSpace, EveryKernelMatchesPlainLoopForEveryLengthAndExtremes) {
    const std::vector<Int8DotKernel> kernels = int8_dot_kernels_for_this_cpu();
    ASSERT_FALSE(kernels.empty());
    EXPECT_STREQ(kernels.front().name, "portable");
    std::mt19937 rng(3);
    std::uniform_int_distribution<int> level(-127, 127);
    // Lengths around the 64- and 128-byte steps of the SIMD kernels and their tails.
    for (std::size_t dims :
         {1u, 31u, 63u, 64u, 65u, 127u, 128u, 129u, 191u, 200u, 256u, 511u, 512u, 4096u}) {
        // One spare byte each side, so a kernel that reads past `dims` sees a value that would
        // change the sum (and ASan sees the over-read).
        std::vector<std::int8_t> a_storage(dims + 2, 99);
        std::vector<std::int8_t> b_storage(dims + 2, 99);
        std::int8_t* a = a_storage.data() + 1;
        std::int8_t* b = b_storage.data() + 1;
        for (std::size_t dim = 0; dim < dims; ++dim) {
            a[dim] = static_cast<std::int8_t>(level(rng));
            b[dim] = static_cast<std::int8_t>(level(rng));
        }
        std::int32_t expected = 0;
        for (std::size_t dim = 0; dim < dims; ++dim) {
            expected += a[dim] * b[dim];
        }
        EXPECT_EQ(int8_dot_product(a, b, dims), expected) << dims;

        // All ±127: the largest pair sums the AVX2 kernel's 16-bit step must hold without
        // saturating.
        std::vector<std::int8_t> high(dims, 127);
        std::vector<std::int8_t> low(dims, -127);
        auto all = static_cast<std::int32_t>(127 * 127 * dims);
        for (const Int8DotKernel& kernel : kernels) {
            EXPECT_EQ(kernel.dot(a, b, dims), expected) << kernel.name << " " << dims;
            EXPECT_EQ(kernel.dot(high.data(), high.data(), dims), all) << kernel.name << dims;
            EXPECT_EQ(kernel.dot(low.data(), low.data(), dims), all) << kernel.name << dims;
            EXPECT_EQ(kernel.dot(high.data(), low.data(), dims), -all) << kernel.name << dims;
            EXPECT_EQ(kernel.dot(low.data(), high.data(), dims), -all) << kernel.name << dims;
        }
    }
}

TEST(Int8DotSpace, EncodingErrorIsWithinHalfAStep) {
    std::mt19937 rng(5);
    const std::size_t dims = 512;
    Int8DotSpace space(dims);
    ASSERT_EQ(space.encoded_bytes(), sizeof(float) + dims);
    auto vector = random_unit(rng, dims);
    auto encoded = encode(space, vector);
    float scale = 0;
    std::memcpy(&scale, encoded.data(), sizeof scale);
    float max_abs = 0;
    for (float value : vector) {
        max_abs = std::max(max_abs, std::fabs(value));
    }
    EXPECT_FLOAT_EQ(scale, max_abs / 127.0f);
    const auto* levels = reinterpret_cast<const std::int8_t*>(encoded.data() + sizeof scale);
    for (std::size_t dim = 0; dim < dims; ++dim) {
        EXPECT_GE(levels[dim], -127);
        EXPECT_NEAR(levels[dim] * scale, vector[dim], scale / 2 + 1e-7f) << dim;
    }
}

TEST(Int8DotSpace, DotProductsStayCloseAndDistanceIsOneMinusDot) {
    std::mt19937 rng(11);
    const std::size_t dims = 512;
    Int8DotSpace space(dims);
    auto distance = space.get_dist_func();
    double worst = 0;
    for (int pair_idx = 0; pair_idx < 200; ++pair_idx) {
        auto a = random_unit(rng, dims);
        auto b = random_unit(rng, dims);
        // Mix in some of a, so that similarities span the range rankings care about.
        for (std::size_t dim = 0; dim < dims; ++dim) {
            b[dim] = 0.5f * b[dim] + 0.5f * a[dim] * static_cast<float>(pair_idx % 3);
        }
        float norm = std::sqrt(float_dot(b, b));
        for (float& value : b) {
            value /= norm;
        }
        auto encoded_a = encode(space, a);
        auto encoded_b = encode(space, b);
        float approx = Int8DotSpace::dot(encoded_a.data(), encoded_b.data(), dims);
        worst = std::max(worst, std::fabs(static_cast<double>(approx) - float_dot(a, b)));
        EXPECT_FLOAT_EQ(distance(encoded_a.data(), encoded_b.data(), space.get_dist_func_param()),
                        1.0f - approx);
    }
    EXPECT_LT(worst, 5e-3);
    // A vector with itself: exact up to rounding of its own levels.
    auto a = random_unit(rng, dims);
    auto encoded = encode(space, a);
    EXPECT_NEAR(Int8DotSpace::dot(encoded.data(), encoded.data(), dims), 1.0f, 5e-3);
}

TEST(Int8DotSpace, ZeroVectorEncodesToZeroSimilarity) {
    Int8DotSpace space(64);
    std::vector<float> zero(64, 0.0f);
    std::mt19937 rng(1);
    auto other = random_unit(rng, 64);
    auto encoded_zero = encode(space, zero);
    auto encoded_other = encode(space, other);
    EXPECT_EQ(Int8DotSpace::dot(encoded_zero.data(), encoded_other.data(), 64), 0.0f);
}

// Storage keeps embeddings in int8 by default (storage/vector_codec.hpp). A vector read back
// from storage must quantize to the very bytes the original did, so an index rebuilt from
// storage is the index built at ingest.
TEST(Int8DotSpace, StoredInt8VectorsEncodeToTheSameIndexBytes) {
    std::mt19937 rng(13);
    std::normal_distribution<float> normal(0.0F, 1.0F);
    const std::size_t dims = 512;
    Int8DotSpace space(dims);
    for (int round = 0; round < 200; ++round) {
        std::vector<float> vector(dims);
        for (float& value : vector) {
            value = normal(rng);
        }
        const std::vector<float> stored = storage::decode_embedding(
            storage::encode_embedding(vector, storage::EmbeddingEncoding::kInt8));
        ASSERT_EQ(encode(space, stored), encode(space, vector)) << round;
    }
}

}  // namespace
}  // namespace ragd::retrieval
