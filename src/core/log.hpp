// Structured logging for every layer: code logs through core::log::info(...) and friends without
// depending on where lines go. metrics::Logger (spdlog, asynchronous, JSON or text) implements
// core::Logger and is installed by `ragd serve`; until one is installed, messages at info and
// above go to standard error as plain text, so tools and tests need no setup.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

namespace ragd::core {

/// Severity, lowest first; kOff as a threshold silences every message.
enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError, kOff };

/// "trace", "debug", "info", "warn", "error" or "off"; nullopt for anything else.
std::optional<LogLevel> parse_log_level(std::string_view name);
/// The lower-case name parse_log_level accepts.
std::string_view log_level_name(LogLevel level);

/// One key/value of a structured message. It holds views: the key and any string value need
/// to live only until the logging call returns (loggers copy what they keep).
struct LogField {
    /// monostate renders as JSON null (an absent value, e.g. no trace id).
    using Value =
        std::variant<std::monostate, std::string_view, std::int64_t, std::uint64_t, double, bool>;

    LogField(std::string_view field_key, std::string_view text) : key(field_key), value(text) {}
    LogField(std::string_view field_key, const char* text)
        : key(field_key), value(std::string_view(text)) {}
    LogField(std::string_view field_key, const std::string& text)
        : key(field_key), value(std::string_view(text)) {}
    LogField(std::string_view field_key, bool flag) : key(field_key), value(flag) {}
    LogField(std::string_view field_key, double number) : key(field_key), value(number) {}
    LogField(std::string_view field_key, std::monostate) : key(field_key) {}
    template <class Int>
    requires(std::is_integral_v<Int> && !std::is_same_v<Int, bool> && !std::is_same_v<Int, char>)
        LogField(std::string_view field_key, Int number)
        : key(field_key) {
        if constexpr (std::is_signed_v<Int>) {
            value = static_cast<std::int64_t>(number);
        } else {
            value = static_cast<std::uint64_t>(number);
        }
    }

    std::string_view key;
    Value value;
};

using LogFields = std::span<const LogField>;

/// Where log messages go. Implementations are called from any thread, including I/O threads,
/// so they must be thread-safe and must not block on I/O.
class Logger {
public:
    virtual ~Logger() = default;

    /// Whether a message at `level` would be written; callers may skip building fields when not.
    virtual bool enabled(LogLevel level) const = 0;
    /// Writes one message with its fields (in order). Never throws.
    virtual void write(LogLevel level, std::string_view message, LogFields fields) = 0;
};

/// Makes `logger` the process-wide logger; nullptr restores the standard-error fallback. The
/// logger must outlive its installation and every call that may still be using it: uninstall
/// it only after the threads that log (I/O and compute pools) have stopped.
void set_logger(Logger* logger);
/// Uninstalls `logger` if it is the installed one (a destructor's safe way to step down).
void clear_logger(Logger* logger);
/// The installed logger, or the fallback (info and above, plain text, standard error).
Logger& logger();

namespace log {

/// Writes `message` through the installed logger when its level lets it through.
void write(LogLevel level, std::string_view message, std::initializer_list<LogField> fields = {});

inline void trace(std::string_view message, std::initializer_list<LogField> fields = {}) {
    write(LogLevel::kTrace, message, fields);
}
inline void debug(std::string_view message, std::initializer_list<LogField> fields = {}) {
    write(LogLevel::kDebug, message, fields);
}
inline void info(std::string_view message, std::initializer_list<LogField> fields = {}) {
    write(LogLevel::kInfo, message, fields);
}
inline void warn(std::string_view message, std::initializer_list<LogField> fields = {}) {
    write(LogLevel::kWarn, message, fields);
}
inline void error(std::string_view message, std::initializer_list<LogField> fields = {}) {
    write(LogLevel::kError, message, fields);
}

}  // namespace log
}  // namespace ragd::core
