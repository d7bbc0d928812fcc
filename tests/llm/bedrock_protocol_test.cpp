// The Bedrock dialect: Converse request building (path, body, auth by API key or SigV4 with the
// credentials provider's current set), completion parsing, and the ConverseStream decoder over AWS
// event stream framing.
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "../http/fake_aws_credentials_server.hpp"
#include "core/utf8.hpp"
#include "http/aws_event_stream.hpp"
#include "http/aws_sigv4.hpp"
#include "llm/wire_protocol.hpp"

namespace ragd::llm {
namespace {

namespace json = boost::json;
using Kind = StreamEvent::Kind;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr std::string_view kModel = "anthropic.claude-3-haiku-20240307-v1:0";

Prompt sample_prompt() {
    Prompt prompt;
    prompt.system = "Answer from the passages.";
    prompt.messages.push_back({"user", "Passages:\n\n[1] Lamps.\n\nQuestion: how?"});
    return prompt;
}

CallParams params(bool stream) {
    CallParams p;
    p.model = std::string(kModel);
    p.max_tokens = 77;
    p.temperature = 0.5;
    p.stream = stream;
    p.now = std::chrono::system_clock::time_point(std::chrono::seconds(1440938160));
    return p;
}

std::string header(const WireRequest& request, std::string_view name) {
    for (const http::Header& h : request.headers) {
        if (h.name == name) {
            return h.value;
        }
    }
    return {};
}

/// The Authorization a server computes from the request as it arrives (prefix + target, the
/// Host header, every header but Authorization), independently of how ragd built it.
std::string authorization_as_received(const WireRequest& request,
                                      const Endpoint& endpoint,
                                      const http::AwsCredentials& credentials) {
    std::vector<http::Header> seen;
    for (const http::Header& h : request.headers) {
        if (h.name != "Authorization") {
            seen.push_back(h);
        }
    }
    seen.push_back({"Host", endpoint.host_header});
    http::SigV4Request as_received;
    as_received.method = "POST";
    const std::string path = endpoint.path_prefix + request.target;
    as_received.path = path;
    as_received.headers = &seen;
    as_received.payload = request.body;
    return http::sigv4_sign(as_received,
                            credentials,
                            {endpoint.aws_region, "bedrock"},
                            header(request, "X-Amz-Date"))
        .authorization;
}

TEST(BedrockRequest, ConverseShape) {
    const auto protocol = make_wire_protocol("bedrock");
    ASSERT_NE(protocol, nullptr);
    EXPECT_EQ(protocol->dialect(), "bedrock");
    const WireRequest request = protocol->build_request(sample_prompt(), params(false), {});
    EXPECT_EQ(request.target, "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse");
    EXPECT_EQ(header(request, "Accept"), "application/json");
    EXPECT_EQ(header(request, "Content-Type"), "application/json");
    EXPECT_EQ(header(request, "Authorization"), "");
    const json::value body = json::parse(request.body);
    EXPECT_EQ(body.at("messages").at(0).at("role"), "user");
    EXPECT_EQ(body.at("messages").at(0).at("content").at(0).at("text"),
              "Passages:\n\n[1] Lamps.\n\nQuestion: how?");
    EXPECT_EQ(body.at("system").at(0).at("text"), "Answer from the passages.");
    EXPECT_EQ(body.at("inferenceConfig").at("maxTokens").to_number<int>(), 77);
    EXPECT_DOUBLE_EQ(body.at("inferenceConfig").at("temperature").to_number<double>(), 0.5);
    EXPECT_FALSE(body.as_object().contains("model")) << "the model is in the path";
}

TEST(BedrockRequest, StreamedGoesToConverseStream) {
    const auto protocol = make_bedrock_protocol();
    Prompt prompt = sample_prompt();
    prompt.system.clear();
    Endpoint endpoint;
    endpoint.extra_query = "trace=1";
    const WireRequest request = protocol->build_request(prompt, params(true), endpoint);
    EXPECT_EQ(request.target,
              "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream?trace=1");
    EXPECT_EQ(header(request, "Accept"), "application/vnd.amazon.eventstream");
    EXPECT_FALSE(json::parse(request.body).as_object().contains("system"));
}

TEST(BedrockRequest, ApiKeyIsABearerToken) {
    Endpoint endpoint;
    endpoint.api_key = "bedrock-api-key";
    // The key wins: nothing is signed.
    endpoint.aws_credentials = http::AwsCredentialsProvider::fixed({"AKID", "secret", ""});
    const WireRequest request =
        make_bedrock_protocol()->build_request(sample_prompt(), params(false), endpoint);
    EXPECT_EQ(header(request, "Authorization"), "Bearer bedrock-api-key");
    EXPECT_EQ(header(request, "X-Amz-Date"), "");
}

TEST(BedrockRequest, CredentialsSignWhatIsSent) {
    Endpoint endpoint;
    const http::AwsCredentials credentials{
        "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "tok"};
    endpoint.aws_credentials = http::AwsCredentialsProvider::fixed(credentials);
    endpoint.aws_region = "eu-west-1";
    endpoint.host_header = "bedrock-runtime.eu-west-1.amazonaws.com";
    endpoint.path_prefix = "/gw";
    endpoint.extra_headers = {{"X-Team", "search"}};
    const WireRequest request =
        make_bedrock_protocol()->build_request(sample_prompt(), params(true), endpoint);
    EXPECT_EQ(header(request, "X-Amz-Date"), "20150830T123600Z");
    EXPECT_EQ(header(request, "X-Amz-Security-Token"), "tok");
    const std::string authorization = header(request, "Authorization");
    EXPECT_TRUE(authorization.starts_with(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-west-1/bedrock/aws4_request, "
        "SignedHeaders=accept;content-type;host;x-amz-date;x-amz-security-token;x-team, "
        "Signature="))
        << authorization;

    EXPECT_EQ(authorization, authorization_as_received(request, endpoint, credentials));
}

// Temporary credentials change under a running upstream: each request is signed with the set
// the provider holds when it is built.
TEST(BedrockRequest, SignsWithTheProvidersCurrentCredentials) {
    using namespace std::chrono_literals;
    const auto now = std::chrono::system_clock::now();
    http::test::FakeAwsCredentialsServer fake;
    // The first set is due for a refresh 2 s from now (5 min before it expires).
    fake.hand_out({{"ASIAFIRST", "first/secret", "first-token", now + 5min + 2s},
                   {"ASIASECOND", "second/secret", "second-token", now + 1h}});
    http::AwsCredentialSource source;
    source.kind = http::AwsCredentialSourceKind::kContainer;
    source.base_url = fake.url();
    source.target = std::string(http::test::FakeAwsCredentialsServer::kContainerPath);
    http::AwsRefreshOptions refresh;
    refresh.min_delay = 0ms;
    auto provider = http::AwsCredentialsProvider::start(source, refresh);
    ASSERT_TRUE(provider) << provider.error().detail;

    Endpoint endpoint;
    endpoint.aws_credentials = *provider;
    endpoint.aws_region = "us-east-1";
    endpoint.host_header = "bedrock-runtime.us-east-1.amazonaws.com";
    const auto protocol = make_bedrock_protocol();
    WireRequest request = protocol->build_request(sample_prompt(), params(false), endpoint);
    EXPECT_TRUE(header(request, "Authorization")
                    .starts_with("AWS4-HMAC-SHA256 Credential=ASIAFIRST/20150830/us-east-1/"))
        << header(request, "Authorization");
    EXPECT_EQ(header(request, "X-Amz-Security-Token"), "first-token");
    EXPECT_EQ(header(request, "Authorization"),
              authorization_as_received(request, endpoint, {"ASIAFIRST", "first/secret", ""}));

    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while ((*provider)->current()->access_key_id != "ASIASECOND" &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(10ms);
    }
    request = protocol->build_request(sample_prompt(), params(false), endpoint);
    EXPECT_TRUE(header(request, "Authorization")
                    .starts_with("AWS4-HMAC-SHA256 Credential=ASIASECOND/20150830/us-east-1/"))
        << header(request, "Authorization");
    EXPECT_EQ(header(request, "X-Amz-Security-Token"), "second-token");
    EXPECT_EQ(header(request, "Authorization"),
              authorization_as_received(request, endpoint, {"ASIASECOND", "second/secret", ""}));
}

TEST(BedrockCompletion, TextStopReasonUsage) {
    const auto completion = make_bedrock_protocol()->parse_completion(R"({
        "output": {"message": {"role": "assistant",
                               "content": [{"text": "Lamps "}, {"image": {}}, {"text": "glow [1]."}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 31, "outputTokens": 4, "totalTokens": 35},
        "metrics": {"latencyMs": 120}})");
    ASSERT_TRUE(completion) << completion.error().detail;
    EXPECT_EQ(completion->text, "Lamps glow [1].");
    EXPECT_EQ(completion->finish_reason, "end_turn");
    EXPECT_TRUE(completion->usage.reported);
    EXPECT_EQ(completion->usage.prompt_tokens, 31U);
    EXPECT_EQ(completion->usage.completion_tokens, 4U);
}

TEST(BedrockCompletion, MalformedBodiesAreCorrupt) {
    const auto protocol = make_bedrock_protocol();
    for (const char* body : {"",
                             "[]",
                             "{}",
                             R"({"output":{}})",
                             R"({"output":{"message":{"content":"text"}}})",
                             R"({"message":"validation error"})"}) {
        const auto completion = protocol->parse_completion(body);
        ASSERT_FALSE(completion) << body;
        EXPECT_EQ(completion.error().code, core::ErrorCode::kCorrupt);
    }
}

std::string event(std::string_view type, std::string_view payload) {
    std::string out;
    http::append_event_stream_message(out,
                                      {{":event-type", std::string(type)},
                                       {":content-type", "application/json"},
                                       {":message-type", "event"}},
                                      payload);
    return out;
}

std::string sample_stream() {
    return event("messageStart", R"({"role":"assistant"})") +
           event("contentBlockDelta", R"({"contentBlockIndex":0,"delta":{"text":"Lamps"}})") +
           event("contentBlockDelta", R"({"contentBlockIndex":0,"delta":{"text":" glow."}})") +
           event("contentBlockStop", R"({"contentBlockIndex":0})") +
           event("messageStop", R"({"stopReason":"end_turn"})") +
           event("metadata", R"({"usage":{"inputTokens":12,"outputTokens":2},"metrics":{}})");
}

std::vector<StreamEvent> decode(std::string_view bytes) {
    auto decoder = make_bedrock_protocol()->stream_decoder();
    std::vector<StreamEvent> events;
    decoder->feed(bytes, events);
    return events;
}

TEST(BedrockStream, DeltasThenUsageAndDoneAtMetadata) {
    const auto events = decode(sample_stream());
    ASSERT_EQ(events.size(), 4U);
    EXPECT_EQ(events[0].kind, Kind::kDelta);
    EXPECT_EQ(events[0].text, "Lamps");
    EXPECT_EQ(events[1].text, " glow.");
    EXPECT_EQ(events[2].kind, Kind::kUsage);
    EXPECT_EQ(events[2].usage.prompt_tokens, 12U);
    EXPECT_EQ(events[2].usage.completion_tokens, 2U);
    EXPECT_EQ(events[3].kind, Kind::kDone);
}

TEST(BedrockStream, EverySplitGivesTheSameEvents) {
    const std::string bytes = sample_stream();
    const auto whole = decode(bytes);
    for (std::size_t split = 0; split <= bytes.size(); split += 7) {
        auto decoder = make_bedrock_protocol()->stream_decoder();
        std::vector<StreamEvent> events;
        decoder->feed(std::string_view(bytes).substr(0, split), events);
        decoder->feed(std::string_view(bytes).substr(split), events);
        ASSERT_EQ(events.size(), whole.size()) << split;
        for (std::size_t idx = 0; idx < events.size(); ++idx) {
            EXPECT_EQ(events[idx].kind, whole[idx].kind);
            EXPECT_EQ(events[idx].text, whole[idx].text);
        }
    }
}

TEST(BedrockStream, ExceptionIsAnErrorWithItsType) {
    std::string bytes = event("contentBlockDelta", R"({"delta":{"text":"Hi"}})");
    http::append_event_stream_message(bytes,
                                      {{":exception-type", "throttlingException"},
                                       {":content-type", "application/json"},
                                       {":message-type", "exception"}},
                                      R"({"message":"Too many requests, please wait."})");
    const auto events = decode(bytes);
    ASSERT_EQ(events.size(), 2U);
    EXPECT_EQ(events[1].kind, Kind::kError);
    EXPECT_EQ(events[1].text, "throttlingException: Too many requests, please wait.");
}

TEST(BedrockStream, ErrorMessageTypeUsesItsHeaders) {
    std::string bytes;
    http::append_event_stream_message(bytes,
                                      {{":message-type", "error"},
                                       {":error-code", "InternalFailure"},
                                       {":error-message", "boom"}},
                                      "");
    const auto events = decode(bytes);
    ASSERT_EQ(events.size(), 1U);
    EXPECT_EQ(events[0].kind, Kind::kError);
    EXPECT_EQ(events[0].text, "InternalFailure: boom");
}

TEST(BedrockStream, MalformedJsonAndFramingAreErrors) {
    auto events = decode(event("contentBlockDelta", "{not json"));
    ASSERT_EQ(events.size(), 1U);
    EXPECT_EQ(events[0].kind, Kind::kError);

    std::string bytes = sample_stream();
    bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x20);
    auto decoder = make_bedrock_protocol()->stream_decoder();
    std::vector<StreamEvent> out;
    decoder->feed(bytes, out);
    decoder->feed(sample_stream(), out);
    std::size_t errors = 0;
    for (const StreamEvent& e : out) {
        errors += e.kind == Kind::kError ? 1 : 0;
        EXPECT_NE(e.kind, Kind::kDone) << "nothing after the framing broke";
    }
    EXPECT_EQ(errors, 1U);
    EXPECT_NE(out.back().text.find("malformed"), std::string::npos) << out.back().text;
}

TEST(BedrockStream, FramingErrorQuotingRawBytesIsValidUtf8) {
    // A header named "\xff" with an unknown value type (42): the parser's reason quotes the
    // name, and the error text goes into a JSON event for the client.
    std::string headers = "\x01\xff\x2a";
    std::string bytes(12, '\0');
    const auto total = static_cast<std::uint32_t>(16 + headers.size());
    for (int shift = 24, at = 0; shift >= 0; shift -= 8, ++at) {
        bytes[at] = static_cast<char>((total >> shift) & 0xFFU);
        bytes[4 + at] = static_cast<char>((headers.size() >> shift) & 0xFFU);
    }
    std::uint32_t crc = http::crc32(std::string_view(bytes).substr(0, 8));
    for (int shift = 24, at = 8; shift >= 0; shift -= 8, ++at) {
        bytes[at] = static_cast<char>((crc >> shift) & 0xFFU);
    }
    bytes += headers;
    crc = http::crc32(bytes);
    for (int shift = 24; shift >= 0; shift -= 8) {
        bytes += static_cast<char>((crc >> shift) & 0xFFU);
    }
    const auto events = decode(bytes);
    ASSERT_EQ(events.size(), 1U);
    EXPECT_EQ(events[0].kind, Kind::kError);
    EXPECT_NE(events[0].text.find("unknown type 42"), std::string::npos) << events[0].text;
    EXPECT_TRUE(core::is_valid_utf8(events[0].text)) << events[0].text;
}

TEST(BedrockStream, StreamWithoutMetadataIsNotDone) {
    const auto events = decode(event("contentBlockDelta", R"({"delta":{"text":"Hi"}})") +
                               event("messageStop", R"({"stopReason":"end_turn"})"));
    ASSERT_EQ(events.size(), 1U);
    EXPECT_EQ(events[0].kind, Kind::kDelta);
}

TEST(BedrockErrorDetail, MessageField) {
    EXPECT_EQ(WireProtocol::error_detail(
                  R"({"message":"The security token included in the request is invalid."})"),
              "The security token included in the request is invalid.");
}

}  // namespace
}  // namespace ragd::llm
