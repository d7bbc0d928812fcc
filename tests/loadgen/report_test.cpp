// The JSON and HTML reports and the table row for a level with known numbers.
#include "loadgen/report.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace ragd::loadgen {
namespace {

LevelResult sample_level() {
    LevelResult level;
    level.spec.users = 20;
    level.measured = std::chrono::seconds(2);
    level.wall_seconds = 2.5;
    level.cpu_seconds = 0.5;
    for (std::uint64_t idx = 1; idx <= 100; ++idx) {
        level.stats.latency_ns.record(idx * 1'000'000);  // 1..100 ms
        level.stats.ttfb_ns.record(idx * 500'000);
    }
    level.stats.requests = 104;
    level.stats.successes = 100;
    level.stats.add_error(ErrorKind::kRefused);
    level.stats.http_errors[429] = 2;
    level.stats.http_errors[503] = 1;
    return level;
}

TEST(Report, ErrorSummaryAndRates) {
    const auto level = sample_level();
    EXPECT_EQ(level.stats.error_summary(), "refused:1 429:2 503:1");
    EXPECT_DOUBLE_EQ(level.rps(), 52.0);
    EXPECT_DOUBLE_EQ(level.cpu_pct(), 20.0);
    const std::string row = table_row(level, false);
    EXPECT_NE(row.find("refused:1 429:2 503:1"), std::string::npos) << row;
    EXPECT_NE(row.find("96.15"), std::string::npos) << row;
    EXPECT_NE(table_header(false, true).find("ttfb50"), std::string::npos);
}

TEST(Report, JsonHoldsEveryLevel) {
    BenchOptions options;
    options.url.host_header = "127.0.0.1:1";
    options.url.target = "/health";
    options.method = "GET";
    const auto json = boost::json::parse(report_json(options, {sample_level(), sample_level()}));
    const auto& levels = json.at("levels").as_array();
    ASSERT_EQ(levels.size(), 2U);
    const auto& level = levels[0].as_object();
    EXPECT_EQ(level.at("requests").to_number<std::uint64_t>(), 104U);
    EXPECT_EQ(level.at("errors").at("429").to_number<std::uint64_t>(), 2U);
    EXPECT_EQ(level.at("errors").at("refused").to_number<std::uint64_t>(), 1U);
    EXPECT_NEAR(level.at("latency_ms").at("p50").to_number<double>(), 50.0, 0.5);
    EXPECT_NEAR(level.at("latency_ms").at("max").to_number<double>(), 100.0, 1e-9);
    EXPECT_EQ(json.at("url").as_string(), "http://127.0.0.1:1/health");
}

TEST(Report, HtmlIsSelfContained) {
    BenchOptions options;
    options.url.host_header = "h:1";
    options.url.target = "/q?a=<b>";
    options.method = "POST";
    const std::string html = report_html(options, {sample_level()});
    EXPECT_NE(html.find("<svg"), std::string::npos);
    EXPECT_NE(html.find("Throughput"), std::string::npos);
    EXPECT_NE(html.find("&lt;b&gt;"), std::string::npos);
    EXPECT_EQ(html.find("<script"), std::string::npos);
    EXPECT_EQ(html.find("src=\"http"), std::string::npos);
    EXPECT_EQ(html.find("<link"), std::string::npos);
}

}  // namespace
}  // namespace ragd::loadgen
