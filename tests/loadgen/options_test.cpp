// `ragd bench` argument parsing: durations, lists, URLs, headers, defaults and the request bytes
// the options produce.
#include "loadgen/options.hpp"

#include <gtest/gtest.h>

#include "loadgen/request_builder.hpp"

namespace ragd::loadgen {
namespace {

using namespace std::chrono_literals;

TEST(ParseDuration, UnitsAndBareSeconds) {
    EXPECT_EQ(*parse_duration("30s"), 30s);
    EXPECT_EQ(*parse_duration("250ms"), 250ms);
    EXPECT_EQ(*parse_duration("1.5s"), 1500ms);
    EXPECT_EQ(*parse_duration("2m"), 120s);
    EXPECT_EQ(*parse_duration("1h"), 3600s);
    EXPECT_EQ(*parse_duration("500us"), 500us);
    EXPECT_EQ(*parse_duration("100ns"), 100ns);
    EXPECT_EQ(*parse_duration("0ms"), 0ns);
    EXPECT_EQ(*parse_duration("10"), 10s);
    EXPECT_EQ(*parse_duration(" 5s "), 5s);
}

TEST(ParseDuration, RejectsJunk) {
    for (const char* text : {"", "s", "-5s", "5 s", "5sec", "1e3s", "abc", "5.s5", "99999999h"}) {
        EXPECT_FALSE(parse_duration(text)) << text;
    }
    EXPECT_NE(parse_duration("5x").error().detail.find("5x"), std::string::npos);
}

TEST(ParseNumberList, PositiveNumbers) {
    EXPECT_EQ(*parse_number_list("100,500,1000"), (std::vector<double>{100, 500, 1000}));
    EXPECT_EQ(*parse_number_list("2.5"), (std::vector<double>{2.5}));
    EXPECT_EQ(*parse_number_list(" 1, 2 "), (std::vector<double>{1, 2}));
    EXPECT_FALSE(parse_number_list("100,,200"));
    EXPECT_FALSE(parse_number_list("0"));
    EXPECT_FALSE(parse_number_list("-1"));
    EXPECT_FALSE(parse_number_list("ten"));
}

TEST(ParseUrl, HostPortAndTarget) {
    auto url = *parse_url("http://127.0.0.1:8080/v1/query");
    EXPECT_EQ(url.host, "127.0.0.1");
    EXPECT_EQ(url.port, 8080);
    EXPECT_EQ(url.target, "/v1/query");
    EXPECT_EQ(url.host_header, "127.0.0.1:8080");

    url = *parse_url("http://localhost");
    EXPECT_EQ(url.port, 80);
    EXPECT_EQ(url.target, "/");

    url = *parse_url("http://[::1]:9000/health?x=1");
    EXPECT_EQ(url.host, "::1");
    EXPECT_EQ(url.port, 9000);
    EXPECT_EQ(url.target, "/health?x=1");
    EXPECT_EQ(url.host_header, "[::1]:9000");

    EXPECT_EQ(parse_url("http://h?q=1")->target, "/?q=1");
}

TEST(ParseUrl, RejectsWhatItCannotServe) {
    EXPECT_EQ(parse_url("https://h/").error().code, core::ErrorCode::kUnsupported);
    for (const char* text : {"ftp://h/",
                             "127.0.0.1:8080",
                             "http://",
                             "http://:80/",
                             "http://h:0/",
                             "http://h:70000/",
                             "http://h:80x/",
                             "http://[::1/",
                             "http://u@h/",
                             "http://h/a b"}) {
        EXPECT_FALSE(parse_url(text)) << text;
    }
}

TEST(ParseHeader, NameAndValue) {
    auto header = *parse_header("Authorization: Bearer abc ");
    EXPECT_EQ(header.name, "Authorization");
    EXPECT_EQ(header.value, "Bearer abc");
    EXPECT_EQ(parse_header("X-Empty:")->value, "");
    EXPECT_FALSE(parse_header("no colon"));
    EXPECT_FALSE(parse_header(": value"));
    EXPECT_FALSE(parse_header("Bad Name: v"));
    EXPECT_FALSE(parse_header("X: a\r\nInjected: b"));
}

BenchArgs args_for(std::string url) {
    BenchArgs args;
    args.url = std::move(url);
    return args;
}

TEST(ParseBenchArgs, Defaults) {
    auto options = *parse_bench_args(args_for("http://127.0.0.1:8080/health"), 2);
    EXPECT_EQ(options.method, "GET");
    EXPECT_FALSE(options.body_template);
    ASSERT_EQ(options.levels.size(), 1U);
    EXPECT_EQ(options.levels[0].users, kDefaultUsers);
    EXPECT_EQ(options.levels[0].rate_per_s, 0.0);
    EXPECT_FALSE(options.open_loop);
    EXPECT_EQ(options.duration, 30s);
    EXPECT_EQ(options.timeout, 30s);
    EXPECT_FALSE(options.ramp_up);
    EXPECT_EQ(options.threads, 1U);
    EXPECT_EQ(options.min_success_pct, 95.0);
    EXPECT_EQ(parse_bench_args(args_for("http://h/health"), 8)->threads, 2U);

    options = *parse_bench_args(args_for("http://127.0.0.1:8080/v1/query"), 2);
    EXPECT_EQ(options.method, "POST");
    EXPECT_EQ(*options.body_template, R"({"query": "{query}"})");
}

TEST(ParseBenchArgs, SweepsRatesAndStream) {
    auto args = args_for("http://h/v1/query");
    args.sweep = "100,500,1000";
    args.duration = "2s";
    args.ramp_up = "0s";
    args.think_time = "10ms";
    args.stream = true;
    args.headers = {"X-A: 1", "X-B: 2"};
    args.method = "post";
    args.repeat_fraction = "0.25";
    auto options = *parse_bench_args(args, 2);
    ASSERT_EQ(options.levels.size(), 3U);
    EXPECT_EQ(options.levels[2].users, 1000U);
    EXPECT_EQ(options.duration, 2s);
    EXPECT_EQ(*options.ramp_up, 0s);
    EXPECT_EQ(options.think_time, 10ms);
    EXPECT_EQ(options.method, "POST");
    EXPECT_EQ(*options.body_template, R"({"query": "{query}", "stream": true})");
    EXPECT_EQ(options.headers.size(), 2U);
    EXPECT_EQ(options.repeat_fraction, 0.25);

    args = args_for("http://h/health");
    args.rate = "100,200";
    options = *parse_bench_args(args, 2);
    EXPECT_TRUE(options.open_loop);
    ASSERT_EQ(options.levels.size(), 2U);
    EXPECT_EQ(options.levels[1].rate_per_s, 200.0);
    EXPECT_EQ(options.levels[1].users, kDefaultOpenLoopConnections);
}

TEST(ParseBenchArgs, ListsEveryProblemAtOnce) {
    BenchArgs args;
    args.users = "0";
    args.duration = "forever";
    args.timeout = "0s";
    args.repeat_fraction = "1.5";
    args.min_success = "101";
    args.threads = "0";
    args.headers = {"broken"};
    const auto result = parse_bench_args(args, 2);
    ASSERT_FALSE(result);
    const auto& detail = result.error().detail;
    for (const char* flag : {"--url",
                             "--users",
                             "--duration",
                             "--timeout",
                             "--repeat-fraction",
                             "--min-success",
                             "--threads",
                             "--header"}) {
        EXPECT_NE(detail.find(flag), std::string::npos) << flag << " in " << detail;
    }
}

TEST(ParseBenchArgs, ConflictsAreRefused) {
    auto args = args_for("http://h/x");
    args.users = "5";
    args.sweep = "1,2";
    EXPECT_FALSE(parse_bench_args(args, 2));

    args = args_for("http://h/x");
    args.sweep = "1,2";
    args.rate = "10,20";
    EXPECT_FALSE(parse_bench_args(args, 2));

    args = args_for("http://h/health");
    args.method = "GET";
    args.body_template = "{}";
    EXPECT_FALSE(parse_bench_args(args, 2));

    args = args_for("http://h/health");
    args.users = "2.5";
    EXPECT_FALSE(parse_bench_args(args, 2));
}

TEST(RequestBuilder, GetIsConstant) {
    auto options = *parse_bench_args(args_for("http://127.0.0.1:8080/health"), 2);
    RequestBuilder builder(options);
    ASSERT_TRUE(builder.constant());
    EXPECT_EQ(builder.constant_request(),
              "GET /health HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: ragd-bench\r\n"
              "Accept: */*\r\n\r\n");
}

TEST(RequestBuilder, BodyTemplateWithEscapedQuery) {
    auto args = args_for("http://h:1/v1/query");
    args.headers = {"Authorization: Bearer t", "content-type: application/x-test"};
    auto options = *parse_bench_args(args, 2);
    RequestBuilder builder(options);
    ASSERT_FALSE(builder.constant());
    std::string out = "stale";
    builder.build("say \"hi\"\n\\ok\x01", out);
    const std::string body = R"({"query": "say \"hi\"\n\\ok\u0001"})";
    EXPECT_EQ(out,
              "POST /v1/query HTTP/1.1\r\nHost: h:1\r\nUser-Agent: ragd-bench\r\nAccept: */*\r\n"
              "Authorization: Bearer t\r\ncontent-type: application/x-test\r\n"
              "Content-Length: " +
                  std::to_string(body.size()) + "\r\n\r\n" + body);
}

TEST(RequestSource, UsesTheQueryMix) {
    auto args = args_for("http://h/v1/query");
    args.body_template = "{query}|{query}";
    auto options = *parse_bench_args(args, 2);
    RequestSource source(options, QueryMix({"a", "b"}, 0.0));
    std::string scratch;
    EXPECT_TRUE(source.next(scratch).ends_with("\r\n\r\na|a"));
    EXPECT_TRUE(source.next(scratch).ends_with("\r\n\r\nb|b"));
    EXPECT_TRUE(source.next(scratch).ends_with("\r\n\r\na #2|a #2"));
    EXPECT_EQ(source.requests_built(), 3U);
}

}  // namespace
}  // namespace ragd::loadgen
