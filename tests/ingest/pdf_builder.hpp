// Small, valid PDFs built in memory for tests: each page is lines of text set in Helvetica
// (one of the 14 standard fonts, so no font program is embedded), with a document information
// Title when one is given. What poppler extracts from them is what a text PDF exported by a
// word processor gives, without committing binary fixtures.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace ragd::ingest::testing {

/// A PDF string literal: ( ) and \ escaped.
inline std::string pdf_literal(std::string_view text) {
    std::string out = "(";
    for (char c : text) {
        if (c == '(' || c == ')' || c == '\\') {
            out += '\\';
        }
        out += c;
    }
    return out + ")";
}

/// One page per element of `pages`; each string is one printed line (an empty string leaves an
/// empty line). Bytes are WinAnsi (Latin-1 for printable ASCII and most accents).
/// `trailer_extra` is added to the trailer dictionary as is (e.g. an /Encrypt entry).
inline std::string make_pdf(const std::vector<std::vector<std::string>>& pages,
                            std::string_view title = {},
                            std::string_view trailer_extra = {}) {
    std::vector<std::string> objects;  // objects[i] is object number i + 1
    objects.emplace_back("<< /Type /Catalog /Pages 2 0 R >>");
    objects.emplace_back();  // the page tree, filled in below
    objects.emplace_back(
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>");
    std::string kids;
    for (const auto& lines : pages) {
        std::string content = "BT /F1 11 Tf 14 TL 72 740 Td\n";
        for (const std::string& line : lines) {
            content += line.empty() ? "T*\n" : pdf_literal(line) + " Tj T*\n";
        }
        content += "ET";
        const std::size_t page_number = objects.size() + 1;
        objects.push_back(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 "
            "R >> >> /Contents " +
            std::to_string(page_number + 1) + " 0 R >>");
        objects.push_back("<< /Length " + std::to_string(content.size()) + " >>\nstream\n" +
                          content + "\nendstream");
        kids += std::to_string(page_number) + " 0 R ";
    }
    objects[1] =
        "<< /Type /Pages /Kids [" + kids + "] /Count " + std::to_string(pages.size()) + " >>";
    std::string info_ref;
    if (!title.empty()) {
        objects.push_back("<< /Title " + pdf_literal(title) + " /Producer (ragd tests) >>");
        info_ref = " /Info " + std::to_string(objects.size()) + " 0 R";
    }

    std::string pdf = "%PDF-1.4\n";
    std::vector<std::size_t> offsets;
    for (std::size_t i = 0; i < objects.size(); ++i) {
        offsets.push_back(pdf.size());
        pdf += std::to_string(i + 1) + " 0 obj\n" + objects[i] + "\nendobj\n";
    }
    const std::size_t xref = pdf.size();
    pdf += "xref\n0 " + std::to_string(objects.size() + 1) + "\n0000000000 65535 f \n";
    for (std::size_t offset : offsets) {
        char entry[32];
        std::snprintf(entry, sizeof entry, "%010zu 00000 n \n", offset);
        pdf += entry;
    }
    pdf += "trailer\n<< /Size " + std::to_string(objects.size() + 1) + " /Root 1 0 R" + info_ref +
           std::string(trailer_extra) + " >>\nstartxref\n" + std::to_string(xref) + "\n%%EOF\n";
    return pdf;
}

}  // namespace ragd::ingest::testing
