// Decoding of OpenAI and Anthropic request bodies.
#include "mock/chat_request.hpp"

#include <gtest/gtest.h>

namespace ragd::mock {
namespace {

TEST(ParseChatRequest, OpenAiKeepsTheLastUserMessageAndOptions) {
    auto request = parse_chat_request(Api::kOpenAi, R"({
        "model": "gpt-4o-mini", "stream": true, "stream_options": {"include_usage": true},
        "max_completion_tokens": 20,
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "first answer"},
            {"role": "user", "content": [{"type": "text", "text": "second"},
                                         {"type": "image_url", "image_url": {"url": "x"}},
                                         {"type": "text", "text": "question"}]}]})");
    ASSERT_TRUE(request) << request.error().detail;
    EXPECT_EQ(request->model, "gpt-4o-mini");
    EXPECT_TRUE(request->stream);
    EXPECT_TRUE(request->include_usage);
    EXPECT_EQ(request->max_tokens, 20U);
    EXPECT_EQ(request->last_user_message, "second\nquestion");
    EXPECT_EQ(request->prompt_tokens, 3U + 2U + 2U + 2U);
}

TEST(ParseChatRequest, AnthropicCountsTheSystemPromptAndDefaultsTheModel) {
    auto request = parse_chat_request(Api::kAnthropic, R"({
        "max_tokens": 1024, "system": "Be brief please",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hello there"}]}]})");
    ASSERT_TRUE(request) << request.error().detail;
    EXPECT_EQ(request->model, "mock-model");
    EXPECT_FALSE(request->stream);
    EXPECT_FALSE(request->include_usage);
    EXPECT_EQ(request->max_tokens, 1024U);
    EXPECT_EQ(request->last_user_message, "hello there");
    EXPECT_EQ(request->prompt_tokens, 5U);
}

TEST(ParseChatRequest, RejectsBadBodiesNamingTheField) {
    const auto detail = [](std::string_view body) {
        auto request = parse_chat_request(Api::kOpenAi, body);
        return request ? std::string("<accepted>") : request.error().detail;
    };
    EXPECT_NE(detail("{not json").find("not valid JSON"), std::string::npos);
    EXPECT_NE(detail("[1]").find("JSON object"), std::string::npos);
    EXPECT_NE(detail(R"({"model":"m"})").find("messages"), std::string::npos);
    EXPECT_NE(detail(R"({"messages":[]})").find("messages"), std::string::npos);
    EXPECT_NE(detail(R"({"messages":[{"content":"x"}]})").find("messages[0].role"),
              std::string::npos);
    EXPECT_NE(
        detail(R"({"stream":"yes","messages":[{"role":"user","content":"x"}]})").find("stream"),
        std::string::npos);
    EXPECT_NE(
        detail(R"({"max_tokens":0,"messages":[{"role":"user","content":"x"}]})").find("max_tokens"),
        std::string::npos);
    EXPECT_NE(detail(R"({"model":5,"messages":[{"role":"user","content":"x"}]})").find("model"),
              std::string::npos);
}

}  // namespace
}  // namespace ragd::mock
