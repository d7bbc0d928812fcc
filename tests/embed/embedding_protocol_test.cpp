// The OpenAI embeddings wire format: request bodies, and responses parsed strictly (every vector
// lands in the index, so a wrong length, order or value must be an error, not a bad search).
#include "embed/embedding_protocol.hpp"

#include <cmath>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace ragd::embed {
namespace {

namespace json = boost::json;

const std::vector<std::string> kInputs = {"Lamps glow.", "Fresnel lenses \"focus\" light."};

TEST(EmbeddingsRequest, ShapeWithoutDimensions) {
    const json::value body =
        json::parse(build_embeddings_request("m-small", kInputs, std::nullopt));
    EXPECT_EQ(body.at("model"), "m-small");
    ASSERT_EQ(body.at("input").as_array().size(), 2U);
    EXPECT_EQ(body.at("input").at(1), "Fresnel lenses \"focus\" light.");
    EXPECT_EQ(body.at("encoding_format"), "float");
    EXPECT_FALSE(body.as_object().contains("dimensions"));
}

TEST(EmbeddingsRequest, SendsDimensionsWhenAsked) {
    const json::value body = json::parse(build_embeddings_request("m", kInputs, 256));
    EXPECT_EQ(body.at("dimensions").to_number<int>(), 256);
}

TEST(EmbeddingsResponse, PlacesVectorsByIndexAndNormalizes) {
    const std::string body = R"({"object":"list","data":[
        {"object":"embedding","index":1,"embedding":[0,3,4]},
        {"object":"embedding","index":0,"embedding":[2,0,0]}],"model":"m"})";
    auto vectors = parse_embeddings_response(body, 2, 3);
    ASSERT_TRUE(vectors) << vectors.error().detail;
    ASSERT_EQ(vectors->size(), 2U);
    EXPECT_FLOAT_EQ((*vectors)[0][0], 1.0f);
    EXPECT_FLOAT_EQ((*vectors)[1][1], 0.6f);
    EXPECT_FLOAT_EQ((*vectors)[1][2], 0.8f);
}

TEST(EmbeddingsResponse, WithoutIndexKeepsTheOrderGiven) {
    auto vectors =
        parse_embeddings_response(R"({"data":[{"embedding":[1,0]},{"embedding":[0,-1]}]})", 2, 2);
    ASSERT_TRUE(vectors) << vectors.error().detail;
    EXPECT_FLOAT_EQ((*vectors)[1][1], -1.0f);
}

TEST(EmbeddingsResponse, AllZeroVectorStaysZero) {
    auto vectors = parse_embeddings_response(R"({"data":[{"index":0,"embedding":[0,0]}]})", 1, 2);
    ASSERT_TRUE(vectors);
    EXPECT_EQ((*vectors)[0], (Vector{0.0f, 0.0f}));
}

void expect_corrupt(const std::string& body,
                    std::size_t inputs,
                    std::size_t dimensions,
                    const std::string& mention) {
    auto vectors = parse_embeddings_response(body, inputs, dimensions);
    ASSERT_FALSE(vectors) << body;
    EXPECT_EQ(vectors.error().code, core::ErrorCode::kCorrupt);
    EXPECT_NE(vectors.error().detail.find(mention), std::string::npos) << vectors.error().detail;
}

TEST(EmbeddingsResponse, RefusesWhatWouldCorruptTheIndex) {
    expect_corrupt("not json", 1, 2, "not JSON");
    expect_corrupt(R"({"error":{"message":"x"}})", 1, 2, "no \"data\"");
    expect_corrupt(R"({"data":[{"index":0,"embedding":[1,0]}]})", 2, 2, "1 embeddings for 2");
    expect_corrupt(R"({"data":[{"index":0,"embedding":[1,0,0]}]})",
                   1,
                   2,
                   "returned 3 dimensions, embed.dimensions is 2");
    expect_corrupt(R"({"data":[{"index":0,"embedding":[1,0]},{"index":0,"embedding":[1,0]}]})",
                   2,
                   2,
                   "repeated");
    expect_corrupt(R"({"data":[{"index":5,"embedding":[1,0]}]})", 1, 2, "out of range");
    expect_corrupt(R"({"data":[{"index":-1,"embedding":[1,0]}]})", 1, 2, "not an index");
    expect_corrupt(R"({"data":[{"index":0,"embedding":[1,"x"]}]})", 1, 2, "finite number");
    expect_corrupt(R"({"data":[{"index":0,"embedding":[1,1e999]}]})", 1, 2, "finite number");
    expect_corrupt(R"({"data":[{"index":0,"embedding":[1,1e300]}]})", 1, 2, "finite number");
    expect_corrupt(R"({"data":[{"index":0,"embedding":"AAAA"}]})", 1, 2, "encoding_format");
    expect_corrupt(R"({"data":[7]})", 1, 2, "not an object");
}

}  // namespace
}  // namespace ragd::embed
