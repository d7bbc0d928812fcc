// The rerank wire formats: request bodies for both dialects, and responses parsed strictly
// (their indexes pick the passages an answer is built from).
#include "llm/rerank_protocol.hpp"

#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace ragd::llm {
namespace {

namespace json = boost::json;

const std::vector<std::string> kDocuments = {
    "Lamps glow.", "Fresnel lenses \"focus\" light.", "Orchids like bark."};

TEST(RerankRequest, CohereShape) {
    const RerankWireRequest request =
        build_rerank_request("cohere", "rerank-v3.5", "how do lenses focus?", kDocuments);
    EXPECT_EQ(request.target, "/v1/rerank");
    const json::value body = json::parse(request.body);
    EXPECT_EQ(body.at("model"), "rerank-v3.5");
    EXPECT_EQ(body.at("query"), "how do lenses focus?");
    ASSERT_EQ(body.at("documents").as_array().size(), 3U);
    EXPECT_EQ(body.at("documents").at(1), "Fresnel lenses \"focus\" light.");
    EXPECT_EQ(body.at("top_n").to_number<int>(), 3);
}

TEST(RerankRequest, CohereWithoutModelSendsNone) {
    const RerankWireRequest request = build_rerank_request("cohere", "", "q", kDocuments);
    EXPECT_FALSE(json::parse(request.body).as_object().contains("model"));
}

TEST(RerankRequest, TeiShape) {
    const RerankWireRequest request = build_rerank_request("tei", "ignored", "q", kDocuments);
    EXPECT_EQ(request.target, "/rerank");
    const json::value body = json::parse(request.body);
    EXPECT_EQ(body.at("query"), "q");
    EXPECT_EQ(body.at("texts").at(2), "Orchids like bark.");
    EXPECT_FALSE(body.as_object().contains("model"));
}

TEST(RerankResponse, CohereSortedBestFirst) {
    const auto scores =
        parse_rerank_response("cohere",
                              R"({"id":"x","results":[{"index":2,"relevance_score":0.1},
                                 {"index":0,"relevance_score":0.9},
                                 {"index":1,"relevance_score":0.5}],"meta":{}})",
                              3);
    ASSERT_TRUE(scores) << scores.error().detail;
    ASSERT_EQ(scores->size(), 3U);
    EXPECT_EQ((*scores)[0].index, 0U);
    EXPECT_DOUBLE_EQ((*scores)[0].score, 0.9);
    EXPECT_EQ((*scores)[1].index, 1U);
    EXPECT_EQ((*scores)[2].index, 2U);
}

TEST(RerankResponse, TeiArrayWithIntegerScoresAndTiesInOrder) {
    const auto scores = parse_rerank_response(
        "tei", R"([{"index":1,"score":1},{"index":0,"score":1},{"index":2,"score":-3.5}])", 3);
    ASSERT_TRUE(scores) << scores.error().detail;
    ASSERT_EQ(scores->size(), 3U);
    EXPECT_EQ((*scores)[0].index, 1U);  // a tie keeps the response's order
    EXPECT_EQ((*scores)[1].index, 0U);
    EXPECT_DOUBLE_EQ((*scores)[2].score, -3.5);
}

TEST(RerankResponse, FewerResultsThanDocumentsAreFine) {
    const auto scores =
        parse_rerank_response("cohere", R"({"results":[{"index":1,"relevance_score":0.3}]})", 3);
    ASSERT_TRUE(scores);
    EXPECT_EQ(scores->size(), 1U);
}

TEST(RerankResponse, MalformedBodiesAreCorrupt) {
    const char* const cohere_bodies[] = {
        "",
        "not json",
        "[]",
        R"({"results":{}})",
        R"({"results":[{"index":0}]})",
        R"({"results":[{"relevance_score":0.5}]})",
        R"({"results":[{"index":-1,"relevance_score":0.5}]})",
        R"({"results":[{"index":3,"relevance_score":0.5}]})",
        R"({"results":[{"index":0,"relevance_score":0.5},{"index":0,"relevance_score":0.4}]})",
        R"({"results":[{"index":0,"relevance_score":"high"}]})",
        R"({"results":[{"index":0.5,"relevance_score":0.5}]})",
        R"({"results":[7]})",
    };
    for (const char* body : cohere_bodies) {
        const auto scores = parse_rerank_response("cohere", body, 3);
        ASSERT_FALSE(scores) << body;
        EXPECT_EQ(scores.error().code, core::ErrorCode::kCorrupt) << body;
    }
    for (const char* body : {R"({"results":[]})", R"([{"index":0,"relevance_score":1}])"}) {
        const auto scores = parse_rerank_response("tei", body, 3);
        ASSERT_FALSE(scores) << body;
        EXPECT_EQ(scores.error().code, core::ErrorCode::kCorrupt) << body;
    }
}

TEST(RerankResponse, InfiniteScoreIsCorrupt) {
    // 1e400 overflows a double: read as infinity or refused by the parser, it is corrupt.
    const auto scores =
        parse_rerank_response("cohere", R"({"results":[{"index":0,"relevance_score":1e400}]})", 1);
    ASSERT_FALSE(scores);
    EXPECT_EQ(scores.error().code, core::ErrorCode::kCorrupt);
}

TEST(RerankDialect, Known) {
    EXPECT_TRUE(known_rerank_dialect("cohere"));
    EXPECT_TRUE(known_rerank_dialect("tei"));
    EXPECT_FALSE(known_rerank_dialect("openai"));
    EXPECT_FALSE(known_rerank_dialect(""));
}

}  // namespace
}  // namespace ragd::llm
