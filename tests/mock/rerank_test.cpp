// The mock's rerank endpoints: the overlap score, both dialects' shapes, top_n and bad requests.
#include "mock/rerank.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace ragd::mock {
namespace {

namespace json = boost::json;

TEST(MockRerank, OverlapScoreIsTheShareOfQueryWordsFound) {
    EXPECT_DOUBLE_EQ(overlap_score("Fresnel lens focus", "The lens of a FRESNEL light."),
                     2.0 / 3.0);
    EXPECT_DOUBLE_EQ(overlap_score("lens lens", "lens"), 1.0);  // distinct words
    EXPECT_DOUBLE_EQ(overlap_score("", "anything"), 0.0);
    EXPECT_DOUBLE_EQ(overlap_score("x-ray 42", "X ray and 42"), 1.0);
}

TEST(MockRerank, CohereBestFirstWithTopN) {
    const auto body = rerank_response(
        false,
        R"({"model":"m","query":"lens focus","documents":["orchids","lens","lens focus"],"top_n":2})");
    ASSERT_TRUE(body) << body.error().detail;
    const json::value answer = json::parse(*body);
    const json::array& results = answer.at("results").as_array();
    ASSERT_EQ(results.size(), 2U);
    EXPECT_EQ(results[0].at("index").to_number<int>(), 2);
    EXPECT_DOUBLE_EQ(results[0].at("relevance_score").to_number<double>(), 1.0);
    EXPECT_EQ(results[1].at("index").to_number<int>(), 1);
}

// Found by fuzz_mock_request: a top_n above INT64_MAX made the decoder throw.
TEST(MockRerank, TopNBeyondInt64IsAValidLimit) {
    const auto body = rerank_response(
        false, R"({"query":"a","documents":["a","b"],"top_n":15555555555555555552})");
    ASSERT_TRUE(body) << body.error().detail;
    EXPECT_EQ(json::parse(*body).at("results").as_array().size(), 2U);
}

TEST(MockRerank, TeiArrayAndCohereObjectDocuments) {
    const auto tei = rerank_response(true, R"({"query":"a b","texts":["b","a b"]})");
    ASSERT_TRUE(tei) << tei.error().detail;
    const json::value scores = json::parse(*tei);
    ASSERT_EQ(scores.as_array().size(), 2U);
    EXPECT_EQ(scores.at(0).at("index").to_number<int>(), 1);
    EXPECT_TRUE(scores.at(0).as_object().contains("score"));

    const auto cohere = rerank_response(false, R"({"query":"a","documents":[{"text":"a"},"b"]})");
    ASSERT_TRUE(cohere) << cohere.error().detail;
}

TEST(MockRerank, BadRequestsNameTheField) {
    const std::pair<bool, const char*> cases[] = {
        {false, "nope"},
        {false, R"({"documents":["a"]})"},
        {false, R"({"query":"a"})"},
        {false, R"({"query":"a","documents":[1]})"},
        {false, R"({"query":"a","documents":["a"],"top_n":"2"})"},
        {false, R"({"query":"a","documents":["a"],"top_n":-1})"},
        {true, R"({"query":"a","documents":["a"]})"},
        {true, R"({"query":"a","texts":[{"text":"a"}]})"},
    };
    for (const auto& [tei, body] : cases) {
        const auto answer = rerank_response(tei, body);
        ASSERT_FALSE(answer) << body;
        EXPECT_EQ(answer.error().code, core::ErrorCode::kInvalidArgument);
        EXPECT_FALSE(answer.error().detail.empty());
    }
}

}  // namespace
}  // namespace ragd::mock
