// metrics::Logger on spdlog's async_logger. ragd renders each line itself (so JSON escaping is
// under its control and tested), and spdlog only queues and writes it: the sink's pattern is
// "%v", the line as given plus a newline.
#include "metrics/logger.hpp"

#include <utility>

#include <spdlog/async_logger.h>
#include <spdlog/common.h>
#include <spdlog/details/thread_pool.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace ragd::metrics {
namespace {

spdlog::level::level_enum spdlog_level(core::LogLevel level) {
    switch (level) {
        case core::LogLevel::kTrace:
            return spdlog::level::trace;
        case core::LogLevel::kDebug:
            return spdlog::level::debug;
        case core::LogLevel::kInfo:
            return spdlog::level::info;
        case core::LogLevel::kWarn:
            return spdlog::level::warn;
        case core::LogLevel::kError:
            return spdlog::level::err;
        case core::LogLevel::kOff:
            break;
    }
    return spdlog::level::off;
}

}  // namespace

core::Result<LogOptions> log_options(const core::LogConfig& config) {
    LogOptions options;
    const auto level = core::parse_log_level(config.level);
    if (!level) {
        return core::fail(core::ErrorCode::kInvalidArgument,
                          "log.level: unknown level '" + config.level + "'");
    }
    const auto format = parse_log_format(config.format);
    if (!format) {
        return core::fail(core::ErrorCode::kInvalidArgument,
                          "log.format: unknown format '" + config.format + "'");
    }
    options.level = *level;
    options.format = *format;
    options.access = config.access;
    options.file = config.file;
    return options;
}

struct Logger::Impl {
    LogOptions options;
    // The pool owns the writer thread and the queue; the logger holds only a weak_ptr to it, so
    // the destructor resets the logger first and the pool last (which drains and joins).
    std::shared_ptr<spdlog::details::thread_pool> pool;
    std::shared_ptr<spdlog::async_logger> logger;
};

core::Result<std::unique_ptr<Logger>> Logger::open(LogOptions options) {
    if (options.queue_lines == 0) {
        return core::fail(core::ErrorCode::kInvalidArgument, "log queue_lines must be positive");
    }
    if (!options.clock) {
        options.clock = [] {
            return std::chrono::system_clock::now();
        };
    }
    auto impl = std::make_unique<Impl>();
    spdlog::sink_ptr sink;
    try {
        if (options.file.empty()) {
            sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
        } else {
            sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(options.file,
                                                                       /*truncate=*/false);
        }
        sink->set_pattern("%v");
        impl->pool = std::make_shared<spdlog::details::thread_pool>(options.queue_lines, 1);
        impl->logger = std::make_shared<spdlog::async_logger>(
            "ragd", sink, impl->pool, spdlog::async_overflow_policy::overrun_oldest);
    } catch (const spdlog::spdlog_ex& error) {
        return core::fail(core::ErrorCode::kIo,
                          "log.file: cannot open '" + options.file + "': " + error.what());
    }
    impl->logger->set_level(spdlog::level::trace);  // ragd filters before rendering
    // Flush after every line, on the writer thread: the file sink buffers through stdio, and a
    // line held in a buffer is lost in a crash and invisible to `tail -f`. One write per line
    // there is far below what the queue can absorb.
    impl->logger->flush_on(spdlog::level::trace);
    impl->options = std::move(options);
    return std::unique_ptr<Logger>(new Logger(std::move(impl)));
}

Logger::Logger(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Logger::~Logger() {
    core::clear_logger(this);
    impl_->logger.reset();
    // Joins the writer after it has taken every queued line: thread_pool's destructor enqueues
    // its terminate message with the blocking policy, behind whatever is still queued.
    impl_->pool.reset();
}

bool Logger::enabled(core::LogLevel level) const {
    return level != core::LogLevel::kOff && level >= impl_->options.level;
}

void Logger::write(core::LogLevel level, std::string_view message, core::LogFields fields) {
    if (!enabled(level)) {
        return;
    }
    write_line(level, format_log_line(impl_->options.format, now(), level, message, fields));
}

void Logger::write_line(core::LogLevel level, std::string_view line) {
    try {
        impl_->logger->log(spdlog_level(level), spdlog::string_view_t(line.data(), line.size()));
    } catch (...) {  // NOLINT(bugprone-empty-catch): logging must never take a request down
    }
}

const LogOptions& Logger::options() const {
    return impl_->options;
}

std::chrono::system_clock::time_point Logger::now() const {
    return impl_->options.clock();
}

std::uint64_t Logger::dropped_lines() const {
    return impl_->pool->overrun_counter();
}

}  // namespace ragd::metrics
