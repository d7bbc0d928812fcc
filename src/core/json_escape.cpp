#include "core/json_escape.hpp"

namespace ragd::core {

void append_json_escaped(std::string& out, std::string_view text) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::size_t plain_start = 0;
    for (std::size_t pos = 0; pos < text.size(); ++pos) {
        const auto byte = static_cast<unsigned char>(text[pos]);
        if (byte >= 0x20 && byte != '"' && byte != '\\') {
            continue;
        }
        // Copy the run of plain bytes before this one in one append.
        out.append(text.data() + plain_start, pos - plain_start);
        plain_start = pos + 1;
        switch (byte) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                out += "\\u00";
                out += kHex[byte >> 4U];
                out += kHex[byte & 0xfU];
        }
    }
    out.append(text.data() + plain_start, text.size() - plain_start);
}

}  // namespace ragd::core
