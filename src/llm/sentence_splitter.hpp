// Splits a passage into sentence-sized units for extraction: prose into sentences, and list
// items, code lines and table rows into units of their own, since they have no full stops.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ragd::llm {

enum class SentenceKind { kProse, kListItem, kCode, kTable };

struct Sentence {
    std::string text;  ///< trimmed; list markers removed
    SentenceKind kind = SentenceKind::kProse;
};

/// Longest sentence kept whole, in bytes (default for split_sentences).
inline constexpr std::size_t kMaxSentenceBytes = 400;

/// Sentences of `text` in order. Knows common abbreviations ("e.g.", "Dr."), initials and
/// decimals; treats blank lines, list items, headings, table rows and code lines as
/// boundaries; skips headings, fences and table separator rows. Units longer than `max_bytes`
/// are cut at a word boundary (never inside a UTF-8 sequence).
std::vector<Sentence> split_sentences(std::string_view text,
                                      std::size_t max_bytes = kMaxSentenceBytes);

}  // namespace ragd::llm
