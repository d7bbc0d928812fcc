// The mock's POST /v1/embeddings: OpenAI's response shape, deterministic unit vectors, and the
// request checks a client bug would trip.
#include "mock/embeddings.hpp"

#include <cmath>

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace ragd::mock {
namespace {

namespace json = boost::json;

double norm(const std::vector<float>& v) {
    double sum = 0;
    for (float x : v) {
        sum += static_cast<double>(x) * x;
    }
    return std::sqrt(sum);
}

double dot(const std::vector<float>& a, const std::vector<float>& b) {
    double sum = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        sum += static_cast<double>(a[i]) * b[i];
    }
    return sum;
}

TEST(MockEmbeddings, VectorsAreUnitLengthDeterministicAndLexical) {
    const auto a = mock_embedding("Checkpoints flush dirty pages", 64);
    EXPECT_NEAR(norm(a), 1.0, 1e-6);
    EXPECT_EQ(a, mock_embedding("checkpoints FLUSH dirty, pages!", 64));
    const auto near = mock_embedding("dirty pages are flushed by checkpoints", 64);
    const auto far = mock_embedding("orchids like bark and humidity", 64);
    EXPECT_GT(dot(a, near), dot(a, far));
    EXPECT_EQ(mock_embedding("", 8), std::vector<float>(8, 0.0f));
}

TEST(MockEmbeddings, ResponseHasOneVectorPerInputInOrder) {
    auto body =
        embeddings_response(R"({"model":"m","input":["alpha beta","gamma"],"dimensions":16})");
    ASSERT_TRUE(body) << body.error().detail;
    const json::value parsed = json::parse(*body);
    const json::array& data = parsed.at("data").as_array();
    ASSERT_EQ(data.size(), 2U);
    EXPECT_EQ(data[1].at("index").to_number<int>(), 1);
    const json::array& second = data[1].at("embedding").as_array();
    ASSERT_EQ(second.size(), 16U);
    const auto expected = mock_embedding("gamma", 16);
    for (std::size_t i = 0; i < 16; ++i) {
        EXPECT_FLOAT_EQ(static_cast<float>(second[i].to_number<double>()), expected[i]);
    }
    EXPECT_EQ(parsed.at("model"), "m");
}

TEST(MockEmbeddings, SingleStringInputAndDefaultDimensions) {
    auto body = embeddings_response(R"({"model":"m","input":"one"})");
    ASSERT_TRUE(body);
    EXPECT_EQ(json::parse(*body).at("data").at(0).at("embedding").as_array().size(),
              kDefaultEmbeddingDimensions);
}

TEST(MockEmbeddings, MalformedRequestsNameTheField) {
    for (const auto& [request, field] : std::vector<std::pair<std::string, std::string>>{
             {"[]", "JSON object"},
             {R"({"input":["x"]})", "model"},
             {R"({"model":"m"})", "input"},
             {R"({"model":"m","input":[]})", "input"},
             {R"({"model":"m","input":[1]})", "input"},
             {R"({"model":"m","input":"x","dimensions":0})", "dimensions"},
             {R"({"model":"m","input":"x","encoding_format":"base64"})", "encoding_format"}}) {
        auto body = embeddings_response(request);
        ASSERT_FALSE(body) << request;
        EXPECT_NE(body.error().detail.find(field), std::string::npos) << body.error().detail;
    }
}

}  // namespace
}  // namespace ragd::mock
