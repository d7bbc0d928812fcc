#include "core/json_writer.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace ragd::core {
namespace {

namespace json = boost::json;

TEST(JsonWriter, WritesNestedValuesWithCommasOnlyBetweenSiblings) {
    std::string out;
    JsonWriter writer(out);
    writer.begin_object()
        .member("name", "ragd")
        .key("n")
        .integer(-3)
        .key("empty_object")
        .begin_object()
        .end_object()
        .key("empty_array")
        .begin_array()
        .end_array()
        .key("list")
        .begin_array()
        .integer(1)
        .string("two")
        .null()
        .boolean(false)
        .begin_object()
        .key("deep")
        .boolean(true)
        .end_object()
        .end_array()
        .key("after")
        .unsigned_integer(7)
        .end_object();
    EXPECT_EQ(out,
              "{\"name\":\"ragd\",\"n\":-3,\"empty_object\":{},\"empty_array\":[],"
              "\"list\":[1,\"two\",null,false,{\"deep\":true}],\"after\":7}");
    EXPECT_EQ(json::parse(out),
              json::parse(R"({"name":"ragd","n":-3,"empty_object":{},"empty_array":[],
                              "list":[1,"two",null,false,{"deep":true}],"after":7})"));
}

TEST(JsonWriter, AppendsAfterWhatTheStringHolds) {
    std::string out = "data: ";
    JsonWriter(out).begin_array().string("x").end_array();
    EXPECT_EQ(out, "data: [\"x\"]");
}

TEST(JsonWriter, EscapesKeysAndStringsSoTheyReadBackUnchanged) {
    const std::string nasty = "quote \" backslash \\ newline \n tab \t nul " +
                              std::string(1, '\0') + " bell \x07 unicode é 日本 😀 slash /";
    std::string out;
    JsonWriter(out).begin_object().member(nasty, nasty).end_object();
    const json::object parsed = json::parse(out).as_object();
    ASSERT_EQ(parsed.size(), 1U);
    EXPECT_EQ(std::string(parsed.begin()->key()), nasty);
    EXPECT_EQ(parsed.begin()->value().as_string(), nasty);
}

TEST(JsonWriter, IntegersKeepTheirFullRange) {
    std::string out;
    JsonWriter(out)
        .begin_array()
        .integer(std::numeric_limits<std::int64_t>::min())
        .integer(std::numeric_limits<std::int64_t>::max())
        .unsigned_integer(std::numeric_limits<std::uint64_t>::max())
        .integer(0)
        .end_array();
    const json::array parsed = json::parse(out).as_array();
    EXPECT_EQ(parsed[0].as_int64(), std::numeric_limits<std::int64_t>::min());
    EXPECT_EQ(parsed[1].as_int64(), std::numeric_limits<std::int64_t>::max());
    EXPECT_EQ(parsed[2].as_uint64(), std::numeric_limits<std::uint64_t>::max());
    EXPECT_EQ(parsed[3].as_int64(), 0);
}

TEST(JsonWriter, DoublesReadBackToTheSameValue) {
    std::mt19937_64 rng(42);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    std::vector<double> values = {0.0,
                                  -0.0,
                                  1.0,
                                  0.5,
                                  0.1,
                                  1e-300,
                                  1.7976931348623157e308,
                                  -2.5e-7,
                                  123456789.125,
                                  0.0259067357512953};
    for (int i = 0; i < 1000; ++i) {
        values.push_back(std::ldexp(unit(rng) - 0.5, static_cast<int>(rng() % 200) - 100));
    }
    // Read back with from_chars, which rounds correctly (Boost.JSON 1.81's default parser is
    // off by an ulp on some inputs); Boost.JSON still has to accept the text as a number.
    for (double value : values) {
        std::string text;
        JsonWriter(text).number(value);
        double read = 0;
        const auto result = std::from_chars(text.data(), text.data() + text.size(), read);
        ASSERT_EQ(result.ptr, text.data() + text.size()) << text;
        EXPECT_EQ(read, value) << text;
        EXPECT_TRUE(json::parse(text).is_number()) << text;
    }
    // The short form people read, not a 17-digit expansion.
    std::string short_form;
    JsonWriter(short_form).number(0.1);
    EXPECT_EQ(short_form, "0.1");
}

TEST(JsonWriter, NonFiniteDoublesBecomeNullSoTheDocumentStaysValid) {
    std::string out;
    JsonWriter(out)
        .begin_array()
        .number(std::numeric_limits<double>::quiet_NaN())
        .number(std::numeric_limits<double>::infinity())
        .number(-std::numeric_limits<double>::infinity())
        .end_array();
    EXPECT_EQ(out, "[null,null,null]");
}

}  // namespace
}  // namespace ragd::core
