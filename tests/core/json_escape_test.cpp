#include "core/json_escape.hpp"

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

}  // namespace
}  // namespace ragd::core
