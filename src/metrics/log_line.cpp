// Log line rendering. Every string that reaches a line (paths, ids, messages naming user input)
// goes through append_json_string, which validates UTF-8 itself: Boost.JSON's serializer copies
// bytes as given, and one invalid byte would make a log pipeline drop the whole line.
#include "metrics/log_line.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>

namespace ragd::metrics {
namespace {

constexpr std::string_view kReplacement = "\\ufffd";
constexpr char kHexDigits[] = "0123456789abcdef";

void append_unicode_escape(std::string& out, std::uint32_t code_point) {
    out += "\\u";
    for (int shift = 12; shift >= 0; shift -= 4) {
        out.push_back(kHexDigits[(code_point >> shift) & 0xF]);
    }
}

void append_ascii(std::string& out, unsigned char byte) {
    switch (byte) {
        case '"':
            out += "\\\"";
            return;
        case '\\':
            out += "\\\\";
            return;
        case '\n':
            out += "\\n";
            return;
        case '\r':
            out += "\\r";
            return;
        case '\t':
            out += "\\t";
            return;
        case '\b':
            out += "\\b";
            return;
        case '\f':
            out += "\\f";
            return;
        default:
            break;
    }
    if (byte < 0x20 || byte == 0x7F) {
        append_unicode_escape(out, byte);
    } else {
        out.push_back(static_cast<char>(byte));
    }
}

bool is_continuation(unsigned char byte) {
    return (byte & 0xC0) == 0x80;
}

/// Length of the well-formed UTF-8 sequence starting at text[pos], and its code point; or the
/// number of bytes forming its maximal ill-formed prefix (at least 1) with `valid` false, which
/// the caller replaces with one U+FFFD (Unicode's "maximal subpart" practice).
struct Decoded {
    std::size_t length = 1;
    std::uint32_t code_point = 0;
    bool valid = false;
};

Decoded decode_multibyte(std::string_view text, std::size_t pos) {
    const auto lead = static_cast<unsigned char>(text[pos]);
    std::size_t length = 0;
    std::uint32_t code_point = 0;
    // The second byte's range is narrower for some leads: it rules out overlongs (E0, F0),
    // surrogates (ED) and code points above U+10FFFF (F4).
    unsigned char second_min = 0x80;
    unsigned char second_max = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
        code_point = lead & 0x1F;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        code_point = lead & 0x0F;
        second_min = lead == 0xE0 ? 0xA0 : 0x80;
        second_max = lead == 0xED ? 0x9F : 0xBF;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        code_point = lead & 0x07;
        second_min = lead == 0xF0 ? 0x90 : 0x80;
        second_max = lead == 0xF4 ? 0x8F : 0xBF;
    } else {
        return {};  // a stray continuation byte, C0/C1 (always overlong) or F5..FF
    }
    for (std::size_t byte_idx = 1; byte_idx < length; ++byte_idx) {
        if (pos + byte_idx >= text.size()) {
            return {byte_idx, 0, false};  // truncated at the end of the text
        }
        const auto byte = static_cast<unsigned char>(text[pos + byte_idx]);
        const bool in_range =
            byte_idx == 1 ? (byte >= second_min && byte <= second_max) : is_continuation(byte);
        if (!in_range) {
            return {byte_idx, 0, false};
        }
        code_point = (code_point << 6) | (byte & 0x3F);
    }
    return {length, code_point, true};
}

/// The text of `text` escaped for a JSON string, without the quotes.
void append_escaped(std::string& out, std::string_view text) {
    std::size_t pos = 0;
    while (pos < text.size()) {
        const auto byte = static_cast<unsigned char>(text[pos]);
        if (byte < 0x80) {
            append_ascii(out, byte);
            ++pos;
            continue;
        }
        const Decoded decoded = decode_multibyte(text, pos);
        if (!decoded.valid) {
            out += kReplacement;
        } else if (decoded.code_point <= 0x9F || decoded.code_point == 0x2028 ||
                   decoded.code_point == 0x2029) {
            // C1 controls can drive a terminal; U+2028/2029 end lines in JavaScript.
            append_unicode_escape(out, decoded.code_point);
        } else {
            out.append(text.substr(pos, decoded.length));
        }
        pos += decoded.length;
    }
}

template <class Number>
void append_number(std::string& out, Number number) {
    std::array<char, 32> digits{};
    const auto result = std::to_chars(digits.data(), digits.data() + digits.size(), number);
    out.append(digits.data(), result.ptr);
}

void append_json_value(std::string& out, const core::LogField::Value& value) {
    if (const auto* text = std::get_if<std::string_view>(&value)) {
        append_json_string(out, *text);
    } else if (const auto* signed_number = std::get_if<std::int64_t>(&value)) {
        append_number(out, *signed_number);
    } else if (const auto* unsigned_number = std::get_if<std::uint64_t>(&value)) {
        append_number(out, *unsigned_number);
    } else if (const auto* real = std::get_if<double>(&value)) {
        if (std::isfinite(*real)) {
            append_number(out, *real);
        } else {
            out += "null";
        }
    } else if (const auto* flag = std::get_if<bool>(&value)) {
        out += *flag ? "true" : "false";
    } else {
        out += "null";
    }
}

/// Text values go bare when that is unambiguous (no spaces, quotes, '=' or anything escaped),
/// and JSON-quoted otherwise, so a line still splits on spaces and '='.
bool is_bare_text(std::string_view text) {
    if (text.empty()) {
        return false;
    }
    for (char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte <= 0x20 || byte >= 0x7F || c == '"' || c == '=' || c == '\\') {
            return false;
        }
    }
    return true;
}

void append_text_value(std::string& out, const core::LogField::Value& value) {
    if (const auto* text = std::get_if<std::string_view>(&value)) {
        if (is_bare_text(*text)) {
            out.append(*text);
        } else {
            append_json_string(out, *text);
        }
    } else if (std::holds_alternative<std::monostate>(value)) {
        out += '-';
    } else {
        append_json_value(out, value);
    }
}

std::string_view field_key(std::string_view key, std::string& renamed) {
    if (key == "ts" || key == "level" || key == "msg") {
        renamed.assign("field_").append(key);
        return renamed;
    }
    return key;
}

std::string_view upper_level_name(core::LogLevel level) {
    switch (level) {
        case core::LogLevel::kTrace:
            return "TRACE";
        case core::LogLevel::kDebug:
            return "DEBUG";
        case core::LogLevel::kInfo:
            return "INFO ";
        case core::LogLevel::kWarn:
            return "WARN ";
        case core::LogLevel::kError:
            return "ERROR";
        case core::LogLevel::kOff:
            break;
    }
    return "OFF  ";
}

void append_two_digits(std::string& out, unsigned value) {
    out.push_back(static_cast<char>('0' + value / 10 % 10));
    out.push_back(static_cast<char>('0' + value % 10));
}

}  // namespace

std::optional<LogFormat> parse_log_format(std::string_view name) {
    if (name == "json") {
        return LogFormat::kJson;
    }
    if (name == "text") {
        return LogFormat::kText;
    }
    return std::nullopt;
}

void append_json_string(std::string& out, std::string_view text) {
    out.push_back('"');
    append_escaped(out, text);
    out.push_back('"');
}

void append_timestamp(std::string& out, std::chrono::system_clock::time_point time) {
    using namespace std::chrono;  // NOLINT(google-build-using-namespace): calendar types
    const auto ms = floor<milliseconds>(time);
    const auto day = floor<days>(ms);
    const year_month_day date{day};
    const hh_mm_ss<milliseconds> clock_time{ms - day};
    append_number(out, static_cast<int>(date.year()));
    out.push_back('-');
    append_two_digits(out, static_cast<unsigned>(date.month()));
    out.push_back('-');
    append_two_digits(out, static_cast<unsigned>(date.day()));
    out.push_back('T');
    append_two_digits(out, static_cast<unsigned>(clock_time.hours().count()));
    out.push_back(':');
    append_two_digits(out, static_cast<unsigned>(clock_time.minutes().count()));
    out.push_back(':');
    append_two_digits(out, static_cast<unsigned>(clock_time.seconds().count()));
    out.push_back('.');
    const auto millis = static_cast<unsigned>(clock_time.subseconds().count());
    out.push_back(static_cast<char>('0' + millis / 100));
    append_two_digits(out, millis % 100);
    out.push_back('Z');
}

std::string format_log_line(LogFormat format,
                            std::chrono::system_clock::time_point time,
                            core::LogLevel level,
                            std::string_view message,
                            core::LogFields fields) {
    std::string line;
    line.reserve(128 + message.size() + fields.size() * 32);
    std::string renamed;
    if (format == LogFormat::kJson) {
        line += R"({"ts":")";
        append_timestamp(line, time);
        line += R"(","level":")";
        line += core::log_level_name(level);
        line += R"(","msg":)";
        append_json_string(line, message);
        for (const core::LogField& field : fields) {
            line.push_back(',');
            append_json_string(line, field_key(field.key, renamed));
            line.push_back(':');
            append_json_value(line, field.value);
        }
        line.push_back('}');
        return line;
    }
    append_timestamp(line, time);
    line.push_back(' ');
    line += upper_level_name(level);
    line.push_back(' ');
    append_escaped(line, message);
    for (const core::LogField& field : fields) {
        line.push_back(' ');
        append_escaped(line, field_key(field.key, renamed));
        line.push_back('=');
        append_text_value(line, field.value);
    }
    return line;
}

}  // namespace ragd::metrics
