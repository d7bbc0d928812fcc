// JSON string escaping for code that writes JSON text by hand on a hot path (the load
// generator's request bodies, the mock LLM's token events), where building a Boost.JSON value
// per write would cost more than the write.
#pragma once

#include <string>
#include <string_view>

namespace ragd::core {

/// Appends `text` JSON-escaped, without surrounding quotes: '"', '\\' and control characters
/// below 0x20 are escaped (\n, \r, \t by name, the rest as \u00XX); every other byte, UTF-8
/// included, is copied as is. The caller is responsible for `text` being valid UTF-8.
void append_json_escaped(std::string& out, std::string_view text);

}  // namespace ragd::core
