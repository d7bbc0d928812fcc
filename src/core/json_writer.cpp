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

namespace {

template <typename Number>
void append_number(std::string& out, Number value) {
    char buffer[32];
    const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
    out.append(buffer, result.ptr);
}

}  // namespace

JsonWriter& JsonWriter::integer(std::int64_t value) {
    separate();
    append_number(*out_, value);
    need_comma_ = true;
    return *this;
}

JsonWriter& JsonWriter::unsigned_integer(std::uint64_t value) {
    separate();
    append_number(*out_, value);
    need_comma_ = true;
    return *this;
}

JsonWriter& JsonWriter::number(double value) {
    separate();
    if (std::isfinite(value)) {
        append_number(*out_, value);
    } else {
        *out_ += "null";
    }
    need_comma_ = true;
    return *this;
}

JsonWriter& JsonWriter::boolean(bool value) {
    separate();
    *out_ += value ? "true" : "false";
    need_comma_ = true;
    return *this;
}

JsonWriter& JsonWriter::null() {
    separate();
    *out_ += "null";
    need_comma_ = true;
    return *this;
}

JsonWriter& JsonWriter::raw(std::string_view json) {
    separate();
    *out_ += json;
    need_comma_ = true;
    return *this;
}

}  // namespace ragd::core
