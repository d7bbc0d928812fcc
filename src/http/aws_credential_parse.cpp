// STS answers in XML unless asked otherwise; ragd reads the few elements it needs with a tag
// scanner instead of linking an XML parser: the shapes are fixed, unqualified and unnested by
// name, and a malformed answer only has to become a clear error.
#include "http/aws_credential_parse.hpp"

#include <cctype>
#include <charconv>
#include <cstdint>

#include <boost/json.hpp>

#include "core/text.hpp"
#include "core/utf8.hpp"

namespace ragd::http {
namespace {

namespace json = boost::json;
using std::chrono::system_clock;

constexpr std::size_t kExcerptBytes = 200;

/// `digits` decimal digits at `text[pos]`, or nullopt.
std::optional<int> number_at(std::string_view text, std::size_t pos, std::size_t digits) {
    if (pos + digits > text.size()) {
        return std::nullopt;
    }
    int value = 0;
    const char* begin = text.data() + pos;
    const auto [end, error] = std::from_chars(begin, begin + digits, value);
    if (error != std::errc() || end != begin + digits) {
        return std::nullopt;
    }
    return value;
}

bool char_at(std::string_view text, std::size_t pos, char expected) {
    return pos < text.size() && text[pos] == expected;
}

/// UTF-8 for a character reference; U+FFFD for one that is not a character.
void append_code_point(std::string& out, std::uint32_t code) {
    if (code == 0 || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
        code = 0xFFFD;
    }
    if (code < 0x80) {
        out += static_cast<char>(code);
    } else if (code < 0x800) {
        out += static_cast<char>(0xC0 | (code >> 6));
        out += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
        out += static_cast<char>(0xE0 | (code >> 12));
        out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (code >> 18));
        out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (code & 0x3F));
    }
}

/// Element text with XML's predefined and numeric character references replaced.
std::string decode_xml_text(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    while (!text.empty()) {
        const std::size_t amp = text.find('&');
        out.append(text.substr(0, amp));
        if (amp == std::string_view::npos) {
            break;
        }
        text.remove_prefix(amp);
        const std::size_t semi = text.find(';');
        const std::string_view entity =
            text.substr(1, semi == std::string_view::npos ? 0 : semi - 1);
        if (entity == "amp") {
            out += '&';
        } else if (entity == "lt") {
            out += '<';
        } else if (entity == "gt") {
            out += '>';
        } else if (entity == "quot") {
            out += '"';
        } else if (entity == "apos") {
            out += '\'';
        } else if (entity.size() > 1 && entity.front() == '#') {
            const bool hex = entity[1] == 'x' || entity[1] == 'X';
            const std::string_view digits = entity.substr(hex ? 2 : 1);
            std::uint32_t code = 0;
            const auto [end, error] =
                std::from_chars(digits.data(), digits.data() + digits.size(), code, hex ? 16 : 10);
            append_code_point(
                out, error == std::errc() && end == digits.data() + digits.size() ? code : 0);
        } else {
            out += '&';  // not a reference: keep the text as it was
            text.remove_prefix(1);
            continue;
        }
        text.remove_prefix(semi + 1);
    }
    return out;
}

/// The content of the first <name ...>...</name> in `xml` (empty for <name/>), or nullopt.
std::optional<std::string_view> xml_element(std::string_view xml, std::string_view name) {
    for (std::size_t pos = xml.find('<'); pos != std::string_view::npos;
         pos = xml.find('<', pos + 1)) {
        const std::size_t after = pos + 1 + name.size();
        if (xml.compare(pos + 1, name.size(), name) != 0 || after >= xml.size() ||
            (xml[after] != '>' && xml[after] != '/' &&
             std::isspace(static_cast<unsigned char>(xml[after])) == 0)) {
            continue;
        }
        const std::size_t open_end = xml.find('>', after);
        if (open_end == std::string_view::npos) {
            return std::nullopt;
        }
        if (xml[open_end - 1] == '/') {
            return std::string_view{};
        }
        const std::string close = "</" + std::string(name) + ">";
        const std::size_t close_pos = xml.find(close, open_end + 1);
        if (close_pos == std::string_view::npos) {
            return std::nullopt;
        }
        return xml.substr(open_end + 1, close_pos - open_end - 1);
    }
    return std::nullopt;
}

/// The trimmed, decoded text of <name> inside `xml`, or "".
std::string xml_text(std::string_view xml, std::string_view name) {
    const auto element = xml_element(xml, name);
    return element ? decode_xml_text(core::trim_whitespace(*element)) : std::string();
}

core::Error corrupt(std::string detail) {
    return core::fail(core::ErrorCode::kCorrupt, std::move(detail));
}

/// `object[name]` when it is a non-empty string; else a kCorrupt error naming the field.
core::Result<std::string> required_string(const json::object& object, std::string_view name) {
    const json::value* value = object.if_contains(name);
    if (value == nullptr || !value->is_string() || value->get_string().empty()) {
        return corrupt("credentials response has no \"" + std::string(name) + "\"");
    }
    return std::string(value->get_string());
}

std::string optional_string(const json::object& object, std::string_view name) {
    const json::value* value = object.if_contains(name);
    return value != nullptr && value->is_string() ? std::string(value->get_string())
                                                  : std::string();
}

}  // namespace

core::Result<system_clock::time_point> parse_iso8601(std::string_view text) {
    const std::string_view original = text;
    const auto fail = [&original] {
        return corrupt("\"" + body_excerpt(original) +
                       "\" is not an ISO 8601 time (2024-05-01T12:34:56Z)");
    };
    text = core::trim_whitespace(text);
    const auto year = number_at(text, 0, 4);
    const auto month = number_at(text, 5, 2);
    const auto day = number_at(text, 8, 2);
    const auto hour = number_at(text, 11, 2);
    const auto minute = number_at(text, 14, 2);
    const auto second = number_at(text, 17, 2);
    if (!year || !month || !day || !hour || !minute || !second || !char_at(text, 4, '-') ||
        !char_at(text, 7, '-') || !(char_at(text, 10, 'T') || char_at(text, 10, 't')) ||
        !char_at(text, 13, ':') || !char_at(text, 16, ':') || *hour > 23 || *minute > 59 ||
        *second > 60) {
        return fail();
    }
    // system_clock counts nanoseconds in 64 bits: about 1678 to 2262. An expiration is near
    // now; outside these years the conversion would overflow (found by fuzz_aws_credentials).
    constexpr int kFirstYear = 1970;
    constexpr int kLastYear = 2200;
    if (*year < kFirstYear || *year > kLastYear) {
        return fail();
    }
    const std::chrono::year_month_day date{std::chrono::year(*year),
                                           std::chrono::month(static_cast<unsigned>(*month)),
                                           std::chrono::day(static_cast<unsigned>(*day))};
    if (!date.ok()) {
        return fail();
    }
    std::size_t pos = 19;
    if (char_at(text, pos, '.')) {
        ++pos;
        const std::size_t digits_begin = pos;
        while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos])) != 0) {
            ++pos;
        }
        if (pos == digits_begin) {
            return fail();
        }
        // Fractions of a second are dropped: expirations are whole seconds.
    }
    std::chrono::minutes offset{0};
    if (char_at(text, pos, 'Z') || char_at(text, pos, 'z')) {
        ++pos;
    } else if (char_at(text, pos, '+') || char_at(text, pos, '-')) {
        const bool ahead = text[pos] == '+';
        const auto offset_hours = number_at(text, pos + 1, 2);
        const bool colon = char_at(text, pos + 3, ':');
        const auto offset_minutes = number_at(text, pos + (colon ? 4 : 3), 2);
        if (!offset_hours || !offset_minutes || *offset_hours > 23 || *offset_minutes > 59) {
            return fail();
        }
        offset = std::chrono::hours(*offset_hours) + std::chrono::minutes(*offset_minutes);
        if (!ahead) {
            offset = -offset;
        }
        pos += colon ? 6 : 5;
    } else {
        return fail();  // a time without a zone would be read in the wrong one
    }
    if (pos != text.size()) {
        return fail();
    }
    const auto local = std::chrono::sys_days(date) + std::chrono::hours(*hour) +
                       std::chrono::minutes(*minute) + std::chrono::seconds(*second);
    return system_clock::time_point(local - offset);
}

core::Result<AwsTemporaryCredentials> parse_credentials_json(std::string_view body) {
    boost::system::error_code ec;
    const json::value root = json::parse(body, ec);
    if (ec || !root.is_object()) {
        // Not quoted: a cut-off answer may hold the secret key.
        return corrupt("credentials response is not a JSON object (" + std::to_string(body.size()) +
                       " bytes)");
    }
    const json::object& object = root.get_object();
    // Instance metadata says why it has no credentials in Code and Message.
    if (const json::value* code = object.if_contains("Code");
        code != nullptr && code->is_string() && code->get_string() != "Success") {
        const std::string message = optional_string(object, "Message");
        return core::fail(core::ErrorCode::kUnavailable,
                          body_excerpt(std::string(code->get_string()) +
                                       (message.empty() ? "" : ": " + message)));
    }
    AwsTemporaryCredentials out;
    auto access_key_id = required_string(object, "AccessKeyId");
    auto secret = required_string(object, "SecretAccessKey");
    auto token = required_string(object, "Token");
    auto expiration_text = required_string(object, "Expiration");
    for (const auto* field : {&access_key_id, &secret, &token, &expiration_text}) {
        if (!*field) {
            return field->error();
        }
    }
    auto expiration = parse_iso8601(*expiration_text);
    if (!expiration) {
        return corrupt("credentials response's Expiration: " + expiration.error().detail);
    }
    out.credentials = {std::move(*access_key_id), std::move(*secret), std::move(*token)};
    out.expiration = *expiration;
    return out;
}

std::optional<std::string> sts_error_message(std::string_view body) {
    const auto response = xml_element(body, "ErrorResponse");
    const auto error = response ? xml_element(*response, "Error") : std::nullopt;
    if (!error) {
        return std::nullopt;
    }
    std::string code = xml_text(*error, "Code");
    const std::string message = xml_text(*error, "Message");
    if (code.empty()) {
        code = "STS error";
    }
    return body_excerpt(message.empty() ? code : code + ": " + message);
}

core::Result<AwsTemporaryCredentials> parse_assume_role_response(std::string_view body) {
    if (auto error = sts_error_message(body)) {
        return core::fail(core::ErrorCode::kUnavailable, std::move(*error));
    }
    const auto result = xml_element(body, "AssumeRoleWithWebIdentityResult");
    const auto credentials = result ? xml_element(*result, "Credentials") : std::nullopt;
    if (!credentials) {
        // Not quoted: a cut-off answer may hold the secret key.
        return corrupt("STS response has no AssumeRoleWithWebIdentityResult/Credentials (" +
                       std::to_string(body.size()) + " bytes)");
    }
    AwsTemporaryCredentials out;
    out.credentials.access_key_id = xml_text(*credentials, "AccessKeyId");
    out.credentials.secret_access_key = xml_text(*credentials, "SecretAccessKey");
    out.credentials.session_token = xml_text(*credentials, "SessionToken");
    const std::string expiration_text = xml_text(*credentials, "Expiration");
    using Field = std::pair<const std::string*, std::string_view>;
    for (const auto& [value, name] : {Field{&out.credentials.access_key_id, "AccessKeyId"},
                                      Field{&out.credentials.secret_access_key, "SecretAccessKey"},
                                      Field{&out.credentials.session_token, "SessionToken"},
                                      Field{&expiration_text, "Expiration"}}) {
        if (value->empty()) {
            return corrupt("STS response's Credentials has no " + std::string(name));
        }
    }
    auto expiration = parse_iso8601(expiration_text);
    if (!expiration) {
        return corrupt("STS response's Expiration: " + expiration.error().detail);
    }
    out.expiration = *expiration;
    return out;
}

std::string body_excerpt(std::string_view body) {
    body = core::trim_whitespace(body);
    if (body.size() <= kExcerptBytes) {
        return core::sanitize_utf8(body);
    }
    return core::sanitize_utf8(body.substr(0, kExcerptBytes)) + "...";
}

}  // namespace ragd::http
