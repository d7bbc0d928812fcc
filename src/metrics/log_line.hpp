// Renders one log message as one line, JSON or human text, with no I/O: the formatting half of
// metrics::Logger, kept apart so that tests can check every byte without a sink or a clock.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "core/log.hpp"

namespace ragd::metrics {

/// json: one object per line (keys ts, level, msg, then the fields), for log pipelines.
/// text: `TS LEVEL message key=value ...` (values quoted and escaped when needed), for people.
enum class LogFormat { kJson, kText };

/// "json" or "text"; nullopt for anything else.
std::optional<LogFormat> parse_log_format(std::string_view name);

/// Appends `text` as a JSON string literal, quotes included. Valid UTF-8 passes through except
/// that '"', '\\', C0 and C1 controls, DEL, U+2028 and U+2029 are escaped; every byte that is not
/// part of a well-formed UTF-8 sequence (stray continuation, overlong, surrogate, above U+10FFFF,
/// truncated) becomes \ufffd. So the result always parses and always fits on one line.
void append_json_string(std::string& out, std::string_view text);

/// Appends `time` as RFC 3339 in UTC with milliseconds: 2024-05-01T09:30:00.123Z.
void append_timestamp(std::string& out, std::chrono::system_clock::time_point time);

/// One line without the trailing newline. Field keys equal to ts, level or msg are written as
/// field_ts, field_level, field_msg so that they cannot shadow the envelope. Non-finite numbers
/// are written as null.
std::string format_log_line(LogFormat format,
                            std::chrono::system_clock::time_point time,
                            core::LogLevel level,
                            std::string_view message,
                            core::LogFields fields);

}  // namespace ragd::metrics
