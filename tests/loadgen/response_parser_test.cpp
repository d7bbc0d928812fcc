// The lean response parser: framing by Content-Length, chunked and close; SSE detection; interim
// responses; errors; and the same results however the bytes are split across reads.
#include "loadgen/response_parser.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace ragd::loadgen {
namespace {

struct Outcome {
    ResponseParser::State state;
    int status;
    bool keep_alive;
    bool event_stream;
    bool saw_sse_data;
    std::uint64_t body_bytes;
    std::size_t used;  // bytes consumed in total

    bool operator==(const Outcome&) const = default;
};

std::ostream& operator<<(std::ostream& out, const Outcome& o) {
    return out << "state=" << static_cast<int>(o.state) << " status=" << o.status
               << " keep_alive=" << o.keep_alive << " sse=" << o.saw_sse_data
               << " body=" << o.body_bytes << " used=" << o.used;
}

Outcome outcome(const ResponseParser& parser, std::size_t used) {
    return Outcome{parser.state(),
                   parser.status(),
                   parser.keep_alive(),
                   parser.event_stream(),
                   parser.saw_sse_data(),
                   parser.body_bytes(),
                   used};
}

// Feeds `pieces` in order, stopping once the response is done; `eof` closes afterwards.
Outcome parse_pieces(const std::vector<std::string>& pieces, bool eof = false, bool head = false) {
    ResponseParser parser;
    parser.reset(head);
    std::size_t used = 0;
    for (const auto& piece : pieces) {
        if (parser.complete() || parser.failed()) {
            break;
        }
        used += parser.feed(piece);
    }
    if (eof) {
        parser.finish_on_eof();
    }
    return outcome(parser, used);
}

Outcome parse(std::string_view bytes, bool eof = false, bool head = false) {
    return parse_pieces({std::string(bytes)}, eof, head);
}

// The outcome must not depend on where reads split the bytes: every split into two pieces, and
// one byte at a time.
void expect_split_invariant(std::string_view bytes, bool eof = false) {
    const Outcome whole = parse(bytes, eof);
    for (std::size_t split = 0; split <= bytes.size(); ++split) {
        EXPECT_EQ(parse_pieces(
                      {std::string(bytes.substr(0, split)), std::string(bytes.substr(split))}, eof),
                  whole)
            << "split at " << split;
    }
    std::vector<std::string> bytewise;
    for (const char c : bytes) {
        bytewise.emplace_back(1, c);
    }
    EXPECT_EQ(parse_pieces(bytewise, eof), whole) << "byte by byte";
}

constexpr std::string_view kLengthResponse =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n"
    "{\"status\":\"ok\"}";

constexpr std::string_view kChunkedResponse =
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    "5;name=value\r\nhello\r\n"
    "1A\r\nabcdefghijklmnopqrstuvwxyz\r\n"
    "0\r\nX-Trailer: yes\r\n\r\n";

constexpr std::string_view kSseResponse =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
    "Transfer-Encoding: chunked\r\n\r\n"
    "e\r\n: keep-alive\r\n\r\n"
    "e\r\nevent: start\n\n\r\n"
    "12\r\ndata: {\"t\":\"hi\"}\n\n\r\n"
    "e\r\ndata: [DONE]\n\n\r\n"
    "0\r\n\r\n";

TEST(ResponseParser, ContentLength) {
    const auto result = parse(kLengthResponse);
    EXPECT_EQ(result.state, ResponseParser::State::kComplete);
    EXPECT_EQ(result.status, 200);
    EXPECT_TRUE(result.keep_alive);
    EXPECT_EQ(result.body_bytes, 15U);
    EXPECT_EQ(result.used, kLengthResponse.size());
    expect_split_invariant(kLengthResponse);
}

TEST(ResponseParser, StopsAtTheEndOfTheResponse) {
    const auto result = parse(std::string(kLengthResponse) + "HTTP/1.1 200 OK\r\n");
    EXPECT_EQ(result.state, ResponseParser::State::kComplete);
    EXPECT_EQ(result.used, kLengthResponse.size());
}

TEST(ResponseParser, Chunked) {
    const auto result = parse(kChunkedResponse);
    EXPECT_EQ(result.state, ResponseParser::State::kComplete);
    EXPECT_EQ(result.body_bytes, 5U + 26U);
    EXPECT_EQ(result.used, kChunkedResponse.size());
    EXPECT_FALSE(result.saw_sse_data);
    expect_split_invariant(kChunkedResponse);
}

TEST(ResponseParser, ChunkedWinsOverContentLength) {
    const std::string bytes =
        "HTTP/1.1 200 OK\r\nContent-Length: 100\r\ntransfer-encoding: gzip, chunked\r\n\r\n"
        "3\r\nabc\r\n0\r\n\r\n";
    const auto result = parse(bytes);
    EXPECT_EQ(result.state, ResponseParser::State::kComplete);
    EXPECT_EQ(result.body_bytes, 3U);
}

TEST(ResponseParser, SseDataLineIsSeen) {
    const auto result = parse(kSseResponse);
    EXPECT_EQ(result.state, ResponseParser::State::kComplete);
    EXPECT_TRUE(result.event_stream);
    EXPECT_TRUE(result.saw_sse_data);
    expect_split_invariant(kSseResponse);
}

TEST(ResponseParser, SseDataIsNoticedBeforeTheStreamEnds) {
    ResponseParser parser;
    parser.reset();
    const auto cut = kSseResponse.find("e\r\ndata: [DONE]");
    const std::string_view first = kSseResponse.substr(0, cut);
    // Up to, but not including, the first data line: not seen yet.
    const auto data_at = first.find("data:");
    parser.feed(first.substr(0, data_at + 4));
    EXPECT_FALSE(parser.saw_sse_data());
    parser.feed(first.substr(data_at + 4));
    EXPECT_TRUE(parser.saw_sse_data());
    EXPECT_EQ(parser.state(), ResponseParser::State::kBody);
}

TEST(ResponseParser, SseDataMustStartALine) {
    const std::string bytes =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 26\r\n\r\n"
        ": data: not a field\nid: 1\n";
    const auto result = parse(bytes);
    EXPECT_EQ(result.state, ResponseParser::State::kComplete);
    EXPECT_FALSE(result.saw_sse_data);
    expect_split_invariant(bytes);
}

TEST(ResponseParser, SseIsOnlyScannedInEventStreams) {
    const std::string bytes = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\ndata: x\n\n";
    EXPECT_FALSE(parse(bytes).saw_sse_data);
}

TEST(ResponseParser, BodyUntilClose) {
    const std::string bytes = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nsome body";
    EXPECT_EQ(parse(bytes).state, ResponseParser::State::kBody);
    const auto result = parse(bytes, /*eof=*/true);
    EXPECT_EQ(result.state, ResponseParser::State::kComplete);
    EXPECT_FALSE(result.keep_alive);
    EXPECT_EQ(result.body_bytes, 9U);
    expect_split_invariant(bytes, /*eof=*/true);
}

TEST(ResponseParser, NoBodyForHeadAnd204And304) {
    EXPECT_EQ(parse("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n").state,
              ResponseParser::State::kComplete);
    EXPECT_EQ(parse("HTTP/1.1 304 Not Modified\r\n\r\n").state, ResponseParser::State::kComplete);
    const auto head = parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", false, true);
    EXPECT_EQ(head.state, ResponseParser::State::kComplete);
    EXPECT_EQ(head.body_bytes, 0U);
    EXPECT_EQ(parse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").state,
              ResponseParser::State::kComplete);
}

TEST(ResponseParser, InterimResponsesAreSkipped) {
    const std::string bytes =
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n" +
        std::string(kLengthResponse);
    const auto result = parse(bytes);
    EXPECT_EQ(result.state, ResponseParser::State::kComplete);
    EXPECT_EQ(result.status, 200);
    EXPECT_EQ(result.used, bytes.size());
    expect_split_invariant(bytes);
}

TEST(ResponseParser, ConnectionHeaders) {
    EXPECT_FALSE(
        parse("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
            .keep_alive);
    EXPECT_FALSE(parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").keep_alive);
    EXPECT_TRUE(
        parse("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n").keep_alive);
    const auto shed = parse("HTTP/1.1 429 Too Many Requests\r\nContent-Length: 2\r\n\r\n{}");
    EXPECT_EQ(shed.status, 429);
    EXPECT_EQ(shed.state, ResponseParser::State::kComplete);
}

TEST(ResponseParser, TruncatedResponsesFailOnEof) {
    ResponseParser parser;
    parser.reset();
    parser.feed(kLengthResponse.substr(0, kLengthResponse.size() - 3));
    parser.finish_on_eof();
    EXPECT_TRUE(parser.failed());
    EXPECT_NE(parser.error().find("body"), std::string::npos);

    parser.reset();
    parser.feed("HTTP/1.1 200 OK\r\nContent-");
    parser.finish_on_eof();
    EXPECT_TRUE(parser.failed());

    parser.reset();
    parser.feed(kChunkedResponse.substr(0, kChunkedResponse.size() - 2));
    parser.finish_on_eof();
    EXPECT_TRUE(parser.failed());
}

TEST(ResponseParser, MalformedResponsesFail) {
    for (const std::string bytes : {
             "HTTP/2 200 OK\r\n\r\n",
             "HTTP/1.1 2x0 OK\r\n\r\n",
             "HTTP/1.1 200OK\r\n\r\n",
             "ICY 200 OK\r\n\r\n",
             "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
             "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
             "HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n",
             "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX",
             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n11111111111111111\r\n",
             "HTTP/1.1 101 Switching Protocols\r\n\r\n",
         }) {
        const auto result = parse(bytes);
        EXPECT_EQ(result.state, ResponseParser::State::kError) << bytes;
    }
    EXPECT_EQ(parse("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n").state,
              ResponseParser::State::kComplete)
        << "the reason phrase is optional";
}

TEST(ResponseParser, OversizedHeadFails) {
    std::string bytes = "HTTP/1.1 200 OK\r\n";
    while (bytes.size() <= ResponseParser::kMaxHeadBytes) {
        bytes += "X-Filler: " + std::string(100, 'x') + "\r\n";
    }
    EXPECT_EQ(parse(bytes).state, ResponseParser::State::kError);
    EXPECT_EQ(parse(bytes + "\r\n").state, ResponseParser::State::kError);
}

TEST(ResponseParser, ResetAllowsReuse) {
    ResponseParser parser;
    parser.reset();
    parser.feed(kSseResponse);
    ASSERT_TRUE(parser.complete());
    parser.reset();
    EXPECT_EQ(parser.state(), ResponseParser::State::kHead);
    EXPECT_FALSE(parser.saw_sse_data());
    EXPECT_EQ(parser.feed(kLengthResponse), kLengthResponse.size());
    EXPECT_TRUE(parser.complete());
    EXPECT_EQ(parser.body_bytes(), 15U);
}

}  // namespace
}  // namespace ragd::loadgen
