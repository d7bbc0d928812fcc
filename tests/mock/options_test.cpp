// Option parsing, x-mock-* overrides and the seeded error schedule of `ragd mock-llm`.
#include "mock/options.hpp"

#include <gtest/gtest.h>

namespace ragd::mock {
namespace {

TEST(ErrorKinds, ParsesEveryKindAndRejectsOthers) {
    auto kinds = parse_error_kinds("500,429, reset ,stall");
    ASSERT_TRUE(kinds) << kinds.error().detail;
    EXPECT_EQ(*kinds,
              (std::vector<ErrorKind>{ErrorKind::kServerError,
                                      ErrorKind::kRateLimited,
                                      ErrorKind::kReset,
                                      ErrorKind::kStall}));
    for (const ErrorKind kind : *kinds) {
        EXPECT_EQ(*parse_error_kind(error_kind_name(kind)), kind);
    }
    auto bad = parse_error_kinds("500,503");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().detail.find("\"503\""), std::string::npos) << bad.error().detail;
    EXPECT_FALSE(parse_error_kinds(""));
    EXPECT_FALSE(parse_error_kinds("500,"));
}

TEST(ValidateOptions, AcceptsDefaultsAndListsEveryProblem) {
    EXPECT_TRUE(validate_options(MockLlmOptions{}));
    MockLlmOptions options;
    options.listen = "nonsense";
    options.latency_ms = -1;
    options.error_rate = 1.5;
    options.output_tokens = 0;
    options.tokens_per_second = -2;
    auto result = validate_options(options);
    ASSERT_FALSE(result);
    const std::string& detail = result.error().detail;
    for (const char* needle :
         {"nonsense", "--latency-ms", "--error-rate", "--output-tokens", "--tokens-per-second"}) {
        EXPECT_NE(detail.find(needle), std::string::npos) << needle << " missing in: " << detail;
    }
    options = MockLlmOptions{};
    options.error_rate = 0.5;
    options.error_kinds.clear();
    EXPECT_FALSE(validate_options(options));
}

TEST(SplitHostPort, ParsesV4V6AndLocalhost) {
    auto v4 = split_host_port("127.0.0.1:0");
    ASSERT_TRUE(v4);
    EXPECT_EQ(v4->host, "127.0.0.1");
    EXPECT_EQ(v4->port, 0);
    auto v6 = split_host_port("[::1]:8080");
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->host, "::1");
    EXPECT_EQ(v6->port, 8080);
    EXPECT_EQ(split_host_port("localhost:9")->host, "127.0.0.1");
    EXPECT_EQ(split_host_port(":9")->host, "0.0.0.0");
    EXPECT_FALSE(split_host_port("127.0.0.1"));
    EXPECT_FALSE(split_host_port("127.0.0.1:65536"));
    EXPECT_FALSE(split_host_port("::1:80"));
    EXPECT_FALSE(split_host_port("host:12x"));
}

TEST(Overrides, ParsesEachHeaderAndNamesTheBadOne) {
    auto overrides = parse_overrides(OverrideHeaders{"250", "12.5", "stall", "7"});
    ASSERT_TRUE(overrides) << overrides.error().detail;
    EXPECT_EQ(overrides->latency_ms, 250);
    EXPECT_DOUBLE_EQ(*overrides->tokens_per_second, 12.5);
    EXPECT_EQ(overrides->error, ErrorKind::kStall);
    EXPECT_EQ(overrides->output_tokens, 7U);

    auto none = parse_overrides(OverrideHeaders{std::nullopt, std::nullopt, "none", std::nullopt});
    ASSERT_TRUE(none);
    EXPECT_TRUE(none->force_no_error);
    EXPECT_FALSE(none->error);

    auto bad_latency = parse_overrides(OverrideHeaders{"-5", std::nullopt, std::nullopt, {}});
    ASSERT_FALSE(bad_latency);
    EXPECT_NE(bad_latency.error().detail.find("x-mock-latency-ms"), std::string::npos);
    auto bad_error = parse_overrides(OverrideHeaders{std::nullopt, std::nullopt, "boom", {}});
    ASSERT_FALSE(bad_error);
    EXPECT_NE(bad_error.error().detail.find("x-mock-error"), std::string::npos);
    EXPECT_FALSE(parse_overrides(OverrideHeaders{std::nullopt, "fast", std::nullopt, {}}));
    EXPECT_FALSE(parse_overrides(OverrideHeaders{std::nullopt, std::nullopt, std::nullopt, "0"}));
}

TEST(ErrorSchedule, IsDeterministicAndHonoursTheRate) {
    const std::vector<ErrorKind> kinds{ErrorKind::kServerError, ErrorKind::kRateLimited};
    const ErrorSchedule schedule(42, 0.25, kinds);
    const ErrorSchedule same(42, 0.25, kinds);
    const ErrorSchedule other_seed(43, 0.25, kinds);
    int errors = 0;
    int rate_limited = 0;
    int differences = 0;
    constexpr int kRequests = 20000;
    for (int index = 0; index < kRequests; ++index) {
        const auto pick = schedule.pick(static_cast<std::uint64_t>(index));
        EXPECT_EQ(pick, same.pick(static_cast<std::uint64_t>(index)));
        differences += pick != other_seed.pick(static_cast<std::uint64_t>(index)) ? 1 : 0;
        errors += pick ? 1 : 0;
        rate_limited += pick == ErrorKind::kRateLimited ? 1 : 0;
    }
    EXPECT_NEAR(errors, kRequests / 4.0, kRequests / 40.0);
    EXPECT_NEAR(rate_limited, errors / 2.0, errors / 10.0);
    EXPECT_GT(differences, kRequests / 10);

    const ErrorSchedule never(1, 0.0, kinds);
    const ErrorSchedule always(1, 1.0, {ErrorKind::kReset});
    for (std::uint64_t index = 0; index < 1000; ++index) {
        EXPECT_FALSE(never.pick(index));
        EXPECT_EQ(always.pick(index), ErrorKind::kReset);
    }
}

TEST(PlanRequest, HeadersOverrideOptionsAndTheSchedule) {
    MockLlmOptions options;
    options.latency_ms = 100;
    options.tokens_per_second = 20;
    options.output_tokens = 10;
    const ErrorSchedule always(1, 1.0, {ErrorKind::kServerError});

    RequestPlan plan = plan_request(options, RequestOverrides{}, always, 0);
    EXPECT_EQ(plan.latency, std::chrono::milliseconds(100));
    EXPECT_DOUBLE_EQ(plan.tokens_per_second, 20);
    EXPECT_EQ(plan.output_tokens, 10U);
    EXPECT_EQ(plan.error, ErrorKind::kServerError);

    RequestOverrides overrides;
    overrides.latency_ms = 5;
    overrides.tokens_per_second = 0;
    overrides.output_tokens = 3;
    overrides.error = ErrorKind::kStall;
    plan = plan_request(options, overrides, always, 0);
    EXPECT_EQ(plan.latency, std::chrono::milliseconds(5));
    EXPECT_DOUBLE_EQ(plan.tokens_per_second, 0);
    EXPECT_EQ(plan.output_tokens, 3U);
    EXPECT_EQ(plan.error, ErrorKind::kStall);

    RequestOverrides none;
    none.force_no_error = true;
    EXPECT_FALSE(plan_request(options, none, always, 0).error);
}

}  // namespace
}  // namespace ragd::mock
