// Format dispatch and the plain-text parser. Plain text keeps its bytes verbatim, so its source
// anchors are exact (chunks of .txt files get byte-precise source ranges).
#include "ingest/parser.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

#include "ingest/normalize.hpp"
#include "ingest/section_builder.hpp"

namespace ragd::ingest {
namespace {

constexpr std::size_t kMaxTextTitleBytes = 120;

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

bool is_blank_line(std::string_view line) {
    return trim_ascii(line).empty();
}

}  // namespace

std::optional<DocumentFormat> format_from_path(std::string_view path) {
    const std::size_t slash = path.find_last_of("/\\");
    const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
    const std::size_t dot = name.rfind('.');
    if (dot == std::string_view::npos || dot == 0) {
        return std::nullopt;
    }
    const std::string_view ext = name.substr(dot + 1);
    static constexpr std::array<std::pair<std::string_view, DocumentFormat>, 7> kExtensions{{
        {"txt", DocumentFormat::kText},
        {"text", DocumentFormat::kText},
        {"md", DocumentFormat::kMarkdown},
        {"markdown", DocumentFormat::kMarkdown},
        {"html", DocumentFormat::kHtml},
        {"htm", DocumentFormat::kHtml},
        {"pdf", DocumentFormat::kPdf},
    }};
    for (const auto& [known, format] : kExtensions) {
        if (iequals(ext, known)) {
            return format;
        }
    }
    return std::nullopt;
}

std::optional<DocumentFormat> format_from_name(std::string_view name) {
    static constexpr std::array<std::pair<std::string_view, DocumentFormat>, 7> kNames{{
        {"text", DocumentFormat::kText},
        {"txt", DocumentFormat::kText},
        {"plain", DocumentFormat::kText},
        {"markdown", DocumentFormat::kMarkdown},
        {"md", DocumentFormat::kMarkdown},
        {"html", DocumentFormat::kHtml},
        {"htm", DocumentFormat::kHtml},
    }};
    for (const auto& [known, format] : kNames) {
        if (iequals(name, known)) {
            return format;
        }
    }
    return std::nullopt;
}

core::Result<ParsedDocument> parse_document(std::string_view bytes, DocumentFormat format) {
    switch (format) {
        case DocumentFormat::kText:
            return parse_text(bytes);
        case DocumentFormat::kMarkdown:
            return parse_markdown(bytes);
        case DocumentFormat::kHtml:
            return parse_html(bytes);
        case DocumentFormat::kPdf:
            return parse_pdf(bytes);
    }
    return core::fail(core::ErrorCode::kUnsupported,
                      "document format " + std::to_string(static_cast<int>(format)));
}

core::Result<ParsedDocument> parse_text(std::string_view bytes) {
    auto input = normalize_input(bytes);
    if (!input) {
        return input.error();
    }
    const std::string_view text = input->text();
    const std::vector<OffsetShift>& shifts = input->shifts();
    std::size_t shift_idx = 0;

    ParsedDocument doc;
    Section section;
    section.source_end = input->source_size();
    section.text.reserve(text.size());
    bool title_seen = false;

    // Paragraph [begin, end) of text() is copied verbatim; one anchor at its start and one at
    // every offset shift inside it keep the text-to-source mapping exact.
    auto emit_paragraph = [&](std::size_t begin, std::size_t end) {
        if (!section.text.empty()) {
            section.text.append("\n\n");
        }
        const std::uint64_t text_base = section.text.size();
        section.anchors.push_back({text_base, input->to_source(begin), true});
        while (shift_idx < shifts.size() && shifts[shift_idx].text_pos <= begin) {
            ++shift_idx;
        }
        for (; shift_idx < shifts.size() && shifts[shift_idx].text_pos < end; ++shift_idx) {
            const std::uint64_t pos = shifts[shift_idx].text_pos;
            section.anchors.push_back({text_base + (pos - begin), input->to_source(pos), true});
        }
        section.text.append(text.substr(begin, end - begin));
    };

    std::size_t para_begin = std::string_view::npos;
    std::size_t para_end = 0;
    std::size_t line_begin = 0;
    while (line_begin < text.size()) {
        std::size_t line_end = text.find('\n', line_begin);
        if (line_end == std::string_view::npos) {
            line_end = text.size();
        }
        const std::string_view line = text.substr(line_begin, line_end - line_begin);
        if (is_blank_line(line)) {
            if (para_begin != std::string_view::npos) {
                emit_paragraph(para_begin, para_end);
                para_begin = std::string_view::npos;
            }
        } else {
            const std::string_view trimmed = trim_ascii(line);
            const std::size_t trimmed_begin = line_begin + (trimmed.data() - line.data());
            if (!title_seen) {
                title_seen = true;
                if (trimmed.size() <= kMaxTextTitleBytes) {
                    doc.title = std::string(trimmed);
                }
            }
            if (para_begin == std::string_view::npos) {
                para_begin = trimmed_begin;
            }
            para_end = trimmed_begin + trimmed.size();
        }
        line_begin = line_end + 1;
    }
    if (para_begin != std::string_view::npos) {
        emit_paragraph(para_begin, para_end);
    }
    if (!section.text.empty()) {
        doc.sections.push_back(std::move(section));
    }
    return doc;
}

}  // namespace ragd::ingest
