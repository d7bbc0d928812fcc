// UTF-8 validation, repair (maximal-subpart substitution) and boundary finding.
#include "core/utf8.hpp"

#include <string>

#include <gtest/gtest.h>

namespace ragd::core {
namespace {

const std::string kFffd(kReplacementChar);

TEST(Utf8Test, ValidTextIsUnchanged) {
    const std::string text =
        "plain ASCII, caf\xC3\xA9, \xE2\x82\xAC, \xF0\x9F\x98\x80 and more text";
    EXPECT_TRUE(is_valid_utf8(text));
    EXPECT_EQ(sanitize_utf8(text), text);
    EXPECT_TRUE(is_valid_utf8(""));
    EXPECT_EQ(sanitize_utf8(""), "");
}

TEST(Utf8Test, SequenceLengths) {
    EXPECT_EQ(utf8_sequence_length("a"), 1u);
    EXPECT_EQ(utf8_sequence_length("\xC3\xA9"), 2u);
    EXPECT_EQ(utf8_sequence_length("\xE2\x82\xAC"), 3u);
    EXPECT_EQ(utf8_sequence_length("\xF0\x9F\x98\x80"), 4u);
    EXPECT_EQ(utf8_sequence_length("\xC0\xAF"), 0u);          // overlong '/'
    EXPECT_EQ(utf8_sequence_length("\xED\xA0\x80"), 0u);      // surrogate D800
    EXPECT_EQ(utf8_sequence_length("\xF4\x90\x80\x80"), 0u);  // > U+10FFFF
    EXPECT_EQ(utf8_sequence_length("\xE2\x82"), 0u);          // truncated
    EXPECT_EQ(utf8_sequence_length(""), 0u);
}

TEST(Utf8Test, InvalidBytesBecomeReplacementCharacters) {
    EXPECT_FALSE(is_valid_utf8("abc\xFF"));
    EXPECT_EQ(sanitize_utf8("abc\xFF"), "abc" + kFffd);
    EXPECT_EQ(sanitize_utf8("\xFF\xFE"), kFffd + kFffd);
    // A truncated sequence is one maximal subpart: one replacement, then the next character.
    EXPECT_EQ(sanitize_utf8("x\xE2\x82y"), "x" + kFffd + "y");
    // A lone continuation byte, an overlong and a surrogate.
    EXPECT_EQ(sanitize_utf8("\x80"), kFffd);
    EXPECT_EQ(sanitize_utf8("\xC0\xAF"), kFffd + kFffd);
    EXPECT_EQ(sanitize_utf8("\xED\xA0\x80"), kFffd + kFffd + kFffd);
    // Truncated at the very end of the input.
    EXPECT_EQ(sanitize_utf8("ok\xF0\x9F\x98"), "ok" + kFffd);
    EXPECT_TRUE(is_valid_utf8(sanitize_utf8("\xC3\x28\xA0\xA1\xE2\x28\xA1\xF0\x28\x8C\xBC")));
}

TEST(Utf8Test, LongAsciiPrefixesTakeTheFastPath) {
    std::string text(1000, 'a');
    text += "\xC3\xA9";
    text += std::string(1000, 'b');
    EXPECT_TRUE(is_valid_utf8(text));
    text[1500] = '\xFF';
    EXPECT_FALSE(is_valid_utf8(text));
    EXPECT_EQ(sanitize_utf8(text).size(), text.size() + 2);
}

TEST(Utf8Test, FloorBoundaryNeverLandsInsideASequence) {
    const std::string text =
        "a\xF0\x9F\x98\x80"
        "b";
    EXPECT_EQ(utf8_floor_boundary(text, 0), 0u);
    EXPECT_EQ(utf8_floor_boundary(text, 1), 1u);
    EXPECT_EQ(utf8_floor_boundary(text, 2), 1u);
    EXPECT_EQ(utf8_floor_boundary(text, 4), 1u);
    EXPECT_EQ(utf8_floor_boundary(text, 5), 5u);
    EXPECT_EQ(utf8_floor_boundary(text, 99), text.size());
}

}  // namespace
}  // namespace ragd::core
