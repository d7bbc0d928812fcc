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

}  // namespace
}  // namespace ragd::api
