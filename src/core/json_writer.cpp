#include "core/json_writer.hpp"

#include <charconv>
#include <cmath>

#include "core/json_escape.hpp"

namespace ragd::core {

JsonWriter& JsonWriter::open(char bracket) {
    separate();
    *out_ += bracket;
    need_comma_ = false;
    return *this;
}

JsonWriter& JsonWriter::close(char bracket) {
    *out_ += bracket;
    need_comma_ = true;
    return *this;
}

JsonWriter& JsonWriter::key(std::string_view name) {
    string(name);
    *out_ += ':';
    need_comma_ = false;  // the value that follows takes no comma
    return *this;
}

JsonWriter& JsonWriter::string(std::string_view value) {
    separate();
    *out_ += '"';
    append_json_escaped(*out_, value);
    *out_ += '"';
    need_comma_ = true;
    return *this;
}

JsonWriter& JsonWriter::literal(std::string_view text) {
    separate();
    *out_ += text;
    need_comma_ = true;
    return *this;
}

namespace {

/// `value` in its shortest JSON form, in `buffer`.
template <typename Number>
std::string_view format_number(char (&buffer)[32], Number value) {
    const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
    return {buffer, static_cast<std::size_t>(result.ptr - buffer)};
}

}  // namespace

JsonWriter& JsonWriter::integer(std::int64_t value) {
    char buffer[32];
    return literal(format_number(buffer, value));
}

JsonWriter& JsonWriter::unsigned_integer(std::uint64_t value) {
    char buffer[32];
    return literal(format_number(buffer, value));
}

JsonWriter& JsonWriter::number(double value) {
    if (!std::isfinite(value)) {
        return literal("null");
    }
    char buffer[32];
    return literal(format_number(buffer, value));
}

JsonWriter& JsonWriter::boolean(bool value) {
    return literal(value ? "true" : "false");
}

JsonWriter& JsonWriter::null() {
    return literal("null");
}

}  // namespace ragd::core
