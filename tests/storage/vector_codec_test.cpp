// The embeddings blob: int8 (marker, scale, bytes) and float32, told apart by the marker.
#include "storage/vector_codec.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace ragd::storage {
namespace {

TEST(VectorCodec, Int8IsAQuarterOfTheBytesAndWithinHalfAStep) {
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0F, 0.05F);
    std::vector<float> vector(512);
    for (float& value : vector) {
        value = normal(rng);
    }
    const std::string blob = encode_embedding(vector, EmbeddingEncoding::kInt8);
    EXPECT_EQ(blob.size(), 8U + 512U);
    const std::vector<float> back = decode_embedding(blob);
    ASSERT_EQ(back.size(), vector.size());
    float max_abs = 0;
    for (float value : vector) {
        max_abs = std::max(max_abs, std::fabs(value));
    }
    for (std::size_t d = 0; d < vector.size(); ++d) {
        EXPECT_LE(std::fabs(back[d] - vector[d]), max_abs / 254.0F * 1.001F) << d;
    }
}

TEST(VectorCodec, Float32IsExactAndHasNoMarker) {
    const std::vector<float> vector = {
        0.1F, -0.0F, 1e-38F, 3.4028235e38F, -7.25F, std::numeric_limits<float>::denorm_min()};
    const std::string blob = encode_embedding(vector, EmbeddingEncoding::kFloat32);
    ASSERT_EQ(blob.size(), vector.size() * 4);
    const std::vector<float> back = decode_embedding(blob);
    ASSERT_EQ(back.size(), vector.size());
    EXPECT_EQ(std::memcmp(back.data(), vector.data(), blob.size()), 0);
}

// An int8 blob whose length is a multiple of four must not be read as floats, and a float32
// blob whose first float is finite (always: upsert rejects the rest) never as int8.
TEST(VectorCodec, TheMarkerDecidesNotTheLength) {
    const std::vector<float> four = {1.0F, -1.0F, 0.5F, 0.0F};
    const std::string int8 = encode_embedding(four, EmbeddingEncoding::kInt8);
    EXPECT_EQ(int8.size(), 12U);  // 3 floats' worth of bytes
    const std::vector<float> back = decode_embedding(int8);
    ASSERT_EQ(back.size(), 4U);
    EXPECT_FLOAT_EQ(back[0], 1.0F);
    EXPECT_FLOAT_EQ(back[1], -1.0F);
    EXPECT_NEAR(back[2], 0.5F, 1.0 / 254);
    EXPECT_EQ(back[3], 0.0F);

    for (float first : {0.0F, -1.0F, std::numeric_limits<float>::max(), 1e-30F}) {
        const std::vector<float> legacy = {first, 2.0F};
        EXPECT_EQ(decode_embedding(encode_embedding(legacy, EmbeddingEncoding::kFloat32)), legacy);
    }
}

TEST(VectorCodec, EmptyAndZeroVectors) {
    EXPECT_TRUE(decode_embedding(encode_embedding({}, EmbeddingEncoding::kFloat32)).empty());
    EXPECT_TRUE(decode_embedding(encode_embedding({}, EmbeddingEncoding::kInt8)).empty());
    const std::vector<float> zeros(16, 0.0F);
    EXPECT_EQ(decode_embedding(encode_embedding(zeros, EmbeddingEncoding::kInt8)), zeros);
}

}  // namespace
}  // namespace ragd::storage
