// Sentence segmentation for extraction. Rule-based on purpose: passages are Markdown-ish chunks,
// so line structure (lists, code, tables) says as much about boundaries as punctuation does.
#include "llm/sentence_splitter.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace ragd::llm {

namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f';
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) {
        s.remove_prefix(1);
    }
    while (!s.empty() && is_space(s.back())) {
        s.remove_suffix(1);
    }
    return s;
}

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}

/// Words that end in a full stop without ending the sentence (lower-case, without the stop).
/// Units that double as abbreviations ("ms", "min", "sec") are left out: in technical text
/// "took 5 ms." ends a sentence far more often than "Ms." starts a name.
constexpr auto kAbbreviations = std::to_array<std::string_view>({
    "al",   "approx", "apr", "aug",  "ca",  "cf",   "corp", "dec", "dept", "dr",
    "e.g",  "eg",     "esp", "feb",  "fig", "figs", "i.e",  "ie",  "inc",  "jan",
    "jr",   "jul",    "jun", "ltd",  "mr",  "mrs",  "no",   "nov", "oct",  "pp",
    "prof", "ref",    "sep", "sept", "sr",  "st",   "vol",  "vs",  "viz",
});

bool is_abbreviation(std::string_view word_without_stop) {
    std::string lower;
    for (char c : word_without_stop) {
        lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    // Strip leading punctuation such as "(e.g".
    while (!lower.empty() && !std::isalnum(static_cast<unsigned char>(lower.front()))) {
        lower.erase(lower.begin());
    }
    if (lower.empty()) {
        return false;
    }
    if (std::find(kAbbreviations.begin(), kAbbreviations.end(), lower) != kAbbreviations.end()) {
        return true;
    }
    // Initials ("J.") and dotted forms ("U.S", "e.g" written oddly) do not end sentences.
    if (lower.size() == 1 && std::isalpha(static_cast<unsigned char>(lower[0]))) {
        return true;
    }
    return lower.find('.') != std::string::npos;
}

bool is_closing(char c) {
    return c == '"' || c == '\'' || c == ')' || c == ']' || c == '*';
}

/// Ideographic full stop and fullwidth ! ? end a sentence without a following space.
std::size_t cjk_terminator_length(std::string_view s, std::size_t pos) {
    constexpr std::array<std::string_view, 3> kTerminators = {
        "\xe3\x80\x82", "\xef\xbc\x81", "\xef\xbc\x9f"};
    for (std::string_view t : kTerminators) {
        if (s.substr(pos, t.size()) == t) {
            return t.size();
        }
    }
    return 0;
}

/// Pushes `text` as one or more units, cutting any longer than max_bytes at a word boundary.
void emit(std::vector<Sentence>& out,
          std::string_view text,
          SentenceKind kind,
          std::size_t max_bytes) {
    text = trim(text);
    while (!text.empty()) {
        std::string_view piece = text;
        if (piece.size() > max_bytes) {
            std::size_t cut = piece.rfind(' ', max_bytes);
            if (cut == std::string_view::npos || cut < max_bytes / 2) {
                cut = max_bytes;
                // Back up to the start of a UTF-8 sequence.
                while (cut > 0 && (static_cast<unsigned char>(piece[cut]) & 0xc0) == 0x80) {
                    --cut;
                }
            }
            piece = piece.substr(0, cut);
        }
        const std::string_view trimmed = trim(piece);
        const bool has_word = std::any_of(trimmed.begin(), trimmed.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || (c & 0x80) != 0;
        });
        if (has_word) {
            out.push_back(Sentence{std::string(trimmed), kind});
        }
        text = trim(text.substr(piece.size()));
    }
}

/// Splits one paragraph of running text at sentence-final punctuation.
void split_prose(std::vector<Sentence>& out,
                 std::string_view para,
                 SentenceKind kind,
                 std::size_t max_bytes) {
    std::size_t start = 0;
    std::size_t pos = 0;
    while (pos < para.size()) {
        if (const std::size_t cjk = cjk_terminator_length(para, pos); cjk > 0) {
            pos += cjk;
            emit(out, para.substr(start, pos - start), kind, max_bytes);
            start = pos;
            continue;
        }
        const char c = para[pos];
        if (c != '.' && c != '!' && c != '?') {
            ++pos;
            continue;
        }
        std::size_t end = pos + 1;  // past the terminator run and closing quotes/brackets
        while (end < para.size() && (para[end] == '.' || para[end] == '!' || para[end] == '?' ||
                                     is_closing(para[end]))) {
            ++end;
        }
        if (end < para.size() && !is_space(para[end])) {
            pos = end;  // "3.14", "ragd.sqlite", "a.b": no space, no boundary
            continue;
        }
        std::size_t next = end;
        while (next < para.size() && is_space(para[next])) {
            ++next;
        }
        bool boundary = true;
        if (next < para.size()) {
            const auto n = static_cast<unsigned char>(para[next]);
            if (n >= 'a' && n <= 'z') {
                boundary = false;  // sentences start with a capital, digit or symbol
            } else if (c == '.' && end == pos + 1) {
                std::size_t word_begin = pos;
                while (word_begin > start && !is_space(para[word_begin - 1])) {
                    --word_begin;
                }
                boundary = !is_abbreviation(para.substr(word_begin, pos - word_begin));
            }
        }
        if (boundary) {
            emit(out, para.substr(start, end - start), kind, max_bytes);
            start = end;
        }
        pos = end;
    }
    emit(out, para.substr(start), kind, max_bytes);
}

/// Length of a list marker ("- ", "* ", "+ ", "• ", "12. ", "3) ") at the start of `line`.
std::size_t list_marker_length(std::string_view line) {
    for (std::string_view marker : {"- ", "* ", "+ ", "\xe2\x80\xa2 "}) {
        if (starts_with(line, marker)) {
            return marker.size();
        }
    }
    std::size_t digits = 0;
    while (digits < line.size() && digits < 4 &&
           std::isdigit(static_cast<unsigned char>(line[digits]))) {
        ++digits;
    }
    if (digits > 0 && digits + 1 < line.size() && (line[digits] == '.' || line[digits] == ')') &&
        line[digits + 1] == ' ') {
        return digits + 2;
    }
    return 0;
}

bool is_heading(std::string_view line) {
    std::size_t hashes = 0;
    while (hashes < line.size() && line[hashes] == '#') {
        ++hashes;
    }
    return hashes > 0 && hashes <= 6 && (hashes == line.size() || line[hashes] == ' ');
}

/// Shell prompts and lines ending like C-family statements read as code even inside prose.
bool looks_like_code(std::string_view trimmed) {
    if (starts_with(trimmed, "$ ") || starts_with(trimmed, "#include") ||
        starts_with(trimmed, "//")) {
        return true;
    }
    // Command lines as documentation shows them: common tools, relative paths, continuations.
    for (std::string_view command : {"curl ", "./", "sudo ", "apt-get ", "git ", "cmake "}) {
        if (starts_with(trimmed, command)) {
            return true;
        }
    }
    // Option flags ("-d '...'", "--data DIR"; a list item is "- " with a space) and JSON.
    if (trimmed.size() > 1 && trimmed[0] == '-' &&
        (std::isalpha(static_cast<unsigned char>(trimmed[1])) || trimmed[1] == '-')) {
        return true;
    }
    if (trimmed[0] == '{' || trimmed[0] == '[' ||
        (trimmed[0] == '"' && trimmed.find("\":") != std::string_view::npos)) {
        return true;
    }
    const char last = trimmed.back();
    return last == ';' || last == '{' || last == '}' || last == '\\';
}

bool is_table_separator(std::string_view trimmed) {
    return std::all_of(trimmed.begin(), trimmed.end(), [](char c) {
        return c == '|' || c == '-' || c == ':' || c == ' ';
    });
}

}  // namespace

std::vector<Sentence> split_sentences(std::string_view text, std::size_t max_bytes) {
    max_bytes = std::max<std::size_t>(max_bytes, 16);
    std::vector<Sentence> out;
    std::string paragraph;
    SentenceKind paragraph_kind = SentenceKind::kProse;
    bool in_fence = false;
    auto flush = [&] {
        if (!paragraph.empty()) {
            split_prose(out, paragraph, paragraph_kind, max_bytes);
            paragraph.clear();
        }
        paragraph_kind = SentenceKind::kProse;
    };

    std::size_t line_begin = 0;
    while (line_begin <= text.size()) {
        std::size_t line_end = text.find('\n', line_begin);
        if (line_end == std::string_view::npos) {
            line_end = text.size();
        }
        const std::string_view line = text.substr(line_begin, line_end - line_begin);
        line_begin = line_end + 1;
        const std::string_view trimmed = trim(line);

        if (starts_with(trimmed, "```") || starts_with(trimmed, "~~~")) {
            flush();
            in_fence = !in_fence;
            continue;
        }
        if (in_fence) {
            emit(out, trimmed, SentenceKind::kCode, max_bytes);
            continue;
        }
        if (trimmed.empty()) {
            flush();
            continue;
        }
        if (is_heading(trimmed)) {
            flush();  // headings name a topic; they are not answers
            continue;
        }
        if (trimmed.front() == '|') {
            flush();
            if (!is_table_separator(trimmed)) {
                emit(out, trimmed, SentenceKind::kTable, max_bytes);
            }
            continue;
        }
        // Indented code cannot interrupt a paragraph (as in Markdown): mid-paragraph indentation
        // is a wrapped line.
        const bool indented = starts_with(line, "    ") || starts_with(line, "\t");
        if ((indented && paragraph.empty()) || looks_like_code(trimmed)) {
            flush();
            emit(out, trimmed, SentenceKind::kCode, max_bytes);
            continue;
        }
        if (const std::size_t marker = list_marker_length(trimmed); marker > 0) {
            flush();
            paragraph_kind = SentenceKind::kListItem;
            paragraph.assign(trim(trimmed.substr(marker)));
            continue;
        }
        if (!paragraph.empty()) {
            paragraph.push_back(' ');
        }
        paragraph.append(trimmed);
    }
    flush();
    return out;
}

}  // namespace ragd::llm
