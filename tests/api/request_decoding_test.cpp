#include "api/request_decoding.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ragd::api {
namespace {

std::string decode_error(std::string_view body) {
    auto decoded = decode_query_request(body, Limits{});
    EXPECT_FALSE(decoded.has_value()) << body;
    return decoded ? std::string{} : decoded.error().detail;
}

TEST(DecodeQueryRequest, Defaults) {
    auto decoded = decode_query_request(R"({"query": "what is ragd"})", Limits{});
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(decoded->query, "what is ragd");
    EXPECT_EQ(decoded->options.top_k, 5u);
    EXPECT_EQ(decoded->options.mode, pipeline::RetrievalMode::kHybrid);
    EXPECT_TRUE(decoded->options.filter.empty());
}

TEST(DecodeQueryRequest, AllFields) {
    auto decoded = decode_query_request(
        R"({"query":"q","top_k":7,"mode":"bm25",
            "filter":{"source_prefix":"/docs/","metadata":{"tenant":"acme","lang":"en"}}})",
        Limits{});
    ASSERT_TRUE(decoded.has_value()) << decoded.error().detail;
    EXPECT_EQ(decoded->options.top_k, 7u);
    EXPECT_EQ(decoded->options.mode, pipeline::RetrievalMode::kBm25);
    EXPECT_EQ(decoded->options.filter.source_prefix, "/docs/");
    ASSERT_EQ(decoded->options.filter.metadata.size(), 2u);
    EXPECT_EQ(decoded->options.filter.metadata[0].first, "lang");  // sorted by key
}

TEST(DecodeQueryRequest, ErrorsNameTheField) {
    EXPECT_NE(decode_error("").find("empty"), std::string::npos);
    EXPECT_NE(decode_error("{").find("malformed JSON"), std::string::npos);
    EXPECT_NE(decode_error("[1]").find("JSON object"), std::string::npos);
    EXPECT_NE(decode_error("{}").find("query: is required"), std::string::npos);
    EXPECT_NE(decode_error(R"({"query": "  "})").find("query: must not be empty"),
              std::string::npos);
    EXPECT_NE(decode_error(R"({"query": 3})").find("query: must be a string"), std::string::npos);
    EXPECT_NE(decode_error(R"({"query": "q", "top_k": 0})").find("top_k"), std::string::npos);
    EXPECT_NE(decode_error(R"({"query": "q", "top_k": 101})").find("top_k"), std::string::npos);
    EXPECT_NE(decode_error(R"({"query": "q", "top_k": "5"})").find("top_k: must be an integer"),
              std::string::npos);
    EXPECT_NE(decode_error(R"({"query": "q", "top_k": 1e99})").find("top_k"), std::string::npos);
    EXPECT_NE(decode_error(R"({"query": "q", "mode": "magic"})").find("mode"), std::string::npos);
    EXPECT_NE(decode_error(R"({"query": "q", "filter": []})").find("filter: must be an object"),
              std::string::npos);
    EXPECT_NE(decode_error(R"({"query": "q", "filter": {"tenant": "x"}})").find("filter.tenant"),
              std::string::npos);
    EXPECT_NE(
        decode_error(R"({"query": "q", "filter": {"metadata": {"a": 1}}})").find("filter.metadata.a"),
        std::string::npos);
}

TEST(DecodeQueryRequest, LimitsAreEnforced) {
    Limits limits;
    limits.max_query_bytes = 10;
    limits.max_filter_terms = 1;
    auto long_query = decode_query_request(R"({"query": "01234567890"})", limits);
    ASSERT_FALSE(long_query.has_value());
    EXPECT_NE(long_query.error().detail.find("limit of 10 bytes"), std::string::npos);
    auto many_terms = decode_query_request(
        R"({"query": "q", "filter": {"metadata": {"a": "1", "b": "2"}}})", limits);
    ASSERT_FALSE(many_terms.has_value());
    EXPECT_NE(many_terms.error().detail.find("at most 1"), std::string::npos);
}

TEST(DecodeQueryRequest, DeepNestingIsRefused) {
    std::string body = R"({"query": "q", "x": )" + std::string(5000, '[') +
                       std::string(5000, ']') + "}";
    EXPECT_NE(decode_error(body).find("malformed JSON"), std::string::npos);
}

TEST(DecodeDocumentsRequest, SingleAndBatch) {
    auto single = decode_documents_request(
        R"({"id":"a","title":"T","text":"hello","format":"markdown","metadata":{"k":"v"}})",
        Limits{});
    ASSERT_TRUE(single.has_value()) << single.error().detail;
    ASSERT_EQ(single->size(), 1u);
    EXPECT_EQ((*single)[0].id, "a");
    EXPECT_EQ((*single)[0].format, ingest::DocumentFormat::kMarkdown);
    EXPECT_EQ((*single)[0].metadata.size(), 1u);

    auto batch = decode_documents_request(R"({"documents":[{"text":"a"},{"text":"b"}]})", Limits{});
    ASSERT_TRUE(batch.has_value());
    EXPECT_EQ(batch->size(), 2u);
}

TEST(DecodeDocumentsRequest, ErrorsNameTheField) {
    auto error_of = [](std::string_view body) {
        auto decoded = decode_documents_request(body, Limits{});
        EXPECT_FALSE(decoded.has_value()) << body;
        return decoded ? std::string{} : decoded.error().detail;
    };
    EXPECT_NE(error_of("{}").find("text: is required"), std::string::npos);
    EXPECT_NE(error_of(R"({"text": ""})").find("text: must not be empty"), std::string::npos);
    EXPECT_NE(error_of(R"({"text": "x", "format": "pdf"})").find("format"), std::string::npos);
    EXPECT_NE(error_of(R"({"documents": []})").find("documents: must not be empty"),
              std::string::npos);
    EXPECT_NE(error_of(R"({"documents": {}})").find("documents: must be an array"),
              std::string::npos);
    EXPECT_NE(error_of(R"({"documents": [{"text": "a"}, {"title": "b"}]})")
                  .find("documents[1].text: is required"),
              std::string::npos);
    EXPECT_NE(error_of(R"({"text": "x", "metadata": {"k": 1}})").find("metadata.k"),
              std::string::npos);
}

}  // namespace
}  // namespace ragd::api
