// UTF-8 validation and repair, following Unicode 15 §3.9 (Table 3-7, well-formed byte sequences).
#include "core/utf8.hpp"

#include <cstdint>
#include <cstring>

namespace ragd::core {
namespace {

// Allowed range of the second byte for each lead byte (Table 3-7); the third and fourth bytes
// are always 80..BF.
struct LeadInfo {
    std::uint8_t length;
    std::uint8_t second_lo;
    std::uint8_t second_hi;
};

LeadInfo lead_info(std::uint8_t lead) {
    if (lead < 0x80) {
        return {1, 0, 0};
    }
    if (lead >= 0xC2 && lead <= 0xDF) {
        return {2, 0x80, 0xBF};
    }
    if (lead == 0xE0) {
        return {3, 0xA0, 0xBF};
    }
    if (lead == 0xED) {
        return {3, 0x80, 0x9F};  // excludes UTF-16 surrogates
    }
    if (lead >= 0xE1 && lead <= 0xEF) {
        return {3, 0x80, 0xBF};
    }
    if (lead == 0xF0) {
        return {4, 0x90, 0xBF};
    }
    if (lead >= 0xF1 && lead <= 0xF3) {
        return {4, 0x80, 0xBF};
    }
    if (lead == 0xF4) {
        return {4, 0x80, 0x8F};  // <= U+10FFFF
    }
    return {0, 0, 0};
}

// Number of leading bytes of `text` that form a (possibly truncated) prefix of a well-formed
// sequence; equals the full length when the sequence is complete.
std::size_t valid_prefix(std::string_view text, LeadInfo info) {
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(text.data());
    std::size_t have = 1;
    for (; have < info.length && have < text.size(); ++have) {
        const std::uint8_t lo = have == 1 ? info.second_lo : 0x80;
        const std::uint8_t hi = have == 1 ? info.second_hi : 0xBF;
        if (bytes[have] < lo || bytes[have] > hi) {
            break;
        }
    }
    return have;
}

// Length of the leading run of ASCII bytes, eight at a time: most ingested text is ASCII.
std::size_t ascii_prefix(const char* data, std::size_t size) {
    std::size_t pos = 0;
    for (; pos + 8 <= size; pos += 8) {
        std::uint64_t word = 0;
        std::memcpy(&word, data + pos, 8);
        if ((word & 0x8080808080808080ULL) != 0) {
            break;
        }
    }
    while (pos < size && static_cast<unsigned char>(data[pos]) < 0x80) {
        ++pos;
    }
    return pos;
}

}  // namespace

std::size_t utf8_sequence_length(std::string_view text) {
    if (text.empty()) {
        return 0;
    }
    const LeadInfo info = lead_info(static_cast<std::uint8_t>(text[0]));
    if (info.length == 0) {
        return 0;
    }
    return valid_prefix(text, info) == info.length ? info.length : 0;
}

std::size_t utf8_invalid_prefix_length(std::string_view text) {
    const LeadInfo info = lead_info(static_cast<std::uint8_t>(text[0]));
    if (info.length == 0) {
        return 1;
    }
    // A truncated but otherwise valid prefix is one maximal subpart.
    return valid_prefix(text, info);
}

bool is_valid_utf8(std::string_view text) {
    std::size_t pos = 0;
    while (pos < text.size()) {
        pos += ascii_prefix(text.data() + pos, text.size() - pos);
        if (pos == text.size()) {
            break;
        }
        const std::size_t length = utf8_sequence_length(text.substr(pos));
        if (length == 0) {
            return false;
        }
        pos += length;
    }
    return true;
}

std::string sanitize_utf8(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    std::size_t pos = 0;
    while (pos < text.size()) {
        const std::size_t ascii = ascii_prefix(text.data() + pos, text.size() - pos);
        out.append(text.data() + pos, ascii);
        pos += ascii;
        if (pos == text.size()) {
            break;
        }
        const std::string_view rest = text.substr(pos);
        const std::size_t length = utf8_sequence_length(rest);
        if (length != 0) {
            out.append(rest.data(), length);
            pos += length;
        } else {
            out.append(kReplacementChar);
            pos += utf8_invalid_prefix_length(rest);
        }
    }
    return out;
}

std::size_t utf8_floor_boundary(std::string_view text, std::size_t pos) {
    if (pos >= text.size()) {
        return text.size();
    }
    for (int back = 0; back < 3 && pos > 0; ++back) {
        if ((static_cast<unsigned char>(text[pos]) & 0xC0) != 0x80) {
            break;
        }
        --pos;
    }
    return pos;
}

}  // namespace ragd::core
