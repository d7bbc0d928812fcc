// Turning the text a PDF's page yields into paragraphs. A PDF has no paragraphs, only positioned
// glyphs: poppler returns one line per printed line, hard-wrapped at the column edge and with
// words hyphenated across lines. Chunking that as is would treat every printed line as a unit and
// split words at hyphens, so lines are rejoined here. Pure (no poppler), so it is unit-tested and
// fuzzed on its own.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ragd::ingest {

/// Rejoins one page's extracted lines into paragraphs separated by "\n\n":
/// - a blank line, or a line much shorter than the page's typical line (a heading, the last line
///   of a paragraph), ends a paragraph; other lines are joined with one space;
/// - a word hyphenated at a line end ("exam-" + "ple") is rejoined when the next line goes on in
///   lower case; other hyphens at a line end stay, without a space ("2019-" + "2020");
/// - CR and form feeds are line breaks, other control characters become spaces, invalid UTF-8 is
///   replaced by U+FFFD, and spaces at line ends are dropped.
/// Returns "" for a page with no visible text.
std::string reflow_pdf_page(std::string_view page_text);

/// Removes page furniture from pages' extracted texts (one string per page, lines separated by
/// '\n'), so that it does not end up inside passages:
/// - a line among the first or last kEdgeLines non-blank lines of a page that is only a page
///   number ("12", "- 12 -", "Page 3", "Page 3 of 10", "3 / 10");
/// - a running header or footer: a line in those positions that recurs (digits aside, so "Page
///   3" and "Page 4" are the same line) on at least half of the pages and on at least
///   kMinPagesForRunningLines of them.
/// Lines elsewhere on a page are never removed.
std::vector<std::string> strip_page_furniture(const std::vector<std::string>& pages);

inline constexpr std::size_t kEdgeLines = 2;
inline constexpr std::size_t kMinPagesForRunningLines = 3;

}  // namespace ragd::ingest
