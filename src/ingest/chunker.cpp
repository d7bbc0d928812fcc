// Chunker: one pass turns a section into "words" with running token counts and the strength of
// the break before each; chunks are then cut greedily at the strongest break in the back half
// of each window, and overlap is taken back from the previous chunk's end at a break.
//
// Token counting rule (approximate_tokens): text splits at ASCII whitespace into words; inside a
// word, every maximal run of "word bytes" (ASCII letters, digits, '_' and all bytes >= 0x80)
// counts ceil(length / 6) tokens and every maximal run of other printable bytes (punctuation)
// counts 1. "Hello, world." is 4 tokens; typical English prose comes out near 1.3 tokens per
// word, close to what BPE tokenizers produce; CJK text counts about 2 characters per token.
#include "ingest/chunker.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <string_view>
#include <tuple>
#include <utility>

#include "core/utf8.hpp"

namespace ragd::ingest {
namespace {

constexpr std::size_t kWordBytesPerToken = 6;
// A trailing piece smaller than this fraction of the target is merged into the chunk before it.
constexpr double kMinTailFraction = 0.25;
// Breaks earlier than this fraction of the target are not considered (chunks stay full).
constexpr double kMinFillFraction = 0.5;
// Overlap starts at a sentence start if that keeps at least this fraction of the overlap budget.
constexpr double kMinSentenceOverlapFraction = 1.0 / 3.0;
constexpr double kMaxOverlap = 0.5;
// Sections are scanned in slices whose offsets fit in 32 bits.
constexpr std::size_t kMaxSliceBytes = std::size_t{1} << 31;

enum CharClass : std::uint8_t { kSpace, kWordChar, kPunct };

constexpr std::array<std::uint8_t, 256> make_char_classes() {
    std::array<std::uint8_t, 256> classes{};
    for (int c = 0; c < 256; ++c) {
        const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                           (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
        const bool space =
            c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || c == 0;
        classes[static_cast<std::size_t>(c)] = space ? kSpace : (alnum ? kWordChar : kPunct);
    }
    return classes;
}
constexpr std::array<std::uint8_t, 256> kCharClasses = make_char_classes();

inline std::uint8_t char_class(char c) {
    return kCharClasses[static_cast<unsigned char>(c)];
}

// Strength of the break before a word; larger is preferred.
enum BreakKind : std::uint8_t {
    kIntraWord = 0,  // inside a word longer than the whole budget
    kWordBreak = 1,
    kLineBreak = 2,
    kSentenceBreak = 3,
    kParagraphBreak = 4,
};

struct Word {
    std::uint32_t begin;
    std::uint32_t end;
    std::uint32_t tokens_before;
    std::uint8_t kind_before;
};

bool is_initialism(std::string_view core) {
    // "e.g", "i.e", "U.S", "J": single letters separated by dots.
    for (std::size_t pos = 0; pos < core.size(); ++pos) {
        const bool letter_slot = pos % 2 == 0;
        const char c = core[pos];
        const bool is_letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (letter_slot ? !is_letter : c != '.') {
            return false;
        }
    }
    return core.size() % 2 == 1;
}

bool is_abbreviation(std::string_view core) {
    static constexpr std::array<std::string_view, 30> kAbbreviations{
        "etc", "vs",  "cf",  "mr",   "mrs",  "ms",   "dr", "prof", "sr",     "jr",
        "st",  "no",  "nos", "vol",  "fig",  "figs", "eq", "eqs",  "approx", "al",
        "inc", "ltd", "co",  "corp", "dept", "est",  "ed", "eds",  "resp",   "viz"};
    if (core.size() > 6) {
        return false;
    }
    std::array<char, 6> lower{};
    for (std::size_t pos = 0; pos < core.size(); ++pos) {
        const char c = core[pos];
        lower[pos] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    const std::string_view key(lower.data(), core.size());
    return std::find(kAbbreviations.begin(), kAbbreviations.end(), key) != kAbbreviations.end();
}

// True when `word` (no whitespace) ends a sentence: it ends in . ! or ? (possibly followed by
// closing quotes or brackets) and is not an abbreviation, an initial or an ellipsis.
bool ends_sentence(std::string_view word) {
    for (;;) {
        if (word.empty()) {
            return false;
        }
        const char last = word.back();
        if (last == '"' || last == '\'' || last == ')' || last == ']' || last == '}' ||
            last == '*' || last == '_') {
            word.remove_suffix(1);
        } else if (word.ends_with("\xE2\x80\x9D") || word.ends_with("\xE2\x80\x99")) {
            word.remove_suffix(3);  // ” or ’ closing quote
        } else {
            break;
        }
    }
    const char last = word.back();
    if (last == '!' || last == '?') {
        return true;
    }
    if (last != '.') {
        return false;
    }
    word.remove_suffix(1);
    if (word.empty() || word.back() == '.') {
        return false;  // an ellipsis usually continues the sentence
    }
    while (!word.empty() && (word.front() == '(' || word.front() == '[' || word.front() == '"' ||
                             word.front() == '\'')) {
        word.remove_prefix(1);
    }
    return !word.empty() && !is_initialism(word) && !is_abbreviation(word);
}

// Splits a word of more tokens than the whole budget into pieces of about `piece_tokens`,
// cutting only where a token unit starts on a UTF-8 character boundary.
void split_giant_word(std::string_view text,
                      std::size_t begin,
                      std::size_t end,
                      std::size_t piece_tokens,
                      std::uint8_t kind,
                      std::uint32_t& tokens,
                      std::vector<Word>& words) {
    std::size_t piece_begin = begin;
    std::size_t piece_acc = 0;
    std::size_t pos = begin;
    while (pos < end) {
        const bool boundary = (static_cast<unsigned char>(text[pos]) & 0xC0) != 0x80;
        // On invalid UTF-8 (long runs of continuation bytes) cut anyway rather than grow.
        if (piece_acc >= piece_tokens && (boundary || piece_acc >= 2 * piece_tokens)) {
            words.push_back({static_cast<std::uint32_t>(piece_begin),
                             static_cast<std::uint32_t>(pos),
                             tokens,
                             piece_begin == begin ? kind : std::uint8_t{kIntraWord}});
            tokens += static_cast<std::uint32_t>(piece_acc);
            piece_begin = pos;
            piece_acc = 0;
        }
        const std::uint8_t cls = char_class(text[pos]);
        std::size_t unit_end = pos + 1;
        if (cls == kWordChar) {
            while (unit_end < end && unit_end - pos < kWordBytesPerToken &&
                   char_class(text[unit_end]) == kWordChar) {
                ++unit_end;
            }
            // Finish the character, so that on valid UTF-8 every unit ends on a boundary.
            for (int extra = 0; extra < 3 && unit_end < end &&
                                (static_cast<unsigned char>(text[unit_end]) & 0xC0) == 0x80;
                 ++extra) {
                ++unit_end;
            }
        } else {
            while (unit_end < end && char_class(text[unit_end]) == kPunct) {
                ++unit_end;
            }
        }
        ++piece_acc;
        pos = unit_end;
    }
    words.push_back({static_cast<std::uint32_t>(piece_begin),
                     static_cast<std::uint32_t>(end),
                     tokens,
                     piece_begin == begin ? kind : std::uint8_t{kIntraWord}});
    tokens += static_cast<std::uint32_t>(piece_acc);
}

// Returns the total token count; `words` receives one entry per word (or word piece).
std::uint32_t scan_words(std::string_view text,
                         std::size_t max_word_tokens,
                         std::size_t piece_tokens,
                         std::vector<Word>& words) {
    words.clear();
    words.reserve(text.size() / 5 + 1);
    std::uint32_t tokens = 0;
    bool prev_sentence_end = false;
    const std::size_t size = text.size();
    std::size_t pos = 0;
    for (;;) {
        int newlines = 0;
        while (pos < size && char_class(text[pos]) == kSpace) {
            newlines += text[pos] == '\n' ? 1 : 0;
            ++pos;
        }
        if (pos == size) {
            break;
        }
        std::uint8_t kind = kWordBreak;
        if (words.empty() || newlines >= 2) {
            kind = kParagraphBreak;
        } else if (prev_sentence_end) {
            kind = kSentenceBreak;
        } else if (newlines == 1) {
            kind = kLineBreak;
        }
        const std::size_t word_begin = pos;
        std::size_t word_tokens = 0;
        while (pos < size) {
            const std::uint8_t cls = char_class(text[pos]);
            if (cls == kSpace) {
                break;
            }
            const std::size_t run_begin = pos;
            do {
                ++pos;
            } while (pos < size && char_class(text[pos]) == cls);
            word_tokens += cls == kWordChar
                               ? (pos - run_begin + kWordBytesPerToken - 1) / kWordBytesPerToken
                               : 1;
        }
        if (word_tokens <= max_word_tokens) {
            words.push_back({static_cast<std::uint32_t>(word_begin),
                             static_cast<std::uint32_t>(pos),
                             tokens,
                             kind});
            tokens += static_cast<std::uint32_t>(word_tokens);
        } else {
            split_giant_word(text, word_begin, pos, piece_tokens, kind, tokens, words);
        }
        prev_sentence_end = ends_sentence(text.substr(word_begin, pos - word_begin));
    }
    return tokens;
}

// Maps [text_begin, text_end) of `section.text` to a source byte range through its anchors.
std::pair<std::uint64_t, std::uint64_t> source_range(const Section& section,
                                                     std::uint64_t text_begin,
                                                     std::uint64_t text_end) {
    const std::uint64_t low = section.source_begin;
    const std::uint64_t high = std::max(section.source_end, section.source_begin);
    const std::vector<SourceAnchor>& anchors = section.anchors;
    if (anchors.empty()) {
        return {low, high};
    }
    auto limit_after = [&](std::size_t idx) {
        return idx + 1 < anchors.size() ? anchors[idx + 1].source_offset : high;
    };
    // Index of the last anchor at or before text position `pos`, or npos.
    auto anchor_at = [&](std::uint64_t pos) -> std::size_t {
        auto it = std::upper_bound(
            anchors.begin(), anchors.end(), pos, [](std::uint64_t value, const SourceAnchor& a) {
                return value < a.text_offset;
            });
        return it == anchors.begin() ? std::string_view::npos
                                     : static_cast<std::size_t>(it - anchors.begin() - 1);
    };
    std::uint64_t begin = low;
    if (const std::size_t idx = anchor_at(text_begin); idx != std::string_view::npos) {
        const SourceAnchor& anchor = anchors[idx];
        begin = anchor.source_offset;
        if (anchor.verbatim) {
            begin = std::min(begin + (text_begin - anchor.text_offset), limit_after(idx));
        }
    }
    std::uint64_t end = anchors.front().source_offset;
    if (const std::size_t idx = anchor_at(text_end == 0 ? 0 : text_end - 1);
        idx != std::string_view::npos) {
        const SourceAnchor& anchor = anchors[idx];
        end = anchor.verbatim ? std::min(anchor.source_offset + (text_end - anchor.text_offset),
                                         limit_after(idx))
                              : limit_after(idx);
    }
    begin = std::clamp(begin, low, high);
    end = std::clamp(end, begin, high);
    return {begin, end};
}

class SectionChunker {
public:
    SectionChunker(const ChunkerOptions& options, std::vector<ChunkDraft>& out) : out_(out) {
        target_ = std::max<std::size_t>(1, options.chunk_tokens);
        target_ = std::min<std::size_t>(target_, std::numeric_limits<std::uint32_t>::max() / 4);
        double overlap = std::isfinite(options.overlap) ? options.overlap : 0.0;
        overlap = std::clamp(overlap, 0.0, kMaxOverlap);
        overlap_tokens_ = static_cast<std::size_t>(overlap * static_cast<double>(target_));
        min_fill_ = static_cast<std::size_t>(kMinFillFraction * static_cast<double>(target_));
        min_tail_ = static_cast<std::size_t>(kMinTailFraction * static_cast<double>(target_));
    }

    void chunk(const Section& section) {
        std::string_view text = section.text;
        std::size_t base = 0;
        while (!text.empty()) {
            std::size_t slice = text.size();
            if (slice > kMaxSliceBytes) {
                slice = kMaxSliceBytes;
                while (slice > kMaxSliceBytes / 2 && char_class(text[slice]) != kSpace) {
                    --slice;
                }
                slice = core::utf8_floor_boundary(text, slice);
            }
            chunk_slice(section, text.substr(0, slice), base);
            text.remove_prefix(slice);
            base += slice;
        }
    }

private:
    std::uint32_t cum(std::size_t idx) const {
        return idx < words_.size() ? words_[idx].tokens_before : total_;
    }

    void chunk_slice(const Section& section, std::string_view text, std::size_t base) {
        total_ = scan_words(text, target_, std::max<std::size_t>(1, target_ / 4), words_);
        const std::size_t count = words_.size();
        if (count == 0) {
            return;
        }
        std::size_t start = 0;
        std::size_t prev_end = 0;
        for (;;) {
            const std::size_t first_allowed = std::max(start, prev_end) + 1;
            std::size_t end = count;
            if (total_ - cum(start) > target_) {
                // Largest end whose chunk fits the target.
                std::size_t lo = first_allowed;
                std::size_t hi = count;
                std::size_t fit = first_allowed;
                while (lo <= hi) {
                    const std::size_t mid = lo + (hi - lo) / 2;
                    if (cum(mid) - cum(start) <= target_) {
                        fit = mid;
                        lo = mid + 1;
                    } else {
                        if (mid == 0) {
                            break;
                        }
                        hi = mid - 1;
                    }
                }
                end = fit;
                std::uint8_t best_kind =
                    end < count ? words_[end].kind_before : std::uint8_t{kParagraphBreak};
                for (std::size_t idx = end; idx > first_allowed && best_kind < kParagraphBreak;) {
                    --idx;
                    if (cum(idx) - cum(start) < min_fill_) {
                        break;
                    }
                    if (words_[idx].kind_before > best_kind) {
                        best_kind = words_[idx].kind_before;
                        end = idx;
                    }
                }
                if (total_ - cum(end) < min_tail_) {
                    end = count;
                }
            }
            emit(section, text, base, start, end);
            if (end == count) {
                break;
            }
            start = overlap_start(start, end);
            prev_end = end;
        }
    }

    // First word of the next chunk: as far back from `end` as the overlap budget allows,
    // preferring a sentence start, never at or before the current chunk's first word.
    std::size_t overlap_start(std::size_t start, std::size_t end) const {
        if (overlap_tokens_ == 0) {
            return end;
        }
        std::size_t earliest = end;
        while (earliest > start + 1 && cum(end) - cum(earliest - 1) <= overlap_tokens_) {
            --earliest;
        }
        const auto min_sentence_overlap = static_cast<std::uint32_t>(
            kMinSentenceOverlapFraction * static_cast<double>(overlap_tokens_));
        for (std::size_t idx = earliest; idx < end; ++idx) {
            if (cum(end) - cum(idx) < min_sentence_overlap) {
                break;
            }
            if (words_[idx].kind_before >= kSentenceBreak) {
                return idx;
            }
        }
        for (std::size_t idx = earliest; idx < end; ++idx) {
            if (words_[idx].kind_before >= kWordBreak) {
                return idx;
            }
        }
        return end;
    }

    void emit(const Section& section,
              std::string_view text,
              std::size_t base,
              std::size_t first,
              std::size_t end) {
        const std::size_t text_begin = words_[first].begin;
        const std::size_t text_end = words_[end - 1].end;
        ChunkDraft draft;
        draft.ordinal = static_cast<std::uint32_t>(out_.size());
        draft.text.assign(text.substr(text_begin, text_end - text_begin));
        draft.heading_path = section.heading_path;
        std::tie(draft.source_begin, draft.source_end) =
            source_range(section, base + text_begin, base + text_end);
        out_.push_back(std::move(draft));
    }

    std::vector<ChunkDraft>& out_;
    std::size_t target_ = 0;
    std::size_t overlap_tokens_ = 0;
    std::size_t min_fill_ = 0;
    std::size_t min_tail_ = 0;
    std::vector<Word> words_;
    std::uint32_t total_ = 0;
};

}  // namespace

std::size_t approximate_tokens(std::string_view text) {
    std::size_t tokens = 0;
    std::size_t pos = 0;
    const std::size_t size = text.size();
    while (pos < size) {
        const std::uint8_t cls = char_class(text[pos]);
        const std::size_t run_begin = pos;
        do {
            ++pos;
        } while (pos < size && char_class(text[pos]) == cls);
        if (cls == kWordChar) {
            tokens += (pos - run_begin + kWordBytesPerToken - 1) / kWordBytesPerToken;
        } else if (cls == kPunct) {
            ++tokens;
        }
    }
    return tokens;
}

std::vector<ChunkDraft> chunk_document(const ParsedDocument& doc, const ChunkerOptions& options) {
    std::vector<ChunkDraft> chunks;
    SectionChunker chunker(options, chunks);
    for (const Section& section : doc.sections) {
        chunker.chunk(section);
    }
    return chunks;
}

}  // namespace ragd::ingest
