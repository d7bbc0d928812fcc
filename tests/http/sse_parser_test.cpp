// SseParser against the WHATWG event-stream rules, fed whole, byte by byte and in random splits.
#include "http/sse_parser.hpp"

#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace ragd::http {
namespace {

using Event = SseParser::Event;

std::vector<Event> parse_whole(std::string_view stream, SseParser* parser_out = nullptr) {
    SseParser parser;
    std::vector<Event> events;
    parser.feed(stream, events);
    if (parser_out != nullptr) {
        *parser_out = parser;
    }
    return events;
}

TEST(SseParser, SimpleEventsWithDefaults) {
    const auto events = parse_whole("data: hello\n\ndata: world\n\n");
    ASSERT_EQ(events.size(), 2U);
    EXPECT_EQ(events[0], (Event{"message", "hello", ""}));
    EXPECT_EQ(events[1], (Event{"message", "world", ""}));
}

TEST(SseParser, EventTypeIdAndMultiLineData) {
    const auto events = parse_whole(
        "event: content_block_delta\nid: 7\ndata: line one\ndata:line two\ndata\n\n"
        "data: next\n\n");
    ASSERT_EQ(events.size(), 2U);
    EXPECT_EQ(events[0], (Event{"content_block_delta", "line one\nline two\n", "7"}));
    // The event type resets after each event; the last event id persists.
    EXPECT_EQ(events[1], (Event{"message", "next", "7"}));
}

TEST(SseParser, LineEndingsCrLfAndCrAndLf) {
    const auto events =
        parse_whole("data: a\r\n\r\ndata: b\r\rdata: c\n\ndata: d\r\ndata: e\r\r\n");
    ASSERT_EQ(events.size(), 4U);
    EXPECT_EQ(events[0].data, "a");
    EXPECT_EQ(events[1].data, "b");
    EXPECT_EQ(events[2].data, "c");
    EXPECT_EQ(events[3].data, "d\ne");
}

TEST(SseParser, CrAndLfSplitAcrossFeedsIsOneLineEnd) {
    SseParser parser;
    std::vector<Event> events;
    parser.feed("data: a\r", events);
    parser.feed("\ndata: b\r", events);
    parser.feed("\n\r", events);
    ASSERT_EQ(events.size(), 1U);
    EXPECT_EQ(events[0].data, "a\nb");
    parser.feed("\n", events);  // an LF right after the dispatching CR belongs to it
    EXPECT_EQ(events.size(), 1U);
    EXPECT_FALSE(parser.has_partial());
}

TEST(SseParser, CommentsAndUnknownFieldsAndRetryAreIgnored) {
    const auto events =
        parse_whole(": keep-alive\n:\ndata: x\nretry: 1000\nfoo: bar\n: another\n\n");
    ASSERT_EQ(events.size(), 1U);
    EXPECT_EQ(events[0], (Event{"message", "x", ""}));
}

TEST(SseParser, OnlyOneLeadingSpaceIsStripped) {
    const auto events = parse_whole("data:  two spaces\ndata:no space\ndata: \n\n");
    ASSERT_EQ(events.size(), 1U);
    EXPECT_EQ(events[0].data, " two spaces\nno space\n");
}

TEST(SseParser, FieldWithoutColonHasEmptyValue) {
    const auto events = parse_whole("data\n\nevent\ndata\ndata\n\nid\ndata: z\n\n");
    ASSERT_EQ(events.size(), 3U);
    EXPECT_EQ(events[0].data, "");
    EXPECT_EQ(events[1].data, "\n");
    EXPECT_EQ(events[1].event, "message");
    EXPECT_EQ(events[2].id, "");
}

TEST(SseParser, EventWithoutDataIsNotDispatched) {
    const auto events = parse_whole("event: ping\n\nid: 3\n\ndata: after\n\n");
    ASSERT_EQ(events.size(), 1U);
    EXPECT_EQ(events[0], (Event{"message", "after", "3"}));
}

TEST(SseParser, IdWithNulIsIgnored) {
    const std::string stream = std::string("id: 1\ndata: a\n\nid: 2") + '\0' + "x\ndata: b\n\n";
    const auto events = parse_whole(stream);
    ASSERT_EQ(events.size(), 2U);
    EXPECT_EQ(events[1].id, "1");
}

TEST(SseParser, LeadingBomIsStrippedOnce) {
    const auto events = parse_whole(
        "\xEF\xBB\xBF"
        "data: a\n\n\xEF\xBB\xBF"
        "data: b\n\n");
    ASSERT_EQ(events.size(), 1U);
    EXPECT_EQ(events[0].data, "a");  // the second BOM makes the field name "\xEF\xBB\xBFdata"

    SseParser parser;
    std::vector<Event> split;
    parser.feed("\xEF", split);
    EXPECT_TRUE(parser.has_partial());
    parser.feed("\xBB", split);
    parser.feed(
        "\xBF"
        "data: c\n\n",
        split);
    ASSERT_EQ(split.size(), 1U);
    EXPECT_EQ(split[0].data, "c");
}

TEST(SseParser, PartialBomPrefixIsContent) {
    const auto events = parse_whole(
        "\xEF\xBB"
        "data: a\n\ndata: b\n\n");
    ASSERT_EQ(events.size(), 1U);  // the first line's field is "\xEF\xBBdata": ignored
    EXPECT_EQ(events[0].data, "b");
}

TEST(SseParser, HasPartialTracksUnfinishedEvents) {
    SseParser parser;
    std::vector<Event> events;
    EXPECT_FALSE(parser.has_partial());
    parser.feed("da", events);
    EXPECT_TRUE(parser.has_partial());
    parser.feed("ta: x\n", events);
    EXPECT_TRUE(parser.has_partial());
    parser.feed("\n", events);
    EXPECT_FALSE(parser.has_partial());
    parser.feed(": comment in prog", events);
    EXPECT_TRUE(parser.has_partial());
    parser.feed("ress\n", events);
    EXPECT_FALSE(parser.has_partial());
    EXPECT_EQ(events.size(), 1U);
}

TEST(SseParser, OversizedEventFailsWithoutGrowing) {
    SseParser parser(64);
    std::vector<Event> events;
    parser.feed("data: small\n\n", events);
    ASSERT_EQ(events.size(), 1U);
    for (int piece_idx = 0; piece_idx < 100 && !parser.failed(); ++piece_idx) {
        parser.feed("data: 0123456789\n", events);
    }
    EXPECT_TRUE(parser.failed());
    EXPECT_NE(parser.error().find("64"), std::string::npos);
    parser.feed("\n\ndata: later\n\n", events);
    EXPECT_EQ(events.size(), 1U);  // nothing more after a failure
    EXPECT_FALSE(parser.has_partial());
}

TEST(SseParser, OversizedLineWithoutNewlineFails) {
    SseParser parser(1024);
    std::vector<Event> events;
    const std::string chunk(100, 'x');
    for (int piece_idx = 0; piece_idx < 20; ++piece_idx) {
        parser.feed(chunk, events);
    }
    EXPECT_TRUE(parser.failed());
}

TEST(SseParser, LongCommentsAreNotBuffered) {
    SseParser parser(64);
    std::vector<Event> events;
    parser.feed(":", events);
    for (int piece_idx = 0; piece_idx < 100; ++piece_idx) {
        parser.feed(std::string(100, 'c'), events);
    }
    parser.feed("\ndata: ok\n\n", events);
    EXPECT_FALSE(parser.failed());
    ASSERT_EQ(events.size(), 1U);
    EXPECT_EQ(events[0].data, "ok");
}

TEST(SseParser, ExactLimitIsAccepted) {
    // "data: " + 10 bytes = 16 bytes held for the line; then 11 bytes of data buffer.
    SseParser parser(16);
    std::vector<Event> events;
    parser.feed("data: 0123456789\n\n", events);
    EXPECT_FALSE(parser.failed());
    ASSERT_EQ(events.size(), 1U);
    SseParser smaller(15);
    smaller.feed("data: 0123456789\n\n", events);
    EXPECT_TRUE(smaller.failed());
}

const std::string kMixedStream =
    "\xEF\xBB\xBF: stream opened\r\n"
    "event: message_start\r\n"
    "data: {\"type\":\"message_start\"}\r\n\r\n"
    "id: 42\n"
    "data: first\n"
    "data:  second\n"
    "retry: 3000\n\n"
    "event: delta\r"
    "data: {\"text\":\"caf\xC3\xA9\"}\r\r"
    ": ping\n"
    "data\n\n"
    "data: [DONE]\n\n"
    "data: unfinished";

TEST(SseParser, ByteByByteEqualsWhole) {
    SseParser whole_parser;
    const auto whole = parse_whole(kMixedStream, &whole_parser);
    ASSERT_EQ(whole.size(), 5U);
    EXPECT_EQ(whole[0], (Event{"message_start", "{\"type\":\"message_start\"}", ""}));
    EXPECT_EQ(whole[1], (Event{"message", "first\n second", "42"}));
    EXPECT_EQ(whole[2], (Event{"delta", "{\"text\":\"caf\xC3\xA9\"}", "42"}));
    EXPECT_EQ(whole[3], (Event{"message", "", "42"}));
    EXPECT_EQ(whole[4], (Event{"message", "[DONE]", "42"}));
    EXPECT_TRUE(whole_parser.has_partial());

    SseParser parser;
    std::vector<Event> events;
    for (const char byte : kMixedStream) {
        parser.feed(std::string_view(&byte, 1), events);
    }
    EXPECT_EQ(events, whole);
    EXPECT_TRUE(parser.has_partial());
}

TEST(SseParser, RandomSplitsEqualWhole) {
    const auto whole = parse_whole(kMixedStream);
    std::mt19937 random(12345);
    for (int trial_idx = 0; trial_idx < 500; ++trial_idx) {
        SseParser parser;
        std::vector<Event> events;
        std::size_t offset = 0;
        while (offset < kMixedStream.size()) {
            std::uniform_int_distribution<std::size_t> length(0, 12);
            const std::size_t piece = std::min(length(random), kMixedStream.size() - offset);
            parser.feed(std::string_view(kMixedStream).substr(offset, piece), events);
            offset += piece;
        }
        ASSERT_EQ(events, whole) << "trial " << trial_idx;
    }
}

}  // namespace
}  // namespace ragd::http
