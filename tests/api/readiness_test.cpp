// ReadinessRegistry: required checks decide readiness, optional ones only report, draining wins,
// and the JSON body has the documented shape.
#include "api/readiness.hpp"

#include <atomic>
#include <stdexcept>

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace ragd::api {
namespace {

namespace json = boost::json;

ReadinessCheck fixed(CheckStatus status, std::string detail = {}, json::object fields = {}) {
    return [status, detail, fields] {
        return CheckResult{status, detail, fields};
    };
}

TEST(Readiness, EmptyRegistryIsReady) {
    ReadinessRegistry registry;
    const ReadinessReport report = registry.evaluate();
    EXPECT_TRUE(report.ready);
    EXPECT_EQ(json::serialize(report.body), R"({"status":"ready","checks":{}})");
}

TEST(Readiness, BodyShapeHasEveryCheckInOrder) {
    ReadinessRegistry registry;
    registry.add("storage", Requirement::kRequired, fixed(CheckStatus::kOk, {}, {{"seq", 7}}));
    registry.add("upstreams",
                 Requirement::kOptional,
                 fixed(CheckStatus::kDegraded, "breaker open for openai", {{"open", 1}}));
    const ReadinessReport report = registry.evaluate();
    EXPECT_TRUE(report.ready) << "an optional check that is degraded keeps the replica ready";
    EXPECT_EQ(json::serialize(report.body),
              R"({"status":"ready","checks":{)"
              R"("storage":{"status":"ok","required":true,"seq":7},)"
              R"("upstreams":{"status":"degraded","required":false,)"
              R"("detail":"breaker open for openai","open":1}}})");
}

TEST(Readiness, AnyRequiredCheckNotOkMeansNotReady) {
    for (CheckStatus status : {CheckStatus::kDegraded, CheckStatus::kFailing}) {
        ReadinessRegistry registry;
        registry.add("storage", Requirement::kRequired, fixed(CheckStatus::kOk));
        registry.add("indexes", Requirement::kRequired, fixed(status, "lag 3", {{"lag", 3}}));
        const ReadinessReport report = registry.evaluate();
        EXPECT_FALSE(report.ready);
        EXPECT_EQ(report.body.at("status").as_string(), "not_ready");
        const auto& indexes = report.body.at("checks").at("indexes").as_object();
        EXPECT_EQ(indexes.at("status").as_string(), check_status_name(status));
        EXPECT_EQ(indexes.at("detail").as_string(), "lag 3");
        EXPECT_EQ(indexes.at("lag").as_int64(), 3);
    }
}

TEST(Readiness, OptionalFailingCheckDoesNotTakeTheReplicaOut) {
    ReadinessRegistry registry;
    registry.add("storage", Requirement::kRequired, fixed(CheckStatus::kOk));
    registry.add("redis", Requirement::kOptional, fixed(CheckStatus::kFailing, "refused"));
    EXPECT_TRUE(registry.evaluate().ready);
}

TEST(Readiness, DrainingWinsOverHealthyChecks) {
    ReadinessRegistry registry;
    registry.add("storage", Requirement::kRequired, fixed(CheckStatus::kOk));
    EXPECT_FALSE(registry.draining());
    registry.set_draining();
    EXPECT_TRUE(registry.draining());
    const ReadinessReport report = registry.evaluate();
    EXPECT_FALSE(report.ready);
    EXPECT_EQ(report.body.at("status").as_string(), "draining");
    EXPECT_EQ(report.body.at("checks").at("storage").at("status").as_string(), "ok");
}

TEST(Readiness, ChecksRunOnEveryEvaluationAndCanRecover) {
    ReadinessRegistry registry;
    auto lag = std::make_shared<std::atomic<int>>(2);
    registry.add("indexes", Requirement::kRequired, [lag] {
        const int current = lag->load();
        return CheckResult{current == 0 ? CheckStatus::kOk : CheckStatus::kFailing,
                           current == 0 ? "" : "behind",
                           {{"lag", current}}};
    });
    EXPECT_FALSE(registry.evaluate().ready);
    lag->store(0);
    const ReadinessReport report = registry.evaluate();
    EXPECT_TRUE(report.ready);
    EXPECT_FALSE(report.body.at("checks").at("indexes").as_object().contains("detail"));
}

TEST(Readiness, AddingTheSameNameReplacesTheCheck) {
    ReadinessRegistry registry;
    registry.add("redis", Requirement::kRequired, fixed(CheckStatus::kFailing));
    registry.add("redis", Requirement::kOptional, fixed(CheckStatus::kFailing));
    const ReadinessReport report = registry.evaluate();
    EXPECT_TRUE(report.ready);
    EXPECT_EQ(report.body.at("checks").as_object().size(), 1u);
}

TEST(Readiness, AThrowingCheckCountsAsFailing) {
    ReadinessRegistry registry;
    registry.add("storage", Requirement::kRequired, []() -> CheckResult {
        throw std::runtime_error("disk on fire");
    });
    const ReadinessReport report = registry.evaluate();
    EXPECT_FALSE(report.ready);
    const auto& storage = report.body.at("checks").at("storage").as_object();
    EXPECT_EQ(storage.at("status").as_string(), "failing");
    EXPECT_EQ(storage.at("detail").as_string(), "check threw: disk on fire");
}

TEST(Readiness, FieldsCannotOverrideTheCheckEnvelope) {
    ReadinessRegistry registry;
    registry.add("storage",
                 Requirement::kRequired,
                 fixed(CheckStatus::kFailing, "broken", {{"status", "ok"}, {"required", false}}));
    const ReadinessReport report = registry.evaluate();
    EXPECT_FALSE(report.ready);
    const auto& storage = report.body.at("checks").at("storage").as_object();
    EXPECT_EQ(storage.at("status").as_string(), "failing");
    EXPECT_TRUE(storage.at("required").as_bool());
}

// A replica following shared storage lags whenever others write: that alone is fine. It is
// stalled once the last good catch-up is 10 intervals old, and never sooner than 15 s.
TEST(Readiness, FollowerStalledOnlyWhenLaggingPastTheGrace) {
    using std::chrono::milliseconds;
    using std::chrono::seconds;
    EXPECT_FALSE(follower_stalled(5, seconds(1), milliseconds(1000)));
    EXPECT_FALSE(follower_stalled(0, seconds(3600), milliseconds(1000)));  // nothing to apply
    EXPECT_FALSE(follower_stalled(1, seconds(10), milliseconds(1000)));    // under 10 intervals
    EXPECT_FALSE(follower_stalled(1, seconds(12), milliseconds(1000)));    // 15 s grace wins
    EXPECT_FALSE(follower_stalled(1, seconds(14), milliseconds(100)));     // grace: 15 s
    EXPECT_TRUE(follower_stalled(1, seconds(16), milliseconds(100)));
    EXPECT_FALSE(follower_stalled(1, seconds(29), milliseconds(3000)));  // 10 x 3 s = 30 s
    EXPECT_TRUE(follower_stalled(1, seconds(31), milliseconds(3000)));
}

}  // namespace
}  // namespace ragd::api
