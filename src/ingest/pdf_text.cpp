// Line rejoining for PDF text (see pdf_text.hpp).
#include "ingest/pdf_text.hpp"

#include <algorithm>
#include <cstddef>
#include <unordered_map>
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

// A line with every digit run turned into one '#', ASCII letters lowered and whitespace
// collapsed: "Page 3 of 10" and "page 4  of 10" both become "page # of #".
std::string furniture_key(std::string_view line) {
    std::string key;
    key.reserve(line.size());
    for (std::size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (c >= '0' && c <= '9') {
            if (i == 0 || line[i - 1] < '0' || line[i - 1] > '9') {
                key += '#';
            }
        } else {
            key += (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
        }
    }
    return collapse_whitespace(key);
}

// The lines of `text` (split at '\n', untrimmed, views into `text`); "" gives one empty line.
std::vector<std::string_view> split_lines(std::string_view text) {
    std::vector<std::string_view> lines;
    for (std::size_t begin = 0; begin <= text.size();) {
        const std::size_t end = std::min(text.find('\n', begin), text.size());
        lines.push_back(text.substr(begin, end - begin));
        begin = end + 1;
    }
    return lines;
}

bool is_page_number(std::string_view key) {
    static constexpr std::string_view kShapes[] = {
        "#", "- # -", "-#-", "page #", "page # of #", "# of #", "# / #", "#/#", "[#]", "(#)"};
    return std::find(std::begin(kShapes), std::end(kShapes), key) != std::end(kShapes);
}

struct PageLine {
    std::size_t begin;  // byte offsets of the line in its page's text
    std::size_t end;
    std::string key;
};

// The first and last kEdgeLines non-blank lines of a page (fewer when the page is short; a
// line is listed once even when it is both).
std::vector<PageLine> edge_lines(std::string_view page) {
    std::vector<PageLine> lines;
    for (std::string_view line : split_lines(page)) {
        if (!trim_ascii(line).empty()) {
            const auto begin = static_cast<std::size_t>(line.data() - page.data());
            lines.push_back({begin, begin + line.size(), {}});
        }
    }
    if (lines.size() > 2 * kEdgeLines) {
        lines.erase(lines.begin() + kEdgeLines, lines.end() - kEdgeLines);
    }
    for (PageLine& line : lines) {
        line.key = furniture_key(page.substr(line.begin, line.end - line.begin));
    }
    return lines;
}

}  // namespace

std::vector<std::string> strip_page_furniture(const std::vector<std::string>& pages) {
    std::vector<std::vector<PageLine>> edges;
    edges.reserve(pages.size());
    std::unordered_map<std::string, std::size_t> pages_with_line;
    for (const std::string& page : pages) {
        edges.push_back(edge_lines(page));
        std::vector<std::string_view> seen;  // count a line once per page
        for (const PageLine& line : edges.back()) {
            if (std::find(seen.begin(), seen.end(), line.key) == seen.end()) {
                seen.push_back(line.key);
                ++pages_with_line[line.key];
            }
        }
    }
    const bool running_lines = pages.size() >= kMinPagesForRunningLines;
    std::vector<std::string> out;
    out.reserve(pages.size());
    for (std::size_t page_idx = 0; page_idx < pages.size(); ++page_idx) {
        const std::string& page = pages[page_idx];
        std::string kept;
        std::size_t copied_to = 0;
        for (const PageLine& line : edges[page_idx]) {
            const std::size_t recurs = pages_with_line[line.key];
            const bool furniture =
                is_page_number(line.key) ||
                (running_lines && recurs >= kMinPagesForRunningLines && 2 * recurs >= pages.size());
            if (!furniture) {
                continue;
            }
            kept.append(page, copied_to, line.begin - copied_to);
            copied_to = line.end;  // the line's text goes; its line break stays
        }
        kept.append(page, copied_to, std::string::npos);
        out.push_back(std::move(kept));
    }
    return out;
}

std::string reflow_pdf_page(std::string_view page_text) {
    const std::string text = clean_controls(page_text);
    std::vector<std::string_view> lines = split_lines(text);
    for (std::string_view& line : lines) {
        line = trim_ascii(line);
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
