// metrics::Logger end to end through a real file: level filtering, the core::log facade, the
// access-log switch, every queued line written by the time the logger is destroyed, and lines
// dropped by a full queue accounted for exactly.
#include "metrics/logger.hpp"

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <unistd.h>

#include "core/config.hpp"
#include "core/log.hpp"
#include "metrics/access_log.hpp"
#include "metrics/metrics.hpp"

namespace ragd::metrics {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

class LoggerTest : public ::testing::Test {
protected:
    void SetUp() override {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        dir_ = fs::temp_directory_path() /
               (std::string("ragd-logger-") + info->name() + "-" + std::to_string(::getpid()));
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        path_ = (dir_ / "ragd.log").string();
    }
    void TearDown() override {
        core::set_logger(nullptr);
        fs::remove_all(dir_);
    }

    LogOptions options(core::LogLevel level = core::LogLevel::kInfo) const {
        LogOptions opts;
        opts.level = level;
        opts.file = path_;
        return opts;
    }

    std::unique_ptr<Logger> open(LogOptions opts) {
        auto logger = Logger::open(std::move(opts));
        EXPECT_TRUE(logger.has_value()) << (logger ? "" : logger.error().detail);
        return logger ? std::move(*logger) : nullptr;
    }

    /// Every line of the log file, each parsed (failing the test on a line that is not JSON).
    std::vector<json::object> read_lines() const {
        std::ifstream in(path_);
        std::vector<json::object> lines;
        std::string line;
        while (std::getline(in, line)) {
            boost::system::error_code error;
            json::value value = json::parse(line, error);
            if (error || !value.is_object()) {
                ADD_FAILURE() << "not a JSON object: " << line;
                continue;
            }
            lines.push_back(value.as_object());
        }
        return lines;
    }

    fs::path dir_;
    std::string path_;
};

TEST_F(LoggerTest, LevelFiltersMessagesThroughTheFacade) {
    auto logger = open(options(core::LogLevel::kWarn));
    ASSERT_NE(logger, nullptr);
    core::set_logger(logger.get());
    EXPECT_FALSE(core::logger().enabled(core::LogLevel::kInfo));
    EXPECT_TRUE(core::logger().enabled(core::LogLevel::kWarn));
    core::log::trace("t");
    core::log::debug("d");
    core::log::info("i");
    core::log::warn("w", {{"attempt", 2}});
    core::log::error("e", {{"file", "a\xFF.md"}});
    logger.reset();                                                // drains and uninstalls
    EXPECT_FALSE(core::logger().enabled(core::LogLevel::kDebug));  // the fallback again

    const auto lines = read_lines();
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0].at("level").as_string(), "warn");
    EXPECT_EQ(lines[0].at("msg").as_string(), "w");
    EXPECT_EQ(lines[0].at("attempt").as_int64(), 2);
    EXPECT_EQ(lines[1].at("level").as_string(), "error");
    EXPECT_EQ(lines[1].at("file").as_string(), "a\xEF\xBF\xBD.md");
}

TEST_F(LoggerTest, OffSilencesMessagesButNotTheAccessLog) {
    auto logger = open(options(core::LogLevel::kOff));
    ASSERT_NE(logger, nullptr);
    logger->write(core::LogLevel::kError, "nope", {});
    AccessLog access(*logger);
    AccessLogEntry entry;
    entry.request_id = "r1";
    entry.status = 200;
    access.record(entry);
    logger.reset();
    const auto lines = read_lines();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0].at("msg").as_string(), "request");
    EXPECT_EQ(lines[0].at("request_id").as_string(), "r1");
}

TEST_F(LoggerTest, AccessFalseWritesNoAccessLines) {
    LogOptions opts = options();
    opts.access = false;
    auto logger = open(opts);
    ASSERT_NE(logger, nullptr);
    AccessLog access(*logger);
    EXPECT_FALSE(access.enabled());
    access.record(AccessLogEntry{});
    logger->write(core::LogLevel::kInfo, "still here", {});
    logger.reset();
    const auto lines = read_lines();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0].at("msg").as_string(), "still here");
}

TEST_F(LoggerTest, InjectedClockStampsLines) {
    LogOptions opts = options();
    opts.clock = [] {
        return std::chrono::system_clock::time_point(std::chrono::seconds(86400));
    };
    auto logger = open(opts);
    ASSERT_NE(logger, nullptr);
    logger->write(core::LogLevel::kInfo, "tick", {});
    logger.reset();
    const auto lines = read_lines();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0].at("ts").as_string(), "1970-01-02T00:00:00.000Z");
}

TEST_F(LoggerTest, DestructionWritesEveryQueuedLine) {
    constexpr int kLines = 5000;  // below queue_lines, so none may be dropped
    auto logger = open(options());
    ASSERT_NE(logger, nullptr);
    AccessLog access(*logger);
    for (int line_idx = 0; line_idx < kLines; ++line_idx) {
        AccessLogEntry entry;
        entry.request_id = "bulk";
        entry.status = 200;
        entry.bytes_out = static_cast<std::uint64_t>(line_idx);
        access.record(entry);
    }
    EXPECT_EQ(logger->dropped_lines(), 0u);
    logger.reset();
    const auto lines = read_lines();
    ASSERT_EQ(lines.size(), static_cast<std::size_t>(kLines));
    for (int line_idx = 0; line_idx < kLines; ++line_idx) {
        ASSERT_EQ(lines[line_idx].at("bytes_out").to_number<std::uint64_t>(),
                  static_cast<std::uint64_t>(line_idx));
    }
}

TEST_F(LoggerTest, FullQueueDropsOldestAndCountsEveryDrop) {
    constexpr int kLines = 20000;
    LogOptions opts = options();
    opts.queue_lines = 8;
    auto logger = open(opts);
    ASSERT_NE(logger, nullptr);
    for (int line_idx = 0; line_idx < kLines; ++line_idx) {
        const std::array<core::LogField, 1> fields = {core::LogField("n", line_idx)};
        logger->write(core::LogLevel::kInfo, "burst", fields);
    }
    // No line is enqueued after this point, so the count is final.
    const std::uint64_t dropped = logger->dropped_lines();
    logger.reset();
    const auto lines = read_lines();
    EXPECT_EQ(lines.size() + dropped, static_cast<std::uint64_t>(kLines));
    ASSERT_FALSE(lines.empty());
    // Overrun drops the oldest queued lines, so the newest line always survives.
    EXPECT_EQ(lines.back().at("n").as_int64(), kLines - 1);
    for (std::size_t line_idx = 1; line_idx < lines.size(); ++line_idx) {
        ASSERT_LT(lines[line_idx - 1].at("n").as_int64(), lines[line_idx].at("n").as_int64());
    }
}

TEST_F(LoggerTest, AppendsToAnExistingFile) {
    {
        std::ofstream existing(path_);
        existing << R"({"msg":"from before"})"
                 << "\n";
    }
    auto logger = open(options());
    ASSERT_NE(logger, nullptr);
    logger->write(core::LogLevel::kInfo, "after", {});
    logger.reset();
    const auto lines = read_lines();
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[1].at("msg").as_string(), "after");
}

TEST_F(LoggerTest, UnopenableFileIsAnIoErrorNamingIt) {
    const std::string file = path_ + "/not-a-dir/x.log";
    { std::ofstream blocker(path_); }  // a regular file where a directory is needed
    LogOptions opts = options();
    opts.file = file;
    auto logger = Logger::open(opts);
    ASSERT_FALSE(logger.has_value());
    EXPECT_EQ(logger.error().code, core::ErrorCode::kIo);
    EXPECT_NE(logger.error().detail.find(file), std::string::npos) << logger.error().detail;
}

TEST_F(LoggerTest, MetricsExportReadinessAndDroppedLinesOnlyOnceWired) {
    Metrics metrics;
    EXPECT_EQ(metrics.serialize().find("ragd_ready"), std::string::npos);
    EXPECT_EQ(metrics.serialize().find("ragd_log_dropped_lines_total"), std::string::npos);
    auto logger = open(options());
    ASSERT_NE(logger, nullptr);
    bool ready = false;
    metrics.set_ready_source([&ready] { return ready; });
    metrics.set_log_dropped_source([&logger] { return logger->dropped_lines(); });
    std::string text = metrics.serialize();
    EXPECT_NE(text.find("# TYPE ragd_ready gauge\nragd_ready 0\n"), std::string::npos) << text;
    EXPECT_NE(
        text.find("# TYPE ragd_log_dropped_lines_total counter\nragd_log_dropped_lines_total 0\n"),
        std::string::npos)
        << text;
    ready = true;
    EXPECT_NE(metrics.serialize().find("\nragd_ready 1\n"), std::string::npos);
}

TEST(LogOptionsTest, FromConfig) {
    core::LogConfig config;
    config.level = "debug";
    config.format = "text";
    config.access = false;
    config.file = "/var/log/ragd.log";
    auto opts = log_options(config);
    ASSERT_TRUE(opts.has_value());
    EXPECT_EQ(opts->level, core::LogLevel::kDebug);
    EXPECT_EQ(opts->format, LogFormat::kText);
    EXPECT_FALSE(opts->access);
    EXPECT_EQ(opts->file, "/var/log/ragd.log");
    config.format = "xml";
    EXPECT_FALSE(log_options(config).has_value());
    config.format = "json";
    config.level = "loud";
    EXPECT_FALSE(log_options(config).has_value());
}

TEST(CoreLogTest, LevelNamesRoundTrip) {
    for (auto level : {core::LogLevel::kTrace,
                       core::LogLevel::kDebug,
                       core::LogLevel::kInfo,
                       core::LogLevel::kWarn,
                       core::LogLevel::kError,
                       core::LogLevel::kOff}) {
        EXPECT_EQ(core::parse_log_level(core::log_level_name(level)), level);
    }
    EXPECT_FALSE(core::parse_log_level("INFO").has_value());
    EXPECT_FALSE(core::parse_log_level("").has_value());
}

TEST(CoreLogTest, FallbackWritesInfoAndAboveToStderrOnOneLine) {
    core::set_logger(nullptr);
    ::testing::internal::CaptureStderr();
    core::log::debug("hidden");
    core::log::warn("disk\nfull", {{"free_bytes", 0}, {"path", "/data"}});
    const std::string captured = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(captured, "ragd: warn: disk?full free_bytes=0 path=/data\n");
}

}  // namespace
}  // namespace ragd::metrics
