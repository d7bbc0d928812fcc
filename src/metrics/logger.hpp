// ragd's log sink: lines are rendered on the calling thread (log_line.hpp) and handed to an
// spdlog asynchronous logger with a bounded queue that overwrites its oldest line when full, so a
// slow disk or a blocked stderr pipe costs lines (counted), never an I/O thread's time.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "metrics/log_line.hpp"

namespace ragd::metrics {

struct LogOptions {
    /// Messages below this level are skipped (the access log ignores it; see `access`).
    core::LogLevel level = core::LogLevel::kInfo;
    LogFormat format = LogFormat::kJson;
    /// Whether AccessLog writes its lines.
    bool access = true;
    /// File the lines are appended to (created if missing); "" means standard error.
    std::string file;
    /// Lines queued for the writer thread before the oldest queued line is dropped.
    std::size_t queue_lines = 8192;
    /// Timestamps of the lines; empty means std::chrono::system_clock::now.
    std::function<std::chrono::system_clock::time_point()> clock;
};

/// The options `config` asks for. Fails (kInvalidArgument) on an unknown level or format, which
/// the config loader has normally rejected already.
core::Result<LogOptions> log_options(const core::LogConfig& config);

/// Thread-safe. Install it with core::set_logger(&logger) so that core::log::* reaches it.
class Logger final : public core::Logger {
public:
    /// Opens the sink (the file in append mode) and starts the writer thread. Fails with kIo when
    /// the file cannot be opened, naming it and the reason.
    static core::Result<std::unique_ptr<Logger>> open(LogOptions options);

    /// Uninstalls itself if it is core's logger, then writes every line still queued and
    /// flushes the sink before returning.
    ~Logger() override;
    Logger(const Logger&) = delete;
    Logger& operator=(const Logger&) = delete;

    bool enabled(core::LogLevel level) const override;
    void write(core::LogLevel level, std::string_view message, core::LogFields fields) override;

    /// Queues one rendered line (no trailing newline) regardless of the level threshold; `level`
    /// only decides the sink's flushing. Used by AccessLog.
    void write_line(core::LogLevel level, std::string_view line);

    const LogOptions& options() const;
    /// Now, by the options' clock.
    std::chrono::system_clock::time_point now() const;
    /// Lines overwritten in a full queue since open (for ragd_log_dropped_lines_total).
    std::uint64_t dropped_lines() const;

private:
    struct Impl;
    explicit Logger(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace ragd::metrics
