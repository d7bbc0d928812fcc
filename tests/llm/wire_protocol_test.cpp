// Both LLM wire dialects: request building (target, auth, headers, body shape), completion
// parsing, the stream decoders fed whole and byte by byte, parse_header_list and error_detail.
#include "llm/wire_protocol.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "core/utf8.hpp"
#include "http/sse_parser.hpp"

namespace ragd::llm {
namespace {

namespace json = boost::json;
using Kind = StreamEvent::Kind;

Prompt sample_prompt(std::string system = "Answer from the passages.") {
    Prompt prompt;
    prompt.system = std::move(system);
    prompt.messages.push_back({"user", "Passages:\n\n[1] Lamps.\n\nQuestion: how?"});
    prompt.included_passages = {1};
    return prompt;
}

CallParams params(bool stream) {
    CallParams p;
    p.model = "test-model";
    p.max_tokens = 77;
    p.temperature = 0.5;
    p.stream = stream;
    return p;
}

/// Every value of header `name` (case-sensitive, as built).
std::vector<std::string> header_values(const WireRequest& request, std::string_view name) {
    std::vector<std::string> values;
    for (const http::Header& header : request.headers) {
        if (header.name == name) {
            values.push_back(header.value);
        }
    }
    return values;
}

std::optional<std::string> header(const WireRequest& request, std::string_view name) {
    auto values = header_values(request, name);
    EXPECT_LE(values.size(), 1u) << "header " << name << " repeated";
    if (values.empty()) {
        return std::nullopt;
    }
    return values.front();
}

json::object body_of(const WireRequest& request) {
    return json::parse(request.body).as_object();
}

/// A readable, comparable rendering of decoded events.
std::string describe(const std::vector<StreamEvent>& events) {
    std::string out;
    for (const StreamEvent& event : events) {
        switch (event.kind) {
            case Kind::kDelta:
                out += "delta(" + event.text + ")";
                break;
            case Kind::kUsage:
                out += "usage(" + std::to_string(event.usage.prompt_tokens) + "," +
                       std::to_string(event.usage.completion_tokens) + "," +
                       (event.usage.reported ? "r" : "-") + ")";
                break;
            case Kind::kDone:
                out += "done";
                break;
            case Kind::kError:
                out += "error(" + event.text + ")";
                break;
        }
        out += ' ';
    }
    return out;
}

std::vector<StreamEvent> decode_whole(const WireProtocol& protocol, std::string_view stream) {
    auto decoder = protocol.stream_decoder();
    std::vector<StreamEvent> events;
    decoder->feed(stream, events);
    return events;
}

std::vector<StreamEvent> decode_bytewise(const WireProtocol& protocol, std::string_view stream) {
    auto decoder = protocol.stream_decoder();
    std::vector<StreamEvent> events;
    for (char c : stream) {
        decoder->feed(std::string_view(&c, 1), events);
    }
    return events;
}

/// Decodes whole and byte by byte, checks both agree, returns the description.
std::string decode(const WireProtocol& protocol, std::string_view stream) {
    const std::string whole = describe(decode_whole(protocol, stream));
    EXPECT_EQ(describe(decode_bytewise(protocol, stream)), whole);
    return whole;
}

// ---- factory -------------------------------------------------------------------------------

TEST(WireProtocolFactory, ByDialectName) {
    ASSERT_NE(make_wire_protocol("openai"), nullptr);
    ASSERT_NE(make_wire_protocol("anthropic"), nullptr);
    EXPECT_EQ(make_wire_protocol("openai")->dialect(), "openai");
    EXPECT_EQ(make_wire_protocol("anthropic")->dialect(), "anthropic");
    EXPECT_EQ(make_wire_protocol("extractive"), nullptr);
    EXPECT_EQ(make_wire_protocol(""), nullptr);
    EXPECT_EQ(make_wire_protocol("OpenAI"), nullptr);
}

// ---- OpenAI requests -----------------------------------------------------------------------

TEST(OpenAiRequest, NonStreamedShape) {
    auto protocol = make_openai_protocol();
    Endpoint endpoint;
    endpoint.api_key = "sk-test";
    const WireRequest request = protocol->build_request(sample_prompt(), params(false), endpoint);

    EXPECT_EQ(request.target, "/v1/chat/completions");
    EXPECT_EQ(header(request, "Authorization"), "Bearer sk-test");
    EXPECT_EQ(header(request, "x-api-key"), std::nullopt);
    EXPECT_EQ(header(request, "anthropic-version"), std::nullopt);
    EXPECT_EQ(header(request, "Content-Type"), "application/json");
    EXPECT_EQ(header(request, "Accept"), "application/json");

    const json::object body = body_of(request);
    EXPECT_EQ(body.at("model").as_string(), "test-model");
    EXPECT_EQ(body.at("max_tokens").to_number<std::int64_t>(), 77);
    EXPECT_DOUBLE_EQ(body.at("temperature").to_number<double>(), 0.5);
    EXPECT_EQ(body.at("stream").as_bool(), false);
    EXPECT_FALSE(body.contains("stream_options"));
    EXPECT_FALSE(body.contains("system")) << "OpenAI takes the system prompt as a message";
    const json::array& messages = body.at("messages").as_array();
    ASSERT_EQ(messages.size(), 2u);
    EXPECT_EQ(messages[0].at("role").as_string(), "system");
    EXPECT_EQ(messages[0].at("content").as_string(), "Answer from the passages.");
    EXPECT_EQ(messages[1].at("role").as_string(), "user");
    EXPECT_EQ(messages[1].at("content").as_string(), "Passages:\n\n[1] Lamps.\n\nQuestion: how?");
}

TEST(OpenAiRequest, StreamedAsksForUsage) {
    auto protocol = make_openai_protocol();
    const WireRequest request = protocol->build_request(sample_prompt(), params(true), Endpoint{});
    EXPECT_EQ(header(request, "Accept"), "text/event-stream");
    const json::object body = body_of(request);
    EXPECT_EQ(body.at("stream").as_bool(), true);
    ASSERT_TRUE(body.contains("stream_options"));
    EXPECT_EQ(body.at("stream_options").at("include_usage").as_bool(), true);
}

TEST(OpenAiRequest, EmptySystemPromptSendsNoSystemMessage) {
    auto protocol = make_openai_protocol();
    const WireRequest request = protocol->build_request(sample_prompt(""), params(false), {});
    const json::object body = body_of(request);
    const json::array& messages = body.at("messages").as_array();
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_EQ(messages[0].at("role").as_string(), "user");
}

TEST(OpenAiRequest, NoKeyNoAuthorization) {
    auto protocol = make_openai_protocol();
    const WireRequest request = protocol->build_request(sample_prompt(), params(false), {});
    EXPECT_EQ(header(request, "Authorization"), std::nullopt);
}

TEST(OpenAiRequest, KeyHeaderOverrideSendsBareKey) {
    auto protocol = make_openai_protocol();
    Endpoint endpoint;
    endpoint.api_key = "azure-key";
    endpoint.api_key_header = "api-key";
    const WireRequest request = protocol->build_request(sample_prompt(), params(false), endpoint);
    EXPECT_EQ(header(request, "api-key"), "azure-key");
    EXPECT_EQ(header(request, "Authorization"), std::nullopt);
}

TEST(OpenAiRequest, ExtraQueryAndHeaders) {
    auto protocol = make_openai_protocol();
    Endpoint endpoint;
    endpoint.extra_query = "api-version=2024-06-01";
    endpoint.extra_headers = {{"X-Team", "search"}, {"OpenAI-Organization", "org-1"}};
    const WireRequest request = protocol->build_request(sample_prompt(), params(false), endpoint);
    EXPECT_EQ(request.target, "/v1/chat/completions?api-version=2024-06-01");
    EXPECT_EQ(header(request, "X-Team"), "search");
    EXPECT_EQ(header(request, "OpenAI-Organization"), "org-1");
}

TEST(OpenAiRequest, BodyEscapesUntrustedText) {
    auto protocol = make_openai_protocol();
    Prompt prompt = sample_prompt();
    prompt.messages[0].content = "quote \" backslash \\ newline \n ctrl \x01 done";
    const WireRequest request = protocol->build_request(prompt, params(false), {});
    const json::object body = body_of(request);  // must parse
    EXPECT_EQ(body.at("messages").as_array()[1].at("content").as_string(),
              prompt.messages[0].content);
}

// ---- Anthropic requests --------------------------------------------------------------------

TEST(AnthropicRequest, NonStreamedShape) {
    auto protocol = make_anthropic_protocol();
    Endpoint endpoint;
    endpoint.api_key = "ant-key";
    const WireRequest request = protocol->build_request(sample_prompt(), params(false), endpoint);

    EXPECT_EQ(request.target, "/v1/messages");
    EXPECT_EQ(header(request, "x-api-key"), "ant-key");
    EXPECT_EQ(header(request, "Authorization"), std::nullopt);
    EXPECT_EQ(header(request, "anthropic-version"), "2023-06-01");
    EXPECT_EQ(header(request, "Content-Type"), "application/json");
    EXPECT_EQ(header(request, "Accept"), "application/json");

    const json::object body = body_of(request);
    EXPECT_EQ(body.at("model").as_string(), "test-model");
    EXPECT_EQ(body.at("max_tokens").to_number<std::int64_t>(), 77);
    EXPECT_DOUBLE_EQ(body.at("temperature").to_number<double>(), 0.5);
    EXPECT_EQ(body.at("stream").as_bool(), false);
    EXPECT_EQ(body.at("system").as_string(), "Answer from the passages.");
    EXPECT_FALSE(body.contains("stream_options"));
    const json::array& messages = body.at("messages").as_array();
    ASSERT_EQ(messages.size(), 1u) << "Anthropic takes the system prompt as a field";
    EXPECT_EQ(messages[0].at("role").as_string(), "user");
}

TEST(AnthropicRequest, StreamedAndVersionOverride) {
    auto protocol = make_anthropic_protocol();
    Endpoint endpoint;
    endpoint.anthropic_version = "2099-01-01";
    const WireRequest request = protocol->build_request(sample_prompt(), params(true), endpoint);
    EXPECT_EQ(header(request, "anthropic-version"), "2099-01-01");
    EXPECT_EQ(header(request, "Accept"), "text/event-stream");
    EXPECT_EQ(header(request, "x-api-key"), std::nullopt) << "no key configured";
    const json::object body = body_of(request);
    EXPECT_EQ(body.at("stream").as_bool(), true);
    EXPECT_FALSE(body.contains("stream_options")) << "an OpenAI-only field";
}

TEST(AnthropicRequest, EmptySystemPromptOmitsField) {
    auto protocol = make_anthropic_protocol();
    const WireRequest request = protocol->build_request(sample_prompt(""), params(false), {});
    EXPECT_FALSE(body_of(request).contains("system"));
}

TEST(AnthropicRequest, KeyHeaderOverrideQueryAndExtraHeaders) {
    auto protocol = make_anthropic_protocol();
    Endpoint endpoint;
    endpoint.api_key = "k";
    endpoint.api_key_header = "X-Gateway-Key";
    endpoint.extra_query = "beta=true";
    endpoint.extra_headers = {{"anthropic-beta", "tools-2024"}};
    const WireRequest request = protocol->build_request(sample_prompt(), params(false), endpoint);
    EXPECT_EQ(request.target, "/v1/messages?beta=true");
    EXPECT_EQ(header(request, "X-Gateway-Key"), "k");
    EXPECT_EQ(header(request, "x-api-key"), std::nullopt);
    EXPECT_EQ(header(request, "anthropic-beta"), "tools-2024");
    EXPECT_EQ(header(request, "anthropic-version"), "2023-06-01");
}

// ---- completions ---------------------------------------------------------------------------

TEST(OpenAiCompletion, TextFinishReasonUsage) {
    auto protocol = make_openai_protocol();
    auto completion = protocol->parse_completion(R"({
        "id": "chatcmpl-1", "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Lamps [1]."},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 9, "total_tokens": 129}})");
    ASSERT_TRUE(completion.has_value()) << completion.error().detail;
    EXPECT_EQ(completion->text, "Lamps [1].");
    EXPECT_EQ(completion->finish_reason, "stop");
    EXPECT_TRUE(completion->usage.reported);
    EXPECT_EQ(completion->usage.prompt_tokens, 120u);
    EXPECT_EQ(completion->usage.completion_tokens, 9u);
}

TEST(OpenAiCompletion, UsageAbsentOrNegativeIsNotReported) {
    auto protocol = make_openai_protocol();
    auto without = protocol->parse_completion(
        R"({"choices": [{"message": {"content": "x"}, "finish_reason": "length"}]})");
    ASSERT_TRUE(without.has_value());
    EXPECT_FALSE(without->usage.reported);
    EXPECT_EQ(without->finish_reason, "length");
    auto negative = protocol->parse_completion(
        R"({"choices": [{"message": {"content": "x"}}], "usage": {"prompt_tokens": -3}})");
    ASSERT_TRUE(negative.has_value());
    EXPECT_FALSE(negative->usage.reported);
}

TEST(OpenAiCompletion, NullContentIsEmptyText) {
    auto protocol = make_openai_protocol();
    auto completion =
        protocol->parse_completion(R"({"choices": [{"message": {"content": null}}]})");
    ASSERT_TRUE(completion.has_value());
    EXPECT_EQ(completion->text, "");
}

TEST(OpenAiCompletion, MalformedBodiesAreCorrupt) {
    auto protocol = make_openai_protocol();
    for (std::string_view body :
         {"",
          "not json",
          "{",
          "[]",
          "null",
          "{}",
          R"({"choices": []})",
          R"({"choices": {}})",
          R"({"choices": "x"})",
          R"({"error": {"message": "bad key"}})",
          R"({"content": [{"type": "text", "text": "anthropic shape"}]})"}) {
        auto completion = protocol->parse_completion(body);
        ASSERT_FALSE(completion.has_value()) << body;
        EXPECT_EQ(completion.error().code, core::ErrorCode::kCorrupt) << body;
        EXPECT_FALSE(completion.error().detail.empty());
    }
}

TEST(AnthropicCompletion, JoinsTextBlocksSkipsOthers) {
    auto protocol = make_anthropic_protocol();
    auto completion = protocol->parse_completion(R"({
        "id": "msg_1", "type": "message", "role": "assistant",
        "content": [{"type": "text", "text": "Lamps "},
                    {"type": "tool_use", "id": "t", "name": "n", "input": {}},
                    {"type": "text", "text": "[1]."}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 50, "output_tokens": 4}})");
    ASSERT_TRUE(completion.has_value()) << completion.error().detail;
    EXPECT_EQ(completion->text, "Lamps [1].");
    EXPECT_EQ(completion->finish_reason, "end_turn");
    EXPECT_TRUE(completion->usage.reported);
    EXPECT_EQ(completion->usage.prompt_tokens, 50u);
    EXPECT_EQ(completion->usage.completion_tokens, 4u);
}

TEST(AnthropicCompletion, EmptyContentAndNoUsage) {
    auto protocol = make_anthropic_protocol();
    auto completion = protocol->parse_completion(R"({"content": [], "stop_reason": "max_tokens"})");
    ASSERT_TRUE(completion.has_value());
    EXPECT_EQ(completion->text, "");
    EXPECT_FALSE(completion->usage.reported);
}

TEST(AnthropicCompletion, MalformedBodiesAreCorrupt) {
    auto protocol = make_anthropic_protocol();
    for (std::string_view body :
         {"",
          "<html>502</html>",
          "{}",
          R"({"content": "text"})",
          R"({"content": null})",
          R"({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}})",
          R"({"choices": [{"message": {"content": "openai shape"}}]})"}) {
        auto completion = protocol->parse_completion(body);
        ASSERT_FALSE(completion.has_value()) << body;
        EXPECT_EQ(completion.error().code, core::ErrorCode::kCorrupt) << body;
    }
}

// ---- OpenAI stream -------------------------------------------------------------------------

constexpr std::string_view kOpenAiStream =
    "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
    "\"content\":\"\"},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Lamps \"}}]}\n\n"
    ": keep-alive comment\n\n"
    "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"gl\\u00fcht "
    "[1].\"}}]}\n\n"
    "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
    "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":31,"
    "\"completion_tokens\":5,\"total_tokens\":36}}\n\n"
    "data: [DONE]\n\n";

TEST(OpenAiStream, DeltasUsageDone) {
    auto protocol = make_openai_protocol();
    EXPECT_EQ(decode(*protocol, kOpenAiStream),
              "delta(Lamps ) delta(gl\xC3\xBCht [1].) usage(31,5,r) done ");
}

TEST(OpenAiStream, CrLfLineEndings) {
    auto protocol = make_openai_protocol();
    std::string crlf;
    for (char c : kOpenAiStream) {
        if (c == '\n') {
            crlf += "\r\n";
        } else {
            crlf += c;
        }
    }
    EXPECT_EQ(decode(*protocol, crlf),
              "delta(Lamps ) delta(gl\xC3\xBCht [1].) usage(31,5,r) done ");
}

TEST(OpenAiStream, UsageInTheSameChunkAsText) {
    auto protocol = make_openai_protocol();
    EXPECT_EQ(decode(*protocol,
                     "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}],"
                     "\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":1}}\n\n"),
              "delta(x) usage(2,1,r) ");
}

TEST(OpenAiStream, NullUsageIsIgnored) {
    auto protocol = make_openai_protocol();
    EXPECT_EQ(decode(*protocol,
                     "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}],\"usage\":null}\n\n"),
              "delta(x) ");
}

TEST(OpenAiStream, NothingBeforeTheBlankLine) {
    auto protocol = make_openai_protocol();
    EXPECT_EQ(decode(*protocol, "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n"), "");
}

TEST(OpenAiStream, ErrorObject) {
    auto protocol = make_openai_protocol();
    EXPECT_EQ(decode(*protocol,
                     "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
                     "data: {\"error\":{\"message\":\"The server had an error\","
                     "\"type\":\"server_error\"}}\n\n"),
              "delta(a) error(The server had an error) ");
    EXPECT_EQ(decode(*protocol, "data: {\"error\":{\"code\":500}}\n\n"),
              "error(upstream sent an error event) ");
}

TEST(OpenAiStream, LongErrorMessageIsCut) {
    auto protocol = make_openai_protocol();
    const std::string message(1000, 'm');
    auto events =
        decode_whole(*protocol, "data: {\"error\":{\"message\":\"" + message + "\"}}\n\n");
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].kind, Kind::kError);
    EXPECT_LE(events[0].text.size(), 303u);
    EXPECT_EQ(events[0].text.substr(0, 10), "mmmmmmmmmm");
}

TEST(OpenAiStream, MalformedJsonIsAnError) {
    auto protocol = make_openai_protocol();
    EXPECT_EQ(decode(*protocol, "data: {\"choices\": [\n\n"),
              "error(malformed JSON in upstream stream) ");
}

TEST(OpenAiStream, OversizedEventFailsOnce) {
    auto protocol = make_openai_protocol();
    const std::string huge(http::SseParser::kDefaultMaxEventBytes + 10, 'x');
    auto decoder = protocol->stream_decoder();
    std::vector<StreamEvent> events;
    decoder->feed("data: " + huge, events);
    decoder->feed("\n\ndata: [DONE]\n\n", events);
    decoder->feed("data: [DONE]\n\n", events);
    EXPECT_EQ(describe(events), "error(upstream stream event too large) ");
}

// BUG (reported): events completed earlier in the same feed() as an oversized event are
// dropped (wire_protocol.cpp, OpenAiDecoder/AnthropicDecoder::feed return right after pushing
// the "too large" error, without decoding events_), so the deltas a client sees depend on how
// the upstream's bytes happened to be split into reads.
TEST(StreamDecoders, DeltasBeforeAnOversizedEventSurviveInTheSameRead) {
    const std::string huge(http::SseParser::kDefaultMaxEventBytes + 10, 'x');
    auto openai = make_openai_protocol();
    EXPECT_EQ(
        describe(decode_whole(
            *openai, "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: " + huge)),
        "delta(a) error(upstream stream event too large) ");
    auto anthropic = make_anthropic_protocol();
    EXPECT_EQ(describe(decode_whole(*anthropic,
                                    "data: {\"type\":\"content_block_delta\",\"delta\":"
                                    "{\"text\":\"a\"}}\n\ndata: " +
                                        huge)),
              "delta(a) error(upstream stream event too large) ");
}

TEST(OpenAiStream, MultiLineDataIsJoined) {
    auto protocol = make_openai_protocol();
    EXPECT_EQ(decode(*protocol,
                     "data: {\"choices\":\n"
                     "data: [{\"delta\":{\"content\":\"joined\"}}]}\n\n"),
              "delta(joined) ");
}

// ---- Anthropic stream ----------------------------------------------------------------------

constexpr std::string_view kAnthropicStream =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\","
    "\"role\":\"assistant\",\"content\":[],\"model\":\"m\",\"stop_reason\":null,"
    "\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\","
    "\"text\":\"\"}}\n\n"
    "event: ping\n"
    "data: {\"type\": \"ping\"}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\"Lamps \"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\"[1].\"}}\n\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\","
    "\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\n"
    "event: message_stop\n"
    "data: {\"type\":\"message_stop\"}\n\n";

TEST(AnthropicStream, UsageDeltasStop) {
    auto protocol = make_anthropic_protocol();
    EXPECT_EQ(decode(*protocol, kAnthropicStream),
              "usage(25,0,r) delta(Lamps ) delta([1].) usage(25,15,r) done ");
}

TEST(AnthropicStream, ErrorEvent) {
    auto protocol = make_anthropic_protocol();
    EXPECT_EQ(decode(*protocol,
                     "event: content_block_delta\n"
                     "data: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"a\"}}\n\n"
                     "event: error\n"
                     "data: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
                     "\"message\":\"Overloaded\"}}\n\n"),
              "delta(a) error(Overloaded) ");
    EXPECT_EQ(decode(*protocol, "event: error\ndata: {\"type\":\"error\"}\n\n"),
              "error(upstream sent an error event) ");
}

TEST(AnthropicStream, PingsAndUnknownTypesAreIgnored) {
    auto protocol = make_anthropic_protocol();
    EXPECT_EQ(decode(*protocol,
                     "event: ping\ndata: {\"type\":\"ping\"}\n\n"
                     "data: {\"type\":\"future_event\",\"x\":1}\n\n"
                     "data: {\"type\":\"content_block_delta\",\"delta\":"
                     "{\"type\":\"input_json_delta\",\"partial_json\":\"{}\"}}\n\n"),
              "");
}

TEST(AnthropicStream, MalformedJsonIsAnError) {
    auto protocol = make_anthropic_protocol();
    EXPECT_EQ(decode(*protocol, "event: content_block_delta\ndata: {oops\n\n"),
              "error(malformed JSON in upstream stream) ");
}

TEST(AnthropicStream, OversizedEventFailsOnce) {
    auto protocol = make_anthropic_protocol();
    const std::string huge(http::SseParser::kDefaultMaxEventBytes + 10, 'x');
    auto decoder = protocol->stream_decoder();
    std::vector<StreamEvent> events;
    decoder->feed("data: " + huge, events);
    decoder->feed("\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n", events);
    EXPECT_EQ(describe(events), "error(upstream stream event too large) ");
}

TEST(StreamDecoders, EverySplitPointGivesTheSameEvents) {
    for (const auto& [dialect, stream] :
         {std::pair{"openai", kOpenAiStream}, std::pair{"anthropic", kAnthropicStream}}) {
        auto protocol = make_wire_protocol(dialect);
        const std::string whole = describe(decode_whole(*protocol, stream));
        for (std::size_t split = 0; split <= stream.size(); ++split) {
            auto decoder = protocol->stream_decoder();
            std::vector<StreamEvent> events;
            decoder->feed(stream.substr(0, split), events);
            decoder->feed(stream.substr(split), events);
            ASSERT_EQ(describe(events), whole) << protocol->dialect() << " split at " << split;
        }
    }
}

// ---- parse_header_list ---------------------------------------------------------------------

TEST(ParseHeaderList, EmptyAndBlankEntries) {
    auto none = parse_header_list("");
    ASSERT_TRUE(none.has_value());
    EXPECT_TRUE(none->empty());
    auto blanks = parse_header_list(" ; ;\t");
    ASSERT_TRUE(blanks.has_value());
    EXPECT_TRUE(blanks->empty());
}

TEST(ParseHeaderList, EntriesTrimmedInOrder) {
    auto headers = parse_header_list("X-Team: search;  X-Route :two words ;X-Url: http://a:1/b;");
    ASSERT_TRUE(headers.has_value()) << headers.error().detail;
    ASSERT_EQ(headers->size(), 3u);
    EXPECT_EQ((*headers)[0].name, "X-Team");
    EXPECT_EQ((*headers)[0].value, "search");
    EXPECT_EQ((*headers)[1].name, "X-Route");
    EXPECT_EQ((*headers)[1].value, "two words");
    EXPECT_EQ((*headers)[2].name, "X-Url");
    EXPECT_EQ((*headers)[2].value, "http://a:1/b") << "only the first colon separates";
}

TEST(ParseHeaderList, EmptyValueIsAllowed) {
    auto headers = parse_header_list("X-Empty:");
    ASSERT_TRUE(headers.has_value());
    ASSERT_EQ(headers->size(), 1u);
    EXPECT_EQ((*headers)[0].value, "");
}

TEST(ParseHeaderList, MalformedEntriesAreRejected) {
    for (std::string_view text : {"NoColon",
                                  "X-A: 1; NoColon",
                                  ": value",
                                  "Bad Name: v",
                                  "X(A): v",
                                  "X-A\r\n: v",
                                  "X-A: v\r\nInjected: yes",
                                  "X-A: v\nInjected: yes"}) {
        auto headers = parse_header_list(text);
        ASSERT_FALSE(headers.has_value()) << text;
        EXPECT_EQ(headers.error().code, core::ErrorCode::kInvalidArgument);
        EXPECT_NE(headers.error().detail.find("extra_headers"), std::string::npos);
    }
}

// ---- error_detail --------------------------------------------------------------------------

TEST(ErrorDetail, ProviderErrorShapes) {
    EXPECT_EQ(WireProtocol::error_detail(
                  R"({"error":{"message":"Incorrect API key","type":"invalid_request_error"}})"),
              "Incorrect API key");
    EXPECT_EQ(WireProtocol::error_detail(
                  R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})"),
              "Overloaded");
    EXPECT_EQ(WireProtocol::error_detail(R"({"message":"top level"})"), "top level");
}

TEST(ErrorDetail, NonJsonBodyIsAnExcerptWithoutControls) {
    EXPECT_EQ(WireProtocol::error_detail("<html>\r\n<h1>502 Bad Gateway</h1>\n</html>"),
              "<html>  <h1>502 Bad Gateway</h1> </html>");
    EXPECT_EQ(WireProtocol::error_detail(""), "");
    EXPECT_EQ(WireProtocol::error_detail(R"({"error":"plain string"})"),
              R"({"error":"plain string"})");
}

TEST(ErrorDetail, LongMessagesAreCutAtUtf8Boundaries) {
    // 299 ASCII bytes then a 2-byte character straddling the 300-byte limit.
    const std::string message = std::string(299, 'a') + "\xC3\xA9" + std::string(50, 'b');
    const std::string detail =
        WireProtocol::error_detail(R"({"error":{"message":")" + message + R"("}})");
    EXPECT_LE(detail.size(), 303u);
    EXPECT_TRUE(core::is_valid_utf8(detail));
    EXPECT_EQ(detail.substr(detail.size() - 3), "...");
}

// BUG (reported): the excerpt of a non-JSON error body is cut at byte 300 without regard to
// UTF-8 (wire_protocol.cpp, WireProtocol::error_detail: `body.substr(0, kErrorDetailBytes)`
// before cut(), which then never cuts), so an HTML error page with a multi-byte character at
// the limit yields a detail ending in half a character; it reaches clients in `fallbacks`.
TEST(ErrorDetail, LongNonJsonBodyIsCutAtUtf8Boundary) {
    const std::string body = "<p>" + std::string(296, 'x') + "\xC3\xA9" + "</p>";
    const std::string detail = WireProtocol::error_detail(body);
    EXPECT_LE(detail.size(), 303u);
    EXPECT_TRUE(core::is_valid_utf8(detail))
        << "detail ends with byte 0x" << std::hex
        << static_cast<int>(static_cast<unsigned char>(detail.back()));
}

// BUG (fuzz_llm_stream): a non-JSON error body's bytes were copied into the detail as they
// were, so an upstream error page that is not UTF-8 put invalid UTF-8 into the JSON of the
// client's error event (and into logs).
TEST(ErrorDetail, NonUtf8BodyIsRepaired) {
    const std::string detail = WireProtocol::error_detail("Ove\xFF\xFErloaded \xC3");
    EXPECT_TRUE(core::is_valid_utf8(detail)) << detail;
    EXPECT_EQ(detail, "Ove\xEF\xBF\xBD\xEF\xBF\xBDrloaded \xEF\xBF\xBD");
    // Repair can make the text longer; the cut still holds the limit.
    const std::string long_detail = WireProtocol::error_detail(std::string(400, '\xFF'));
    EXPECT_TRUE(core::is_valid_utf8(long_detail));
    EXPECT_LE(long_detail.size(), 303u);
}

}  // namespace
}  // namespace ragd::llm
