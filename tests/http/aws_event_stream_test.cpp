// The AWS event stream framing: CRC-32's check value, a message AWS documents byte for byte,
// round trips split at every byte, and each kind of corruption stopping the parser for good.
#include "http/aws_event_stream.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace ragd::http {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

std::vector<EventStreamMessage> parse_all(std::string_view bytes, EventStreamParser& parser) {
    std::vector<EventStreamMessage> out;
    parser.feed(bytes, out);
    return out;
}

std::string two_messages() {
    std::string bytes;
    append_event_stream_message(bytes,
                                {{":event-type", "contentBlockDelta"},
                                 {":content-type", "application/json"},
                                 {":message-type", "event"}},
                                R"({"delta":{"text":"Hello"},"contentBlockIndex":0})");
    append_event_stream_message(bytes, {{":message-type", "event"}}, "");
    return bytes;
}

TEST(Crc32, CheckValue) {
    EXPECT_EQ(crc32("123456789"), 0xCBF43926U);
    EXPECT_EQ(crc32(""), 0U);
    EXPECT_EQ(crc32("56789", crc32("1234")), 0xCBF43926U);
}

TEST(EventStream, EmptyMessageMatchesTheDocumentedBytes) {
    // The smallest message: 16 bytes, no headers, no payload (AWS's "empty message" test
    // vector: prelude CRC 0x05c248eb, message CRC 0x7d98c8ff).
    std::string bytes;
    append_event_stream_message(bytes, {}, "");
    const std::string expected("\x00\x00\x00\x10\x00\x00\x00\x00\x05\xc2\x48\xeb\x7d\x98\xc8\xff",
                               16);
    EXPECT_EQ(bytes, expected);
    EventStreamParser parser;
    const auto messages = parse_all(bytes, parser);
    ASSERT_EQ(messages.size(), 1U);
    EXPECT_TRUE(messages[0].headers.empty());
    EXPECT_TRUE(messages[0].payload.empty());
}

TEST(EventStream, RoundTripInOnePiece) {
    EventStreamParser parser;
    const auto messages = parse_all(two_messages(), parser);
    ASSERT_EQ(messages.size(), 2U);
    EXPECT_EQ(messages[0].header(":event-type"), "contentBlockDelta");
    EXPECT_EQ(messages[0].header(":message-type"), "event");
    EXPECT_EQ(messages[0].header("absent"), "");
    EXPECT_EQ(messages[0].payload, R"({"delta":{"text":"Hello"},"contentBlockIndex":0})");
    EXPECT_EQ(messages[1].payload, "");
    EXPECT_FALSE(parser.failed());
    EXPECT_FALSE(parser.has_partial());
}

TEST(EventStream, EverySplitGivesTheSameMessages) {
    const std::string bytes = two_messages();
    for (std::size_t split = 0; split <= bytes.size(); ++split) {
        EventStreamParser parser;
        std::vector<EventStreamMessage> out;
        parser.feed(std::string_view(bytes).substr(0, split), out);
        parser.feed(std::string_view(bytes).substr(split), out);
        ASSERT_EQ(out.size(), 2U) << "split at " << split;
        EXPECT_EQ(out[0].payload, R"({"delta":{"text":"Hello"},"contentBlockIndex":0})");
        EXPECT_FALSE(parser.has_partial());
    }
    EventStreamParser parser;
    std::vector<EventStreamMessage> out;
    for (char c : bytes) {
        parser.feed(std::string_view(&c, 1), out);
    }
    ASSERT_EQ(out.size(), 2U);
    EXPECT_EQ(out[0].headers.size(), 3U);
}

TEST(EventStream, PartialMessageIsHeld) {
    const std::string bytes = two_messages();
    EventStreamParser parser;
    const auto messages = parse_all(std::string_view(bytes).substr(0, bytes.size() - 1), parser);
    EXPECT_EQ(messages.size(), 1U);
    EXPECT_TRUE(parser.has_partial());
    EXPECT_FALSE(parser.failed());
}

TEST(EventStream, NonStringHeadersAreSkipped) {
    // Header "n" of type 4 (int32), then ":event-type" (string); built by hand.
    std::string headers;
    headers += '\x01';
    headers += 'n';
    headers += '\x04';
    headers += std::string("\x00\x00\x00\x2a", 4);
    headers += '\x0b';
    headers += ":event-type";
    headers += '\x07';
    headers += std::string("\x00\x01", 2);
    headers += 'x';
    std::string bytes;
    const auto total = static_cast<std::uint32_t>(16 + headers.size() + 2);
    for (int shift = 24; shift >= 0; shift -= 8) {
        bytes += static_cast<char>((total >> shift) & 0xFFU);
    }
    const auto header_length = static_cast<std::uint32_t>(headers.size());
    for (int shift = 24; shift >= 0; shift -= 8) {
        bytes += static_cast<char>((header_length >> shift) & 0xFFU);
    }
    std::uint32_t crc = crc32(bytes);
    for (int shift = 24; shift >= 0; shift -= 8) {
        bytes += static_cast<char>((crc >> shift) & 0xFFU);
    }
    bytes += headers;
    bytes += "{}";
    crc = crc32(bytes);
    for (int shift = 24; shift >= 0; shift -= 8) {
        bytes += static_cast<char>((crc >> shift) & 0xFFU);
    }
    EventStreamParser parser;
    const auto messages = parse_all(bytes, parser);
    ASSERT_EQ(messages.size(), 1U) << parser.error();
    ASSERT_EQ(messages[0].headers.size(), 1U);
    EXPECT_EQ(messages[0].header(":event-type"), "x");
    EXPECT_EQ(messages[0].payload, "{}");
}

TEST(EventStream, CorruptionStopsTheParserForGood) {
    const std::string good = two_messages();
    struct Case {
        std::size_t offset;
        const char* what;
    };
    const Case cases[] = {
        {9, "prelude checksum"},
        {20, "message checksum"},               // inside the headers
        {good.size() - 1, "message checksum"},  // the second message's CRC
    };
    for (const Case& c : cases) {
        std::string bytes = good;
        bytes[c.offset] = static_cast<char>(bytes[c.offset] ^ 0x01);
        EventStreamParser parser;
        std::vector<EventStreamMessage> out;
        parser.feed(bytes, out);
        EXPECT_TRUE(parser.failed()) << c.what;
        EXPECT_NE(parser.error().find(c.what), std::string::npos) << parser.error();
        const std::size_t before = out.size();
        parser.feed(good, out);
        EXPECT_EQ(out.size(), before) << "a failed parser stays failed";
    }
}

TEST(EventStream, OversizedAndUndersizedLengthsFail) {
    std::string bytes;
    append_event_stream_message(bytes, {}, std::string(200, 'x'));
    EventStreamParser small(100);
    std::vector<EventStreamMessage> out;
    small.feed(bytes, out);
    EXPECT_TRUE(small.failed());
    EXPECT_NE(small.error().find("limit"), std::string::npos);
    EXPECT_TRUE(out.empty());

    // A prelude claiming 12 bytes in total (less than a message's minimum), with a valid CRC.
    std::string tiny("\x00\x00\x00\x0c\x00\x00\x00\x00", 8);
    const std::uint32_t crc = crc32(tiny);
    for (int shift = 24; shift >= 0; shift -= 8) {
        tiny += static_cast<char>((crc >> shift) & 0xFFU);
    }
    EventStreamParser parser;
    parser.feed(tiny, out);
    EXPECT_TRUE(parser.failed());
    EXPECT_NE(parser.error().find("invalid"), std::string::npos);
}

}  // namespace
}  // namespace ragd::http
