#include "core/text.hpp"

#include <gtest/gtest.h>

namespace ragd::core {
namespace {

TEST(Text, TrimWhitespaceTakesEveryAsciiSpace) {
    EXPECT_EQ(trim_whitespace(" \t\r\n\v\fvalue with  spaces \r\n"), "value with  spaces");
    EXPECT_EQ(trim_whitespace(" \n\t "), "");
    EXPECT_EQ(trim_whitespace(""), "");
    EXPECT_EQ(trim_whitespace("\xc2\xa0x\xc2\xa0"), "\xc2\xa0x\xc2\xa0");  // bytes, not UTF-8
}

// A header value keeps a CR or LF, so that the caller sees it and refuses the value instead of
// forwarding a line break that trimming hid.
TEST(Text, TrimOwsTakesOnlySpacesAndTabs) {
    EXPECT_EQ(trim_ows(" \t value \t"), "value");
    EXPECT_EQ(trim_ows("\r\nvalue\r\n"), "\r\nvalue\r\n");
    EXPECT_EQ(trim_ows("   "), "");
}

}  // namespace
}  // namespace ragd::core
