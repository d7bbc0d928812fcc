// Response bodies and SSE events, checked by parsing them back as a client would.
#include "mock/wire_format.hpp"

#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "http/aws_event_stream.hpp"

namespace ragd::mock {
namespace {

namespace json = boost::json;

struct Event {
    std::string name;  ///< "event:" line; empty for OpenAI
    std::string data;
};

/// Splits an SSE stream into events; fails the test on a malformed line.
std::vector<Event> parse_sse(std::string_view stream) {
    std::vector<Event> events;
    Event current;
    std::size_t pos = 0;
    while (pos < stream.size()) {
        const std::size_t end = stream.find('\n', pos);
        EXPECT_NE(end, std::string_view::npos) << "unterminated line at " << pos;
        if (end == std::string_view::npos) {
            break;
        }
        const std::string_view line = stream.substr(pos, end - pos);
        pos = end + 1;
        if (line.empty()) {
            events.push_back(current);
            current = Event{};
        } else if (line.substr(0, 7) == "event: ") {
            current.name = std::string(line.substr(7));
        } else if (line.substr(0, 6) == "data: ") {
            current.data = std::string(line.substr(6));
        } else {
            ADD_FAILURE() << "unexpected SSE line: " << line;
        }
    }
    EXPECT_TRUE(current.name.empty() && current.data.empty()) << "stream ends mid-event";
    return events;
}

void append_tokens(const StreamEncoder& encoder, std::string& out, const Completion& completion) {
    for (std::size_t token_idx = 0; token_idx < completion.token_count(); ++token_idx) {
        encoder.append_token(out, completion.token(token_idx));
    }
}

const ResponseIdentity test_identity{"chatcmpl-mock1", "gpt-\"quoted\"", 1700000000};

TEST(MakeIdentity, IsUniquePerRequestAndShapedPerApi) {
    const auto first = make_identity(Api::kOpenAi, "m", 1, 0, 5);
    const auto second = make_identity(Api::kOpenAi, "m", 1, 1, 5);
    EXPECT_NE(first.id, second.id);
    EXPECT_EQ(first.id.rfind("chatcmpl-", 0), 0U);
    EXPECT_EQ(make_identity(Api::kAnthropic, "m", 1, 0, 5).id.rfind("msg_", 0), 0U);
}

TEST(CompletionBody, OpenAiShape) {
    const auto body = json::parse(
        completion_body(Api::kOpenAi, test_identity, "Hello \"world\".", false, Usage{10, 3}));
    EXPECT_EQ(body.at("object"), "chat.completion");
    EXPECT_EQ(body.at("id"), "chatcmpl-mock1");
    EXPECT_EQ(body.at("model"), "gpt-\"quoted\"");
    EXPECT_EQ(body.at("created"), 1700000000);
    const auto& choice = body.at("choices").at(0);
    EXPECT_EQ(choice.at("index"), 0);
    EXPECT_EQ(choice.at("message").at("role"), "assistant");
    EXPECT_EQ(choice.at("message").at("content"), "Hello \"world\".");
    EXPECT_EQ(choice.at("finish_reason"), "stop");
    EXPECT_EQ(body.at("usage").at("prompt_tokens"), 10);
    EXPECT_EQ(body.at("usage").at("completion_tokens"), 3);
    EXPECT_EQ(body.at("usage").at("total_tokens"), 13);
    const auto truncated =
        json::parse(completion_body(Api::kOpenAi, test_identity, "x", true, Usage{1, 1}));
    EXPECT_EQ(truncated.at("choices").at(0).at("finish_reason"), "length");
}

TEST(CompletionBody, AnthropicShape) {
    const auto body =
        json::parse(completion_body(Api::kAnthropic, test_identity, "Hi.", false, Usage{4, 1}));
    EXPECT_EQ(body.at("type"), "message");
    EXPECT_EQ(body.at("role"), "assistant");
    EXPECT_EQ(body.at("content").at(0).at("type"), "text");
    EXPECT_EQ(body.at("content").at(0).at("text"), "Hi.");
    EXPECT_EQ(body.at("stop_reason"), "end_turn");
    EXPECT_EQ(body.at("usage").at("input_tokens"), 4);
    EXPECT_EQ(body.at("usage").at("output_tokens"), 1);
    const auto truncated =
        json::parse(completion_body(Api::kAnthropic, test_identity, "x", true, Usage{1, 1}));
    EXPECT_EQ(truncated.at("stop_reason"), "max_tokens");
}

TEST(ErrorBody, ProviderShapes) {
    const auto openai = json::parse(error_body(Api::kOpenAi, 429, "slow down"));
    EXPECT_EQ(openai.at("error").at("message"), "slow down");
    EXPECT_EQ(openai.at("error").at("code"), "rate_limit_exceeded");
    EXPECT_TRUE(openai.at("error").as_object().contains("type"));
    const auto openai_400 = json::parse(error_body(Api::kOpenAi, 400, "bad"));
    EXPECT_TRUE(openai_400.at("error").at("code").is_null());
    const auto anthropic = json::parse(error_body(Api::kAnthropic, 401, "no key"));
    EXPECT_EQ(anthropic.at("type"), "error");
    EXPECT_EQ(anthropic.at("error").at("type"), "authentication_error");
    EXPECT_EQ(anthropic.at("error").at("message"), "no key");
    EXPECT_EQ(json::parse(error_body(Api::kAnthropic, 500, "x")).at("error").at("type"),
              "api_error");
}

TEST(StreamEncoder, OpenAiChunksRebuildTheText) {
    const Completion completion = generate_completion("tell me about \"quotes\"\n[1] a", 5, 12);
    const StreamEncoder encoder(Api::kOpenAi, test_identity, Usage{7, 12}, true);
    std::string out;
    encoder.append_start(out);
    append_tokens(encoder, out, completion);
    encoder.append_finish(out, false);
    const auto events = parse_sse(out);
    ASSERT_EQ(events.size(), 1U + 12U + 1U + 1U + 1U);
    std::string text;
    for (std::size_t event_idx = 0; event_idx + 1 < events.size(); ++event_idx) {
        const auto chunk = json::parse(events[event_idx].data);
        EXPECT_EQ(chunk.at("object"), "chat.completion.chunk");
        EXPECT_EQ(chunk.at("id"), "chatcmpl-mock1");
        EXPECT_EQ(chunk.at("model"), "gpt-\"quoted\"");
        if (event_idx == 0) {
            EXPECT_EQ(chunk.at("choices").at(0).at("delta").at("role"), "assistant");
        } else if (event_idx <= 12) {
            const auto& choice = chunk.at("choices").at(0);
            EXPECT_TRUE(choice.at("finish_reason").is_null());
            text += choice.at("delta").at("content").as_string();
        } else if (event_idx == 13) {
            EXPECT_EQ(chunk.at("choices").at(0).at("finish_reason"), "stop");
        } else {
            EXPECT_TRUE(chunk.at("choices").as_array().empty());
            EXPECT_EQ(chunk.at("usage").at("completion_tokens"), 12);
            EXPECT_EQ(chunk.at("usage").at("total_tokens"), 19);
        }
    }
    EXPECT_EQ(text, completion.text);
    EXPECT_EQ(events.back().data, "[DONE]");
}

TEST(StreamEncoder, OpenAiWithoutUsageEndsWithStopThenDone) {
    const Completion completion = generate_completion("q", 5, 2);
    const StreamEncoder encoder(Api::kOpenAi, test_identity, Usage{1, 2}, false);
    std::string out;
    encoder.append_start(out);
    append_tokens(encoder, out, completion);
    encoder.append_finish(out, true);
    const auto events = parse_sse(out);
    ASSERT_EQ(events.size(), 5U);
    EXPECT_EQ(json::parse(events[3].data).at("choices").at(0).at("finish_reason"), "length");
    EXPECT_EQ(events[4].data, "[DONE]");
}

TEST(StreamEncoder, AnthropicEventSequence) {
    const Completion completion = generate_completion("a question", 5, 4);
    const StreamEncoder encoder(Api::kAnthropic, test_identity, Usage{9, 4}, false);
    std::string out;
    encoder.append_start(out);
    append_tokens(encoder, out, completion);
    encoder.append_finish(out, false);
    const auto events = parse_sse(out);
    const std::vector<std::string> expected_names{"message_start",
                                                  "content_block_start",
                                                  "ping",
                                                  "content_block_delta",
                                                  "content_block_delta",
                                                  "content_block_delta",
                                                  "content_block_delta",
                                                  "content_block_stop",
                                                  "message_delta",
                                                  "message_stop"};
    ASSERT_EQ(events.size(), expected_names.size());
    std::string text;
    for (std::size_t event_idx = 0; event_idx < events.size(); ++event_idx) {
        EXPECT_EQ(events[event_idx].name, expected_names[event_idx]);
        const auto data = json::parse(events[event_idx].data);
        EXPECT_EQ(std::string(data.at("type").as_string()), expected_names[event_idx]);
        if (expected_names[event_idx] == "content_block_delta") {
            EXPECT_EQ(data.at("delta").at("type"), "text_delta");
            text += data.at("delta").at("text").as_string();
        }
    }
    EXPECT_EQ(text, completion.text);
    const auto start = json::parse(events[0].data).at("message");
    EXPECT_EQ(start.at("id"), "chatcmpl-mock1");
    EXPECT_EQ(start.at("usage").at("input_tokens"), 9);
    const auto delta = json::parse(events[8].data);
    EXPECT_EQ(delta.at("delta").at("stop_reason"), "end_turn");
    EXPECT_EQ(delta.at("usage").at("output_tokens"), 4);
}

TEST(BedrockWireFormat, ConverseBodyAndErrors) {
    const ResponseIdentity identity = make_identity(Api::kBedrock, "m", 1, 2, 3);
    const json::value body =
        json::parse(completion_body(Api::kBedrock, identity, "Lamps glow.", true, Usage{7, 2}));
    EXPECT_EQ(body.at("output").at("message").at("content").at(0).at("text"), "Lamps glow.");
    EXPECT_EQ(body.at("stopReason"), "max_tokens");
    EXPECT_EQ(body.at("usage").at("inputTokens").to_number<int>(), 7);
    EXPECT_EQ(body.at("usage").at("outputTokens").to_number<int>(), 2);
    EXPECT_EQ(json::parse(error_body(Api::kBedrock, 429, "slow")).at("message"), "slow");
    EXPECT_EQ(bedrock_error_header(429), "x-amzn-ErrorType: ThrottlingException\r\n");
}

TEST(BedrockWireFormat, StreamIsFramedEventsEndingWithMetadata) {
    const ResponseIdentity identity = make_identity(Api::kBedrock, "m", 1, 2, 3);
    const StreamEncoder encoder(Api::kBedrock, identity, Usage{7, 2}, false);
    std::string bytes;
    encoder.append_start(bytes);
    encoder.append_token(bytes, "Lamps \"glow\"");
    encoder.append_token(bytes, " [1].");
    encoder.append_finish(bytes, false);
    http::EventStreamParser parser;
    std::vector<http::EventStreamMessage> messages;
    parser.feed(bytes, messages);
    ASSERT_FALSE(parser.failed()) << parser.error();
    ASSERT_EQ(messages.size(), 6U);
    const char* const types[] = {"messageStart",
                                 "contentBlockDelta",
                                 "contentBlockDelta",
                                 "contentBlockStop",
                                 "messageStop",
                                 "metadata"};
    for (std::size_t idx = 0; idx < messages.size(); ++idx) {
        EXPECT_EQ(messages[idx].header(":event-type"), types[idx]);
        EXPECT_EQ(messages[idx].header(":message-type"), "event");
        EXPECT_NO_THROW((void)json::parse(messages[idx].payload)) << messages[idx].payload;
    }
    EXPECT_EQ(json::parse(messages[1].payload).at("delta").at("text"), "Lamps \"glow\"");
    EXPECT_EQ(json::parse(messages[4].payload).at("stopReason"), "end_turn");
    EXPECT_EQ(json::parse(messages[5].payload).at("usage").at("outputTokens").to_number<int>(), 2);
}

}  // namespace
}  // namespace ragd::mock
