// Line rejoining for PDF text (see pdf_text.hpp).
#include "ingest/pdf_text.hpp"

#include <algorithm>
#include <cstddef>
#include <vector>

#include "core/utf8.hpp"
#include "ingest/section_builder.hpp"

namespace ragd::ingest {
namespace {

// A page whose typical line is shorter than this (a table, a list of short items, a slide)
// gives no reliable "short line" signal; its lines are joined until a blank line.
constexpr std::size_t kMinTypicalLineChars = 24;
// A line under this fraction of the typical line ends its paragraph.
constexpr double kShortLineFraction = 0.6;

std::size_t char_count(std::string_view utf8) {
    return static_cast<std::size_t>(std::count_if(utf8.begin(), utf8.end(), [](char c) {
        return (static_cast<unsigned char>(c) & 0xC0U) != 0x80U;
    }));
}

bool is_ascii_lower(char c) {
    return c >= 'a' && c <= 'z';
}

bool is_ascii_letter(char c) {
    return is_ascii_lower(c) || (c >= 'A' && c <= 'Z');
}

bool is_ascii_alnum(char c) {
    return is_ascii_letter(c) || (c >= '0' && c <= '9');
}

// CR (not part of CRLF) and form feed become line breaks, every other control character (tab
// included) a space; a space at a line end is trimmed later.
std::string clean_controls(std::string_view text) {
    std::string out = core::sanitize_utf8(text);
    for (std::size_t i = 0; i < out.size(); ++i) {
        const auto byte = static_cast<unsigned char>(out[i]);
        const bool crlf = byte == '\r' && i + 1 < out.size() && out[i + 1] == '\n';
        if ((byte == '\r' && !crlf) || byte == '\f') {
            out[i] = '\n';
        } else if ((byte < 0x20 && byte != '\n') || byte == 0x7F) {
            out[i] = ' ';
        }
    }
    return out;
}

}  // namespace

std::string reflow_pdf_page(std::string_view page_text) {
    const std::string text = clean_controls(page_text);
    std::vector<std::string_view> lines;
    for (std::size_t begin = 0; begin <= text.size();) {
        std::size_t end = text.find('\n', begin);
        if (end == std::string::npos) {
            end = text.size();
        }
        lines.push_back(trim_ascii(std::string_view(text).substr(begin, end - begin)));
        begin = end + 1;
    }

    std::vector<std::size_t> lengths;
    for (std::string_view line : lines) {
        if (!line.empty()) {
            lengths.push_back(char_count(line));
        }
    }
    std::size_t typical = 0;
    if (!lengths.empty()) {
        // The 75th percentile: most lines of running text are full; the short ones are ends.
        const std::size_t rank = (lengths.size() * 3) / 4;
        std::nth_element(
            lengths.begin(), lengths.begin() + static_cast<std::ptrdiff_t>(rank), lengths.end());
        typical = lengths[rank];
    }
    const bool short_lines_end_paragraphs = typical >= kMinTypicalLineChars;

    std::string out;
    std::string paragraph;
    auto flush = [&]() {
        if (paragraph.empty()) {
            return;
        }
        if (!out.empty()) {
            out += "\n\n";
        }
        out += paragraph;
        paragraph.clear();
    };
    for (std::string_view line : lines) {
        if (line.empty()) {
            flush();
            continue;
        }
        if (paragraph.empty()) {
            paragraph.assign(line);
        } else if (paragraph.size() >= 2 && paragraph.back() == '-' &&
                   is_ascii_alnum(paragraph[paragraph.size() - 2])) {
            if (is_ascii_letter(paragraph[paragraph.size() - 2]) && is_ascii_lower(line.front())) {
                paragraph.pop_back();  // "exam-" + "ple": one word split at the line end
            }
            paragraph += line;  // else "2019-" + "2020", "Fusion-" + "Based": the hyphen stays
        } else {
            paragraph += ' ';
            paragraph += line;
        }
        if (short_lines_end_paragraphs && static_cast<double>(char_count(line)) <
                                              kShortLineFraction * static_cast<double>(typical)) {
            flush();
        }
    }
    flush();
    return out;
}

}  // namespace ragd::ingest
