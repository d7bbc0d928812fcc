// Parsers for the document formats ragd ingests: plain text, Markdown (cmark), HTML (gumbo) and
// PDF (poppler).
#pragma once

#include <cstddef>
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
/// Text extracted from one PDF beyond which parse_pdf gives up (kTooLarge): a PDF's compressed
/// streams can expand a file within ingest.max_file_bytes into gigabytes of text.
inline constexpr std::size_t kMaxPdfTextBytes = std::size_t{128} << 20;

/// kInvalidArgument for bytes that are not a readable PDF, kUnsupported for an encrypted one
/// (password needed) or one without extractable text (scanned pages: no OCR), kTooLarge over
/// 2 GiB of file or `max_text_bytes` of text. Never prints poppler's own diagnostics; the first
/// one is part of the error.
core::Result<ParsedDocument> parse_pdf(std::string_view bytes,
                                       std::size_t max_text_bytes = kMaxPdfTextBytes);

}  // namespace ragd::ingest
