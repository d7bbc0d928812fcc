// Parsers for the document formats ragd ingests: plain text, Markdown (cmark) and HTML (gumbo).
#pragma once

#include <optional>
#include <string_view>

#include "core/error.hpp"
#include "ingest/document.hpp"

namespace ragd::ingest {

/// Format from a file name's extension (.txt .text .md .markdown .html .htm), case-insensitive;
/// nullopt for anything else.
std::optional<DocumentFormat> format_from_path(std::string_view path);

/// Format from a name such as "text", "markdown", "html" (as used in API requests).
std::optional<DocumentFormat> format_from_name(std::string_view name);

/// Parses `bytes` (expected UTF-8; invalid sequences are replaced by U+FFFD) in `format`.
/// Returns kInvalidArgument when the bytes are not text (e.g. contain NUL bytes).
core::Result<ParsedDocument> parse_document(std::string_view bytes, DocumentFormat format);

core::Result<ParsedDocument> parse_text(std::string_view bytes);
core::Result<ParsedDocument> parse_markdown(std::string_view bytes);
core::Result<ParsedDocument> parse_html(std::string_view bytes);

}  // namespace ragd::ingest
