#include "api/response_encoding.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace ragd::api {
namespace {

namespace json = boost::json;

pipeline::SourceHit make_hit(std::size_t number,
                             std::uint32_t vector_rank,
                             std::uint32_t bm25_rank) {
    pipeline::SourceHit hit;
    hit.number = number;
    hit.chunk.chunk.id = 4000 + static_cast<std::int64_t>(number);
    hit.chunk.chunk.document_id = "doc-" + std::to_string(number);
    hit.chunk.chunk.text = "Text with \"quotes\", a backslash \\ and a\nnewline. é";
    hit.chunk.chunk.heading_path = {"Guide", "Section \"A\""};
    hit.chunk.source = "docs/guide.md";
    hit.chunk.title = "Guide";
    hit.chunk.metadata = {{"lang", "en"}, {"team", "core"}};
    hit.score = 0.0259067357512953;
    hit.vector_rank = vector_rank;
    hit.bm25_rank = bm25_rank;
    return hit;
}

void expect_keys_in_order(const json::object& object, const std::vector<std::string>& keys) {
    ASSERT_EQ(object.size(), keys.size());
    std::size_t index = 0;
    for (const auto& member : object) {
        EXPECT_EQ(std::string(member.key()), keys[index++]);
    }
}

void expect_source(const json::value& value, const pipeline::SourceHit& hit) {
    const json::object& source = value.as_object();
    expect_keys_in_order(source,
                         {"n",
                          "chunk_id",
                          "document_id",
                          "source",
                          "title",
                          "heading_path",
                          "text",
                          "score",
                          "ranks",
                          "metadata"});
    EXPECT_EQ(source.at("n").to_number<std::size_t>(), hit.number);
    EXPECT_EQ(source.at("chunk_id").to_number<std::int64_t>(), hit.chunk.chunk.id);
    EXPECT_EQ(source.at("document_id").as_string(), hit.chunk.chunk.document_id);
    EXPECT_EQ(source.at("text").as_string(), hit.chunk.chunk.text);
    EXPECT_EQ(source.at("heading_path"), json::parse(R"(["Guide","Section \"A\""])"));
    EXPECT_NEAR(source.at("score").to_number<double>(), hit.score, 1e-15);
    const json::object& ranks = source.at("ranks").as_object();
    if (hit.vector_rank == 0) {
        EXPECT_TRUE(ranks.at("vector").is_null());
    } else {
        EXPECT_EQ(ranks.at("vector").to_number<std::uint32_t>(), hit.vector_rank);
    }
    if (hit.bm25_rank == 0) {
        EXPECT_TRUE(ranks.at("bm25").is_null());
    } else {
        EXPECT_EQ(ranks.at("bm25").to_number<std::uint32_t>(), hit.bm25_rank);
    }
    EXPECT_EQ(source.at("metadata"), json::parse(R"({"lang":"en","team":"core"})"));
}

TEST(ResponseEncoding, SearchBodyHoldsEverySourceFieldAndTheTimings) {
    pipeline::SearchOutcome outcome;
    outcome.hits = {make_hit(1, 3, 0), make_hit(2, 0, 7)};
    outcome.timings.embed = 0.12345;
    outcome.timings.total = 2.0;
    const json::value body = json::parse(search_json(outcome));
    const json::array& results = body.at("results").as_array();
    ASSERT_EQ(results.size(), 2U);
    expect_source(results[0], outcome.hits[0]);
    expect_source(results[1], outcome.hits[1]);
    const json::object& timings = body.at("timings_ms").as_object();
    EXPECT_DOUBLE_EQ(timings.at("embed").to_number<double>(), 0.123);  // to the microsecond
    EXPECT_DOUBLE_EQ(timings.at("total").to_number<double>(), 2.0);
    EXPECT_FALSE(timings.contains("llm_first_token"));
}

TEST(ResponseEncoding, AnswerBodyHasTheLlmAnswerFieldsInOrderAndEndsUncached) {
    pipeline::AnswerOutcome outcome;
    outcome.generation.text = "Use CONCURRENTLY [1].";
    outcome.generation.generator = "extractive";
    outcome.generation.cited = {1};
    outcome.sources = {make_hit(1, 1, 1)};
    const std::string text = answer_json(outcome);
    // A cache hit is marked by rewriting this tail (api/query_route.cpp, mark_cached).
    EXPECT_TRUE(text.ends_with("\"cached\":false}")) << text;
    const json::object body = json::parse(text).as_object();
    expect_keys_in_order(body,
                         {"answer",
                          "generator",
                          "model",
                          "cited",
                          "usage",
                          "upstream_attempts",
                          "fallbacks",
                          "sources",
                          "timings_ms",
                          "cached"});
    EXPECT_EQ(body.at("answer").as_string(), "Use CONCURRENTLY [1].");
    EXPECT_TRUE(body.at("model").is_null());
    EXPECT_EQ(body.at("cited"), json::parse("[1]"));
    EXPECT_TRUE(body.at("usage").is_null());
    EXPECT_EQ(body.at("fallbacks"), json::parse("[]"));
    expect_source(body.at("sources").as_array().at(0), outcome.sources[0]);
    EXPECT_EQ(body.at("timings_ms").at("llm_first_token").to_number<double>(), 0.0);
}

}  // namespace
}  // namespace ragd::api
