// Assembles parser output into Sections: block separators, whitespace collapsing, list prefixes
// and source anchors, so the Markdown and HTML walkers only decide *what* a node contributes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/document.hpp"
#include "ingest/normalize.hpp"

namespace ragd::ingest {

class SectionBuilder {
public:
    static constexpr int kLineBreak = 1;
    static constexpr int kParagraphBreak = 2;

    /// Offsets passed to this builder are positions in `input.text()`.
    explicit SectionBuilder(const NormalizedInput& input);

    /// Finishes the current section and opens one under `heading_path` at `text_pos`.
    void start_section(std::vector<std::string> heading_path, std::uint64_t text_pos);

    /// Requests a line (kLineBreak) or paragraph (kParagraphBreak) break before the next text,
    /// which will be anchored at `text_pos`. Ignored right after prefix().
    void block(int level, std::uint64_t text_pos);

    /// Appends `text` as is (code, Markdown literals).
    void append(std::string_view text);

    /// Appends `text` with runs of ASCII whitespace collapsed to one space (HTML flow text).
    void append_collapsed(std::string_view text);

    /// Requests a single space before the next text unless a break is already pending.
    void space() { pending_space_ = true; }

    /// Appends a block marker such as "- " that belongs to the block just requested.
    void prefix(std::string_view marker);

    /// Finishes the last section; sections without text are dropped.
    std::vector<Section> finish();

private:
    void flush();
    void close_section(std::uint64_t source_end);

    const NormalizedInput& input_;
    std::vector<Section> sections_;
    Section current_;
    int pending_break_ = 0;
    bool pending_space_ = false;
    std::optional<std::uint64_t> pending_anchor_;
    bool after_prefix_ = false;
};

/// True for the bytes HTML and Markdown treat as whitespace.
inline bool is_ascii_space(char c) {
    return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/// `text` without leading and trailing ASCII whitespace.
std::string_view trim_ascii(std::string_view text);

/// `text` with whitespace runs collapsed to single spaces and trimmed.
std::string collapse_whitespace(std::string_view text);

}  // namespace ragd::ingest
