// Writes JSON text straight into a std::string. For bodies built once per request on the hot
// path (answers with their sources, LLM requests with their prompts): a Boost.JSON value tree
// costs an allocation per member and a copy of every string before serializing, which was
// ~12 % of ragd's CPU per uncached query (bench/README.md, "JSON written directly").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ragd::core {

/// Appends to a string the caller owns and puts the commas. The caller writes a well-formed
/// shape: key() only directly inside an object and followed by one value, begin/end paired.
/// Strings are escaped by append_json_escaped (the caller keeps them valid UTF-8). Doubles are
/// written in the shortest form that reads back to the same double; a non-finite one, which
/// JSON cannot represent, is written as null.
class JsonWriter {
public:
    explicit JsonWriter(std::string& out) : out_(&out) {}

    JsonWriter& begin_object() { return open('{'); }
    JsonWriter& end_object() { return close('}'); }
    JsonWriter& begin_array() { return open('['); }
    JsonWriter& end_array() { return close(']'); }
    JsonWriter& key(std::string_view name);

    JsonWriter& string(std::string_view value);
    JsonWriter& integer(std::int64_t value);
    JsonWriter& unsigned_integer(std::uint64_t value);
    JsonWriter& number(double value);
    JsonWriter& boolean(bool value);
    JsonWriter& null();

    /// key(name) then the value.
    JsonWriter& member(std::string_view name, std::string_view value) {
        return key(name).string(value);
    }

private:
    JsonWriter& open(char bracket);
    JsonWriter& close(char bracket);
    /// A scalar already in JSON form (a number, true, false, null) as the next value.
    JsonWriter& literal(std::string_view text);
    /// A comma before a value or key that follows another in the same container.
    void separate() {
        if (need_comma_) {
            *out_ += ',';
        }
    }

    std::string* out_;
    bool need_comma_ = false;
};

}  // namespace ragd::core
