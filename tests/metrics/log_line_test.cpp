// Log line rendering: every line parses as JSON whatever bytes went in, invalid UTF-8 becomes
// U+FFFD, the envelope and access-log keys are as documented, and the text format stays one line.
#include "metrics/log_line.hpp"

#include <array>
#include <chrono>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "metrics/access_log.hpp"

namespace ragd::metrics {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

std::chrono::system_clock::time_point fixed_time() {
    using namespace std::chrono;  // NOLINT(google-build-using-namespace): calendar literals
    return sys_days{2024y / May / 1} + 9h + 30min + 5s + 123ms;
}

/// Parses one line; fails the test (and returns an empty object) when it is not a JSON object.
json::object parse_line(const std::string& line) {
    EXPECT_EQ(line.find('\n'), std::string::npos) << line;
    boost::system::error_code error;
    json::value value = json::parse(line, error);
    EXPECT_FALSE(error) << error.message() << " in: " << line;
    if (error || !value.is_object()) {
        ADD_FAILURE() << "not a JSON object: " << line;
        return {};
    }
    return value.as_object();
}

std::string json_roundtrip(std::string_view text) {
    std::string literal;
    append_json_string(literal, text);
    boost::system::error_code error;
    json::value value = json::parse(literal, error);
    EXPECT_FALSE(error) << error.message() << " in: " << literal;
    if (error || !value.is_string()) {
        return "<unparsable>";
    }
    return std::string(value.as_string());
}

TEST(LogLine, JsonStringKeepsValidUtf8AndEscapesControls) {
    EXPECT_EQ(json_roundtrip("plain"), "plain");
    EXPECT_EQ(json_roundtrip("h\xC3\xA9llo \xE2\x82\xAC \xF0\x9D\x84\x9E"),
              "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9D\x84\x9E");
    EXPECT_EQ(json_roundtrip("quote\" back\\slash"), "quote\" back\\slash");
    EXPECT_EQ(json_roundtrip(std::string_view("nul\0byte", 8)), std::string("nul\0byte", 8));
    EXPECT_EQ(json_roundtrip("line\nbreak\r\ttab\x1b[31mred\x7f"),
              "line\nbreak\r\ttab\x1b[31mred\x7f");

    std::string literal;
    append_json_string(literal, "a\nb\x1b\x7f\xC2\x85\xE2\x80\xA8");
    // Escaped, not raw: one line, and no terminal control or JS line terminator survives.
    EXPECT_EQ(literal, R"("a\nb\u001b\u007f\u0085\u2028")");
}

TEST(LogLine, InvalidUtf8BecomesReplacementCharacters) {
    const std::string kReplacement = "\xEF\xBF\xBD";
    struct Case {
        std::string input;
        std::string expected;
    };
    const std::vector<Case> cases = {
        {"\xFF", kReplacement},
        {"a\xFE"
         "b",
         "a" + kReplacement + "b"},
        {"\x80", kReplacement},                                        // stray continuation
        {"\xC0\xAF", kReplacement + kReplacement},                     // overlong '/'
        {"\xE0\x80\xAF", kReplacement + kReplacement + kReplacement},  // overlong
        {"\xED\xA0\x80", kReplacement + kReplacement + kReplacement},  // surrogate D800
        {"\xF4\x90\x80\x80", kReplacement + kReplacement + kReplacement + kReplacement},
        {"\xF5\x80", kReplacement + kReplacement},
        {"end\xE2\x82", "end" + kReplacement},  // truncated at the end
        {"\xE2\x82x", kReplacement + "x"},      // maximal subpart, then x
        {"\xF0\x9F\x98", kReplacement},
        {"ok\xC3\xA9\xC3", "ok\xC3\xA9" + kReplacement},
    };
    for (const Case& test_case : cases) {
        EXPECT_EQ(json_roundtrip(test_case.input), test_case.expected)
            << "input bytes: " << test_case.input.size();
    }
}

TEST(LogLine, RandomBytesAlwaysGiveAParsableLine) {
    std::mt19937_64 random(20240501);
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_int_distribution<int> length(0, 48);
    for (int round = 0; round < 3000; ++round) {
        std::string hostile;
        const int size = length(random);
        for (int byte_idx = 0; byte_idx < size; ++byte_idx) {
            hostile.push_back(static_cast<char>(byte(random)));
        }
        const std::array<core::LogField, 2> fields = {core::LogField(hostile, hostile),
                                                      core::LogField("n", round)};
        const std::string line =
            format_log_line(LogFormat::kJson, fixed_time(), core::LogLevel::kWarn, hostile, fields);
        const json::object object = parse_line(line);
        EXPECT_EQ(object.at("n").as_int64(), round);
        const std::string text_line =
            format_log_line(LogFormat::kText, fixed_time(), core::LogLevel::kWarn, hostile, fields);
        EXPECT_EQ(text_line.find('\n'), std::string::npos);
        EXPECT_EQ(text_line.find('\x1b'), std::string::npos);
        if (::testing::Test::HasFailure()) {
            return;  // one hostile input is enough to debug
        }
    }
}

TEST(LogLine, TimestampIsRfc3339UtcWithMilliseconds) {
    std::string out;
    append_timestamp(out, fixed_time());
    EXPECT_EQ(out, "2024-05-01T09:30:05.123Z");
    out.clear();
    using namespace std::chrono;  // NOLINT(google-build-using-namespace): calendar literals
    append_timestamp(out, sys_days{2024y / February / 29} + 23h + 59min + 59s + 999ms + 999us);
    EXPECT_EQ(out, "2024-02-29T23:59:59.999Z");
    out.clear();
    append_timestamp(out, sys_days{1970y / January / 1} + 7ms);
    EXPECT_EQ(out, "1970-01-01T00:00:00.007Z");
}

TEST(LogLine, JsonEnvelopeAndFieldTypes) {
    const std::array<core::LogField, 8> fields = {
        core::LogField("path", "/v1/query"),
        core::LogField("count", 3),
        core::LogField("big", std::uint64_t{18446744073709551615ULL}),
        core::LogField("ratio", 0.25),
        core::LogField("nan", std::numeric_limits<double>::quiet_NaN()),
        core::LogField("ok", true),
        core::LogField("absent", std::monostate{}),
        core::LogField("msg", "shadow attempt"),
    };
    const std::string line =
        format_log_line(LogFormat::kJson, fixed_time(), core::LogLevel::kInfo, "hello", fields);
    EXPECT_EQ(line.rfind(R"({"ts":"2024-05-01T09:30:05.123Z","level":"info","msg":"hello",)", 0),
              0u)
        << line;
    const json::object object = parse_line(line);
    EXPECT_EQ(object.at("msg").as_string(), "hello");
    EXPECT_EQ(object.at("field_msg").as_string(), "shadow attempt");
    EXPECT_EQ(object.at("path").as_string(), "/v1/query");
    EXPECT_EQ(object.at("count").as_int64(), 3);
    EXPECT_EQ(object.at("big").as_uint64(), 18446744073709551615ULL);
    EXPECT_DOUBLE_EQ(object.at("ratio").as_double(), 0.25);
    EXPECT_TRUE(object.at("nan").is_null());
    EXPECT_TRUE(object.at("ok").as_bool());
    EXPECT_TRUE(object.at("absent").is_null());
}

TEST(LogLine, TextFormatIsOneReadableLine) {
    const std::array<core::LogField, 4> fields = {
        core::LogField("path", "/v1/query"),
        core::LogField("note", "two words"),
        core::LogField("status", 200),
        core::LogField("cache", std::monostate{}),
    };
    EXPECT_EQ(format_log_line(
                  LogFormat::kText, fixed_time(), core::LogLevel::kWarn, "slow\nrequest", fields),
              R"(2024-05-01T09:30:05.123Z WARN  slow\nrequest path=/v1/query note="two words" )"
              R"(status=200 cache=-)");
}

TEST(AccessLine, HasEveryDocumentedKeyInOrder) {
    AccessLogEntry entry;
    entry.request_id = "req-1";
    entry.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    entry.method = "POST";
    entry.route = "/v1/query";
    entry.target_path = "/v1/query?api_key=secret";
    entry.remote_address = "10.0.0.7";
    entry.generator = "extractive";
    entry.status = 200;
    entry.duration_ms = 12.3456789;
    entry.bytes_in = 42;
    entry.bytes_out = 1234;
    entry.upstream_attempts = 2;
    const std::string line = format_access_line(LogFormat::kJson, fixed_time(), entry);
    const json::object object = parse_line(line);
    std::vector<std::string> keys;
    for (const auto& member : object) {
        keys.emplace_back(member.key());
    }
    const std::vector<std::string> expected = {"ts",
                                               "level",
                                               "msg",
                                               "request_id",
                                               "trace_id",
                                               "method",
                                               "route",
                                               "path",
                                               "status",
                                               "duration_ms",
                                               "bytes_in",
                                               "bytes_out",
                                               "remote",
                                               "cache",
                                               "generator",
                                               "upstream_attempts",
                                               "degraded"};
    EXPECT_EQ(keys, expected);
    EXPECT_EQ(object.at("msg").as_string(), "request");
    EXPECT_EQ(object.at("level").as_string(), "info");
    EXPECT_EQ(object.at("path").as_string(), "/v1/query");  // the query string is never logged
    EXPECT_EQ(line.find("secret"), std::string::npos);
    EXPECT_EQ(object.at("status").as_int64(), 200);
    EXPECT_DOUBLE_EQ(object.at("duration_ms").as_double(), 12.346);
    EXPECT_EQ(object.at("bytes_out").to_number<std::uint64_t>(), 1234u);
    EXPECT_TRUE(object.at("cache").is_null());
    EXPECT_EQ(object.at("upstream_attempts").to_number<std::uint64_t>(), 2u);
    EXPECT_TRUE(object.at("degraded").is_null());
}

TEST(AccessLine, HostileAndHugePathsStayParsableAndBounded) {
    std::string path = "/v1/documents/\xFF\"\n\x1b";
    path.append(10000, 'a');
    AccessLogEntry entry;
    entry.request_id = "r";
    entry.method = "GET";
    entry.route = "/v1/documents/{id}";
    entry.target_path = path;
    entry.status = 404;
    const std::string line = format_access_line(LogFormat::kJson, fixed_time(), entry);
    const json::object object = parse_line(line);
    const std::string logged(object.at("path").as_string());
    EXPECT_LE(logged.size(), kMaxLoggedPathBytes + 8);
    EXPECT_EQ(logged.substr(0, 19), "/v1/documents/\xEF\xBF\xBD\"\n");
    EXPECT_LT(line.size(), 2 * kMaxLoggedPathBytes);
}

}  // namespace
}  // namespace ragd::metrics
