// SectionBuilder: separators are emitted lazily, when text follows, so empty blocks and
// trailing breaks never leave stray blank lines in a section.
#include "ingest/section_builder.hpp"

#include <algorithm>

namespace ragd::ingest {

SectionBuilder::SectionBuilder(const NormalizedInput& input) : input_(input) {}

void SectionBuilder::start_section(std::vector<std::string> heading_path, std::uint64_t text_pos) {
    const std::uint64_t begin = std::max(input_.to_source(text_pos), current_.source_begin);
    close_section(begin);
    current_ = Section{};
    current_.heading_path = std::move(heading_path);
    current_.source_begin = begin;
    pending_break_ = 0;
    pending_space_ = false;
    pending_anchor_.reset();
    after_prefix_ = false;
}

void SectionBuilder::block(int level, std::uint64_t text_pos) {
    if (after_prefix_) {
        return;
    }
    pending_break_ = std::max(pending_break_, level);
    pending_space_ = false;
    pending_anchor_ = text_pos;
}

void SectionBuilder::flush() {
    std::string& out = current_.text;
    if (!out.empty()) {
        if (pending_break_ == kParagraphBreak) {
            out.append("\n\n");
        } else if (pending_break_ == kLineBreak) {
            out.push_back('\n');
        } else if (pending_space_ && !is_ascii_space(out.back())) {
            out.push_back(' ');
        }
    }
    if (pending_anchor_) {
        // Sources of implied elements can run backwards; anchors must stay sorted.
        std::uint64_t source = std::max(input_.to_source(*pending_anchor_), current_.source_begin);
        if (!current_.anchors.empty()) {
            source = std::max(source, current_.anchors.back().source_offset);
        }
        if (!current_.anchors.empty() && current_.anchors.back().text_offset == out.size()) {
            current_.anchors.back().source_offset = source;
        } else {
            current_.anchors.push_back({out.size(), source, false});
        }
    }
    pending_break_ = 0;
    pending_space_ = false;
    pending_anchor_.reset();
}

void SectionBuilder::append(std::string_view text) {
    if (text.empty()) {
        return;
    }
    if (is_ascii_space(text.front())) {
        pending_space_ = false;  // the text brings its own
    }
    flush();
    current_.text.append(text);
    after_prefix_ = false;
}

void SectionBuilder::append_collapsed(std::string_view text) {
    std::size_t pos = 0;
    while (pos < text.size()) {
        if (is_ascii_space(text[pos])) {
            pending_space_ = true;
            while (pos < text.size() && is_ascii_space(text[pos])) {
                ++pos;
            }
            continue;
        }
        const std::size_t begin = pos;
        while (pos < text.size() && !is_ascii_space(text[pos])) {
            ++pos;
        }
        append(text.substr(begin, pos - begin));
    }
}

void SectionBuilder::prefix(std::string_view marker) {
    flush();
    current_.text.append(marker);
    after_prefix_ = true;
}

void SectionBuilder::close_section(std::uint64_t source_end) {
    std::string& text = current_.text;
    while (!text.empty() && is_ascii_space(text.back())) {
        text.pop_back();
    }
    if (trim_ascii(text).empty()) {
        return;
    }
    while (!current_.anchors.empty() && current_.anchors.back().text_offset >= text.size()) {
        current_.anchors.pop_back();
    }
    current_.source_end = std::max(source_end, current_.source_begin);
    for (SourceAnchor& anchor : current_.anchors) {
        anchor.source_offset = std::min(anchor.source_offset, current_.source_end);
    }
    sections_.push_back(std::move(current_));
}

std::vector<Section> SectionBuilder::finish() {
    close_section(input_.source_size());
    current_ = Section{};
    return std::move(sections_);
}

std::string_view trim_ascii(std::string_view text) {
    while (!text.empty() && is_ascii_space(text.front())) {
        text.remove_prefix(1);
    }
    while (!text.empty() && is_ascii_space(text.back())) {
        text.remove_suffix(1);
    }
    return text;
}

std::string collapse_whitespace(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    bool space = false;
    for (const char c : text) {
        if (is_ascii_space(c)) {
            space = !out.empty();
        } else {
            if (space) {
                out.push_back(' ');
                space = false;
            }
            out.push_back(c);
        }
    }
    return out;
}

}  // namespace ragd::ingest
