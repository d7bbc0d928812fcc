// Parsers for the document formats ragd ingests: plain text, Markdown (cmark), HTML (gumbo) and
// PDF (poppler).
#pragma once

#include <optional>
#include <string_view>

#include "core/error.hpp"
#include "ingest/document.hpp"

namespace ragd::ingest {

/// Format from a file name's extension (.txt .text .md .markdown .html .htm .pdf),
/// case-insensitive; nullopt for anything else.
std::optional<DocumentFormat> format_from_path(std::string_view path);

/// Format from a name such as "text", "markdown", "html" (as used in API requests, whose JSON
/// strings carry text: PDF is not among them).
std::optional<DocumentFormat> format_from_name(std::string_view name);

/// Parses `bytes` in `format`. Text formats expect UTF-8 (invalid sequences are replaced by
/// U+FFFD) and return kInvalidArgument when the bytes are not text (e.g. contain NUL bytes).
core::Result<ParsedDocument> parse_document(std::string_view bytes, DocumentFormat format);

core::Result<ParsedDocument> parse_text(std::string_view bytes);
core::Result<ParsedDocument> parse_markdown(std::string_view bytes);
core::Result<ParsedDocument> parse_html(std::string_view bytes);
/// kInvalidArgument for bytes that are not a readable PDF, kUnsupported for an encrypted one
/// (password needed) or one without extractable text (scanned pages: no OCR), kTooLarge over
/// 2 GiB. Never prints poppler's own diagnostics; the first one is part of the error.
core::Result<ParsedDocument> parse_pdf(std::string_view bytes);

}  // namespace ragd::ingest
