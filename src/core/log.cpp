// The process-wide logger slot and the fallback used before (or without) metrics::Logger.
#include "core/log.hpp"

#include <array>
#include <atomic>
#include <charconv>
#include <cstdio>

namespace ragd::core {
namespace {

constexpr std::array<std::string_view, 6> kLevelNames = {
    "trace", "debug", "info", "warn", "error", "off"};

/// Plain text, one fprintf per line (so concurrent lines do not interleave within a line).
/// Control bytes are replaced so a message cannot forge extra lines or drive a terminal.
class StderrLogger final : public Logger {
public:
    bool enabled(LogLevel level) const override { return level >= LogLevel::kInfo; }

    void write(LogLevel level, std::string_view message, LogFields fields) override {
        if (!enabled(level) || level == LogLevel::kOff) {
            return;
        }
        std::string line = "ragd: ";
        line += log_level_name(level);
        line += ": ";
        append_sanitized(line, message);
        for (const LogField& field : fields) {
            line += ' ';
            append_sanitized(line, field.key);
            line += '=';
            append_value(line, field.value);
        }
        line += '\n';
        std::fputs(line.c_str(), stderr);
    }

private:
    static void append_sanitized(std::string& out, std::string_view text) {
        for (char c : text) {
            const auto byte = static_cast<unsigned char>(c);
            out.push_back(byte < 0x20 || byte == 0x7F ? '?' : c);
        }
    }

    static void append_value(std::string& out, const LogField::Value& value) {
        std::array<char, 32> digits{};
        auto append_number = [&](auto number) {
            const auto result = std::to_chars(digits.data(), digits.data() + digits.size(), number);
            out.append(digits.data(), result.ptr);
        };
        if (const auto* text = std::get_if<std::string_view>(&value)) {
            append_sanitized(out, *text);
        } else if (const auto* signed_number = std::get_if<std::int64_t>(&value)) {
            append_number(*signed_number);
        } else if (const auto* unsigned_number = std::get_if<std::uint64_t>(&value)) {
            append_number(*unsigned_number);
        } else if (const auto* real = std::get_if<double>(&value)) {
            append_number(*real);
        } else if (const auto* flag = std::get_if<bool>(&value)) {
            out += *flag ? "true" : "false";
        } else {
            out += '-';
        }
    }
};

StderrLogger& fallback_logger() {
    static StderrLogger fallback;
    return fallback;
}

std::atomic<Logger*> installed_logger{nullptr};

}  // namespace

std::optional<LogLevel> parse_log_level(std::string_view name) {
    for (std::size_t level_idx = 0; level_idx < kLevelNames.size(); ++level_idx) {
        if (kLevelNames[level_idx] == name) {
            return static_cast<LogLevel>(level_idx);
        }
    }
    return std::nullopt;
}

std::string_view log_level_name(LogLevel level) {
    const auto level_idx = static_cast<std::size_t>(level);
    return level_idx < kLevelNames.size() ? kLevelNames[level_idx] : "unknown";
}

void set_logger(Logger* logger) {
    installed_logger.store(logger, std::memory_order_release);
}

void clear_logger(Logger* logger) {
    Logger* expected = logger;
    installed_logger.compare_exchange_strong(expected, nullptr, std::memory_order_acq_rel);
}

Logger& logger() {
    Logger* installed = installed_logger.load(std::memory_order_acquire);
    return installed != nullptr ? *installed : fallback_logger();
}

namespace log {

void write(LogLevel level, std::string_view message, std::initializer_list<LogField> fields) {
    Logger& target = logger();
    if (level == LogLevel::kOff || !target.enabled(level)) {
        return;
    }
    target.write(level, message, LogFields(fields.begin(), fields.size()));
}

}  // namespace log
}  // namespace ragd::core
