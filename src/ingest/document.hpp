// What a parser hands the chunker: a title and the document's text as sections, each under a
// heading path. Parsers know formats; the chunker knows nothing about formats.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ragd::ingest {

enum class DocumentFormat { kText, kMarkdown, kHtml, kPdf };

/// Where a block of a section's text came from. Anchors let the chunker report source ranges
/// finer than a whole section; a section without anchors maps every chunk to the whole section.
struct SourceAnchor {
    std::uint64_t text_offset = 0;    ///< byte offset in Section::text where the block starts
    std::uint64_t source_offset = 0;  ///< byte offset in the source where the block starts
    /// True when the text from text_offset up to the next anchor is a byte-for-byte copy of the
    /// source from source_offset (plain text), so positions inside the block map exactly.
    bool verbatim = false;
};

/// A run of text under one heading path. Paragraphs inside `text` are separated by "\n\n".
struct Section {
    std::vector<std::string> heading_path;  ///< outermost heading first; empty before any heading
    std::string text;                       ///< extracted plain text (UTF-8)
    std::uint64_t source_begin = 0;         ///< byte offset in the source where the section starts
    std::uint64_t source_end = 0;           ///< byte offset one past where the section ends
    /// Optional, sorted by text_offset and by source_offset; text before the first anchor maps to
    /// source_begin.
    std::vector<SourceAnchor> anchors;
};

struct ParsedDocument {
    std::string title;  ///< first heading or <title>; may be empty (caller falls back to file name)
    std::vector<Section> sections;
};

}  // namespace ragd::ingest
