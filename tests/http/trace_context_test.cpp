// W3C Trace Context: the spec's examples parse, its invalid forms do not, ragd continues a valid
// trace with its own span as the upstream parent, and starts a new trace otherwise.
#include "http/trace_context.hpp"

#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace ragd::http {
namespace {

// The example from the spec (section 3.2.2.x / "traceparent" examples).
constexpr std::string_view kSpecExample = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// A deterministic random source: returns the given words in turn, then repeats the last.
RandomBits sequence(std::vector<std::uint64_t> words) {
    auto state =
        std::make_shared<std::pair<std::vector<std::uint64_t>, std::size_t>>(std::move(words), 0);
    return [state] {
        auto& [values, next] = *state;
        const std::uint64_t value = values[std::min(next, values.size() - 1)];
        ++next;
        return value;
    };
}

TEST(ParseTraceparent, SpecExamples) {
    auto parsed = parse_traceparent(kSpecExample);
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(parsed->version, 0);
    EXPECT_EQ(parsed->trace_id_view(), "4bf92f3577b34da6a3ce929d0e0e4736");
    EXPECT_EQ(parsed->parent_id_view(), "00f067aa0ba902b7");
    EXPECT_EQ(parsed->flags, 0x01);

    parsed = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(parsed->flags, 0x00);

    // Optional whitespace around a header value is not part of it.
    EXPECT_TRUE(
        parse_traceparent(std::string(" \t") + std::string(kSpecExample) + " ").has_value());
}

TEST(ParseTraceparent, LaterVersionsAreReadByTheVersion00Layout) {
    auto parsed = parse_traceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(parsed->version, 0xcc);
    parsed = parse_traceparent(
        "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-will-add");
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(parsed->trace_id_view(), "4bf92f3577b34da6a3ce929d0e0e4736");
    // ...but the extra data must be '-'-separated.
    EXPECT_FALSE(
        parse_traceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x").has_value());
}

TEST(ParseTraceparent, InvalidForms) {
    const std::vector<std::string> invalid = {
        "",
        "00",
        // version ff is forbidden; version 00 has nothing after the flags
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 x",
        // all-zero ids
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        // upper-case hex, non-hex, wrong lengths, wrong separators
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
        "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e47366-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
        "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nX-Injected: 1",
        "00--4bf92f3577b34da6a3ce929d0e0e473600f067aa0ba902b7-01",
    };
    for (const std::string& header : invalid) {
        EXPECT_FALSE(parse_traceparent(header).has_value()) << header;
    }
}

TEST(NormalizeTracestate, ValidListsAreCarriedWithoutOptionalWhitespace) {
    EXPECT_EQ(normalize_tracestate("congo=t61rcWkgMzE"), "congo=t61rcWkgMzE");
    EXPECT_EQ(normalize_tracestate("rojo=00f067aa0ba902b7, congo=t61rcWkgMzE"),
              "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    EXPECT_EQ(normalize_tracestate("fw529a3039@dt=abc, ,,  tenant1@sys=v a l"),
              "fw529a3039@dt=abc,tenant1@sys=v a l");
    EXPECT_EQ(normalize_tracestate(""), "");
}

TEST(NormalizeTracestate, InvalidOrOversizedListsAreDroppedWhole) {
    EXPECT_FALSE(normalize_tracestate("Congo=upper").has_value());
    EXPECT_FALSE(normalize_tracestate("congo").has_value());
    EXPECT_FALSE(normalize_tracestate("congo=").has_value());
    EXPECT_FALSE(normalize_tracestate("congo=a=b").has_value());
    EXPECT_FALSE(normalize_tracestate("1abc=x").has_value());  // simple keys start with a letter
    EXPECT_FALSE(normalize_tracestate("rojo=ok,congo=\x7f").has_value());
    EXPECT_FALSE(normalize_tracestate("rojo=ok\r\nx=y").has_value());

    std::string members;
    for (int member_idx = 0; member_idx < 33; ++member_idx) {
        members +=
            (member_idx > 0 ? "," : "") + std::string("k") + std::to_string(member_idx) + "=v";
    }
    EXPECT_FALSE(normalize_tracestate(members).has_value()) << "33 members";
    members = members.substr(0, members.rfind(','));
    EXPECT_TRUE(normalize_tracestate(members).has_value()) << "32 members";

    const std::string at_limit = "k=" + std::string(kMaxTracestateBytes - 2, 'v').substr(0, 256);
    EXPECT_TRUE(normalize_tracestate(at_limit).has_value());
    std::string too_long;
    while (too_long.size() <= kMaxTracestateBytes) {
        too_long += (too_long.empty() ? "" : ",") + std::string("key") +
                    std::to_string(too_long.size()) + "=" + std::string(20, 'v');
    }
    EXPECT_FALSE(normalize_tracestate(too_long).has_value());
}

TEST(TraceContext, ContinuesAValidTraceWithItsOwnSpan) {
    const auto context = TraceContext::from_headers(
        kSpecExample, "rojo=00f067aa0ba902b7", sequence({0x0123456789abcdefULL}));
    EXPECT_TRUE(context.continued());
    EXPECT_EQ(context.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
    EXPECT_EQ(context.parent_id(), "00f067aa0ba902b7");
    EXPECT_EQ(context.span_id(), "fedcba9876543210");
    EXPECT_TRUE(context.sampled());
    EXPECT_EQ(context.tracestate(), "rojo=00f067aa0ba902b7");
    // Upstream sees the same trace with ragd's span as its parent.
    EXPECT_EQ(context.traceparent(), "00-4bf92f3577b34da6a3ce929d0e0e4736-fedcba9876543210-01");
    EXPECT_TRUE(parse_traceparent(context.traceparent()).has_value());
}

TEST(TraceContext, CarriesOnlyTheSampledFlag) {
    const auto context = TraceContext::from_headers(
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff", "", thread_random_bits);
    EXPECT_EQ(context.flags(), 0x01);
    EXPECT_TRUE(context.traceparent().ends_with("-01"));
}

TEST(TraceContext, StartsANewTraceWhenAbsentOrInvalidAndIgnoresTracestate) {
    for (std::string_view header :
         {std::string_view{}, std::string_view{"00-zz-00f067aa0ba902b7-01"}}) {
        const auto context =
            TraceContext::from_headers(header, "rojo=00f067aa0ba902b7", sequence({1, 2, 3}));
        EXPECT_FALSE(context.continued());
        EXPECT_EQ(context.trace_id(), "10000000000000002000000000000000");
        EXPECT_EQ(context.span_id(), "3000000000000000");
        EXPECT_EQ(context.parent_id(), "");
        EXPECT_EQ(context.flags(), 0);
        EXPECT_EQ(context.tracestate(), "");
        EXPECT_EQ(context.traceparent(), "00-10000000000000002000000000000000-3000000000000000-00");
    }
}

TEST(TraceContext, NeverEmitsAllZeroIds) {
    const auto context = TraceContext::from_headers("", "", sequence({0}));
    EXPECT_NE(context.trace_id(), std::string(32, '0'));
    EXPECT_NE(context.span_id(), std::string(16, '0'));
    EXPECT_TRUE(parse_traceparent(context.traceparent()).has_value());
}

TEST(TraceContext, RandomIdsAreWellFormedAndDistinct) {
    const std::regex shape("00-[0-9a-f]{32}-[0-9a-f]{16}-00");
    const auto first = TraceContext::from_headers("", "");
    const auto second = TraceContext::from_headers("", "");
    EXPECT_TRUE(std::regex_match(first.traceparent(), shape)) << first.traceparent();
    EXPECT_NE(first.trace_id(), second.trace_id());
    EXPECT_NE(first.span_id(), second.span_id());
}

}  // namespace
}  // namespace ragd::http
