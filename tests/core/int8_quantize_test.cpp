// The one int8 quantization shared by the vector index and stored embeddings.
#include "core/int8_quantize.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace ragd::core {
namespace {

TEST(Int8Quantize, WithinHalfAStepAndNeverMinus128) {
    std::mt19937 rng(17);
    std::normal_distribution<float> normal(0.0F, 1.0F);
    std::vector<float> values(512);
    for (float& value : values) {
        value = normal(rng);
    }
    values[7] = -100.0F;  // the largest magnitude is negative: it must map to -127, not -128
    std::vector<std::int8_t> out(values.size());
    const float scale = quantize_int8(values, out);
    float max_abs = 0;
    for (float value : values) {
        max_abs = std::max(max_abs, std::fabs(value));
    }
    EXPECT_FLOAT_EQ(scale, max_abs / 127.0F);
    for (std::size_t dim = 0; dim < values.size(); ++dim) {
        EXPECT_GE(out[dim], -127) << dim;
        EXPECT_LE(std::fabs(scale * out[dim] - values[dim]), max_abs / 254.0F * 1.001F) << dim;
    }
}

// The rounding is nearbyint's (to nearest, ties to even) to the bit, ties included: stored
// embeddings written before the vectorized rounding must quantize to the same index bytes.
TEST(Int8Quantize, RoundsExactlyLikeNearbyint) {
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> uniform(-1.0F, 1.0F);
    for (int round = 0; round < 200; ++round) {
        std::vector<float> values(512);
        for (float& value : values) {
            value = uniform(rng);
        }
        // Exact ties once scaled: k + 0.5 steps of max|v| / 127, and both signs of zero.
        values[0] = 1.0F;
        values[1] = 0.5F / 127.0F;
        values[2] = -2.5F / 127.0F;
        values[3] = 126.5F / 127.0F;
        values[4] = -0.0F;
        std::vector<std::int8_t> out(values.size());
        const float scale = quantize_int8(values, out);
        const float inverse = 127.0F / (scale * 127.0F);
        for (std::size_t dim = 0; dim < values.size(); ++dim) {
            const float expected =
                std::clamp(std::nearbyint(values[dim] * inverse), -127.0F, 127.0F);
            ASSERT_EQ(out[dim], static_cast<std::int8_t>(expected)) << round << " " << dim;
        }
    }
}

TEST(Int8Quantize, ZeroVectorHasScaleZero) {
    const std::vector<float> zeros(8, 0.0F);
    std::vector<std::int8_t> out(8, 5);
    EXPECT_EQ(quantize_int8(zeros, out), 0.0F);
    EXPECT_EQ(out, std::vector<std::int8_t>(8, 0));
}

}  // namespace
}  // namespace ragd::core
