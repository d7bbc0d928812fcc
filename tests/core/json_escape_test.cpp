#include "core/json_escape.hpp"

#include <random>

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace ragd::core {
namespace {

TEST(AppendJsonEscaped, EscapesQuotesBackslashesAndControls) {
    std::string out;
    append_json_escaped(out, "a\"b\\c\nd\x01 é");
    EXPECT_EQ(out, "a\\\"b\\\\c\\nd\\u0001 é");
    EXPECT_EQ(boost::json::parse("\"" + out + "\"").as_string(), "a\"b\\c\nd\x01 é");
}

TEST(AppendJsonEscaped, AppendsAfterWhatIsThereAndCopiesPlainTextWhole) {
    std::string out = "{\"q\":\"";
    append_json_escaped(out, "plain text\twith tab\r\x1f");
    EXPECT_EQ(out, "{\"q\":\"plain text\\twith tab\\r\\u001f");
    std::string empty;
    append_json_escaped(empty, "");
    EXPECT_EQ(empty, "");
}

/// The escaping rule one byte at a time, to check the 8-bytes-at-a-time scan against.
std::string escaped_bytewise(std::string_view text) {
    std::string out;
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else if (byte < 0x20) {
            static constexpr char kHex[] = "0123456789abcdef";
            out += "\\u00";
            out += kHex[byte >> 4U];
            out += kHex[byte & 0xfU];
        } else {
            out += c;
        }
    }
    return out;
}

TEST(AppendJsonEscaped, EveryByteValueAtEveryOffsetOfAWordIsEscapedLikeOneByteAtATime) {
    // Plain runs of every length around one special byte, so the byte lands at every position
    // of the 8-byte words the scan reads, and in the tail after the last whole word.
    for (int value = 0; value < 256; ++value) {
        for (std::size_t before = 0; before < 20; ++before) {
            std::string text(before, 'a');
            text += static_cast<char>(value);
            text += std::string(7, 'b');
            std::string out;
            append_json_escaped(out, text);
            ASSERT_EQ(out, escaped_bytewise(text)) << "byte " << value << " after " << before;
        }
    }
}

TEST(AppendJsonEscaped, RandomTextWithUtf8AndControlsMatchesTheBytewiseRule) {
    std::mt19937 rng(7);
    const std::string alphabet = "abc xyz.\"\\\n\t\x01\x1f\x7f\xc3\xa9\xe6\x97\xa5";
    for (int round = 0; round < 2000; ++round) {
        std::string text;
        const std::size_t length = rng() % 100;
        for (std::size_t i = 0; i < length; ++i) {
            text += alphabet[rng() % alphabet.size()];
        }
        std::string out = "prefix";
        append_json_escaped(out, text);
        ASSERT_EQ(out, "prefix" + escaped_bytewise(text));
    }
}

}  // namespace
}  // namespace ragd::core
