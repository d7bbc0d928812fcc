// UTF-8 validation and repair. Bytes from outside (documents, client input, upstream bodies) may
// be anything; everything past the parsers (tokenizers, JSON responses, SQLite, logs) may assume
// valid UTF-8.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ragd::core {

/// U+FFFD REPLACEMENT CHARACTER, encoded.
inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";

/// Length in bytes of the well-formed UTF-8 sequence at the start of `text` (1–4), or 0 when the
/// bytes there are not a well-formed sequence (overlongs, surrogates and > U+10FFFF are rejected).
std::size_t utf8_sequence_length(std::string_view text);

/// True when all of `text` is well-formed UTF-8.
bool is_valid_utf8(std::string_view text);

/// `text` with each maximal ill-formed subsequence replaced by U+FFFD (the Unicode-recommended
/// "substitution of maximal subparts"), so "\xE2\x82" becomes one U+FFFD, "\xFF\xFF" two.
std::string sanitize_utf8(std::string_view text);

/// Length of the ill-formed prefix of `text` that becomes one U+FFFD (>= 1); precondition:
/// utf8_sequence_length(text) == 0 and !text.empty().
std::size_t utf8_invalid_prefix_length(std::string_view text);

/// Largest position <= `pos` that does not fall inside a multi-byte sequence (a position whose
/// byte is not a continuation byte 10xxxxxx, or text.size()). Never moves back more than 3 bytes.
std::size_t utf8_floor_boundary(std::string_view text, std::size_t pos);

}  // namespace ragd::core
