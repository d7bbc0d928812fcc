#include "core/json_escape.hpp"

#include <bit>
#include <cstdint>
#include <cstring>

namespace ragd::core {
namespace {

static_assert(std::endian::native == std::endian::little,
              "needs_escape() reads words little-endian");

constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
constexpr std::uint64_t kHighBits = 0x8080808080808080ULL;

/// Nonzero when one of the 8 bytes in `word` needs escaping: below 0x20, '"' or '\\'. The
/// classic SWAR tests: (x - n) & ~x & 0x80.. flags a byte below n (bytes >= 0x80, i.e. UTF-8,
/// never match), and a byte equal to c is a zero byte of x ^ c. Little-endian: the first byte
/// of the text is the lowest byte of the word.
std::uint64_t needs_escape(std::uint64_t word) {
    const std::uint64_t quote = word ^ (kOnes * '"');
    const std::uint64_t backslash = word ^ (kOnes * '\\');
    return ((word - kOnes * 0x20) | (quote - kOnes) | (backslash - kOnes)) & ~word & kHighBits;
}

}  // namespace

void append_json_escaped(std::string& out, std::string_view text) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::size_t plain_start = 0;
    for (std::size_t pos = 0; pos < text.size(); ++pos) {
        // Skip 8 plain bytes at a time (most of a prompt or a passage needs no escaping), and
        // jump straight to the first byte that needs it: the lowest flag of needs_escape() is
        // exact (a false flag can only sit above a true one, where the subtraction borrowed).
        while (pos + 8 <= text.size()) {
            std::uint64_t word = 0;
            std::memcpy(&word, text.data() + pos, sizeof(word));
            const std::uint64_t flags = needs_escape(word);
            if (flags != 0) {
                pos += static_cast<std::size_t>(std::countr_zero(flags)) / 8;
                break;
            }
            pos += 8;
        }
        if (pos >= text.size()) {
            break;
        }
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
