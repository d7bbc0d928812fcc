// Markdown via cmark: walks the AST iteratively (deeply nested quotes or lists cannot exhaust
// the stack) and turns headings into sections whose path is the stack of enclosing headings.
#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <cmark.h>

#include "ingest/normalize.hpp"
#include "ingest/parser.hpp"
#include "ingest/section_builder.hpp"

namespace ragd::ingest {
namespace {

struct NodeDeleter {
    void operator()(cmark_node* node) const { cmark_node_free(node); }
};
struct IterDeleter {
    void operator()(cmark_iter* iter) const { cmark_iter_free(iter); }
};

// Length of a YAML front matter block ("---" line, ..., "---" or "..." line) at the very top,
// including its closing line; 0 when there is none. An unclosed "---" is a thematic break.
std::size_t front_matter_length(std::string_view text) {
    auto line_at = [&](std::size_t pos) {
        const std::size_t end = text.find('\n', pos);
        return text.substr(pos, end == std::string_view::npos ? text.size() - pos : end - pos);
    };
    if (trim_ascii(line_at(0)) != "---" || text.substr(0, 3) != "---") {
        return 0;
    }
    std::size_t pos = line_at(0).size() + 1;
    while (pos < text.size()) {
        const std::string_view line = line_at(pos);
        const std::string_view trimmed = trim_ascii(line);
        pos += line.size() + 1;
        if ((trimmed == "---" || trimmed == "...") && line.substr(0, 3) == trimmed) {
            return std::min(pos, text.size());
        }
    }
    return 0;
}

// Maps cmark's 1-based (line, column) positions to byte offsets of the parsed text.
class LineTable {
public:
    explicit LineTable(std::string_view text) : size_(text.size()) {
        starts_.reserve(text.size() / 40 + 1);
        starts_.push_back(0);
        const char* data = text.data();
        const char* end = data + text.size();
        for (const char* p = data; p < end;) {
            const void* nl = std::memchr(p, '\n', static_cast<std::size_t>(end - p));
            if (nl == nullptr) {
                break;
            }
            p = static_cast<const char*>(nl) + 1;
            starts_.push_back(static_cast<std::size_t>(p - data));
        }
    }

    std::size_t offset(int line, int column) const {
        if (line < 1) {
            return 0;
        }
        const auto line_idx = static_cast<std::size_t>(line - 1);
        if (line_idx >= starts_.size()) {
            return size_;
        }
        const std::size_t col = column > 1 ? static_cast<std::size_t>(column - 1) : 0;
        return std::min(starts_[line_idx] + col, size_);
    }

private:
    std::vector<std::size_t> starts_;
    std::size_t size_;
};

bool starts_with_icase(std::string_view text, std::string_view prefix) {
    if (text.size() < prefix.size()) {
        return false;
    }
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) {
            return false;
        }
    }
    return true;
}

// Text of a raw HTML block: tags dropped, text between them kept. Blocks that are code or
// comments contribute nothing.
std::string html_block_text(std::string_view html) {
    html = trim_ascii(html);
    for (const std::string_view skip : {"<!--", "<script", "<style", "<?", "<![cdata["}) {
        if (starts_with_icase(html, skip)) {
            return {};
        }
    }
    std::string out;
    bool in_tag = false;
    for (const char c : html) {
        if (in_tag) {
            in_tag = c != '>';
        } else if (c == '<') {
            in_tag = true;
            out.push_back(' ');
        } else {
            out.push_back(c);
        }
    }
    return collapse_whitespace(out);
}

struct ListState {
    bool ordered = false;
    int next_number = 1;
};

struct HeadingEntry {
    int level = 0;
    std::string text;
};

}  // namespace

core::Result<ParsedDocument> parse_markdown(std::string_view bytes) {
    auto input = normalize_input(bytes);
    if (!input) {
        return input.error();
    }
    const std::string_view text = input->text();
    const std::size_t base = front_matter_length(text);
    const std::string_view body = text.substr(base);
    const LineTable lines(body);

    const std::unique_ptr<cmark_node, NodeDeleter> root(
        cmark_parse_document(body.data(), body.size(), CMARK_OPT_DEFAULT));
    if (!root) {
        return core::fail(core::ErrorCode::kInternal, "cmark failed to parse a Markdown document");
    }
    const std::unique_ptr<cmark_iter, IterDeleter> iter(cmark_iter_new(root.get()));

    ParsedDocument doc;
    SectionBuilder builder(*input);
    builder.start_section({}, base);
    std::vector<HeadingEntry> headings;
    std::vector<ListState> lists;
    std::string heading_text;
    bool in_heading = false;
    int heading_level = 0;
    std::uint64_t heading_pos = 0;
    std::string first_heading;
    bool have_h1 = false;

    auto start_of = [&](cmark_node* node) -> std::uint64_t {
        return base +
               lines.offset(cmark_node_get_start_line(node), cmark_node_get_start_column(node));
    };
    // Inside lists, blocks are separated by line breaks so items stay one per line.
    auto block_level = [&] {
        return lists.empty() ? SectionBuilder::kParagraphBreak : SectionBuilder::kLineBreak;
    };
    auto literal = [](cmark_node* node) {
        const char* value = cmark_node_get_literal(node);
        return value == nullptr ? std::string_view{} : std::string_view(value);
    };

    cmark_event_type event = CMARK_EVENT_NONE;
    while ((event = cmark_iter_next(iter.get())) != CMARK_EVENT_DONE) {
        cmark_node* node = cmark_iter_get_node(iter.get());
        const cmark_node_type type = cmark_node_get_type(node);
        const bool enter = event == CMARK_EVENT_ENTER;

        if (in_heading) {
            if (type == CMARK_NODE_HEADING && !enter) {
                in_heading = false;
                std::string title = collapse_whitespace(heading_text);
                if (title.empty()) {
                    continue;
                }
                while (!headings.empty() && headings.back().level >= heading_level) {
                    headings.pop_back();
                }
                headings.push_back({heading_level, title});
                std::vector<std::string> path;
                path.reserve(headings.size());
                for (const HeadingEntry& entry : headings) {
                    path.push_back(entry.text);
                }
                builder.start_section(std::move(path), heading_pos);
                if (heading_level == 1 && !have_h1) {
                    have_h1 = true;
                    doc.title = title;
                } else if (first_heading.empty()) {
                    first_heading = std::move(title);
                }
            } else if (type == CMARK_NODE_TEXT || type == CMARK_NODE_CODE) {
                heading_text.append(literal(node));
            } else if (type == CMARK_NODE_SOFTBREAK || type == CMARK_NODE_LINEBREAK) {
                heading_text.push_back(' ');
            }
            continue;
        }

        switch (type) {
            case CMARK_NODE_HEADING:
                if (enter) {
                    in_heading = true;
                    heading_level = cmark_node_get_heading_level(node);
                    heading_pos = start_of(node);
                    heading_text.clear();
                }
                break;
            case CMARK_NODE_PARAGRAPH:
            case CMARK_NODE_BLOCK_QUOTE:
            case CMARK_NODE_THEMATIC_BREAK:
                if (enter) {
                    builder.block(block_level(), start_of(node));
                }
                break;
            case CMARK_NODE_CODE_BLOCK: {
                builder.block(block_level(), start_of(node));
                std::string_view code = literal(node);
                while (!code.empty() && code.back() == '\n') {
                    code.remove_suffix(1);
                }
                builder.append(code);
                break;
            }
            case CMARK_NODE_HTML_BLOCK:
                builder.block(block_level(), start_of(node));
                builder.append(html_block_text(literal(node)));
                break;
            case CMARK_NODE_LIST:
                if (enter) {
                    builder.block(block_level(), start_of(node));
                    lists.push_back({cmark_node_get_list_type(node) == CMARK_ORDERED_LIST,
                                     cmark_node_get_list_start(node)});
                } else if (!lists.empty()) {
                    lists.pop_back();
                }
                break;
            case CMARK_NODE_ITEM:
                if (enter && !lists.empty()) {
                    builder.block(SectionBuilder::kLineBreak, start_of(node));
                    std::string marker(2 * (lists.size() - 1), ' ');
                    if (lists.back().ordered) {
                        marker += std::to_string(lists.back().next_number++) + ". ";
                    } else {
                        marker += "- ";
                    }
                    builder.prefix(marker);
                }
                break;
            case CMARK_NODE_TEXT:
            case CMARK_NODE_CODE:
                builder.append(literal(node));
                break;
            case CMARK_NODE_SOFTBREAK:
            case CMARK_NODE_LINEBREAK:
                // Keeping the author's line breaks keeps pipe tables and verse readable.
                builder.append("\n");
                break;
            default:
                // Emphasis, links and images contribute their children's text; inline HTML
                // tags and link destinations contribute nothing.
                break;
        }
    }
    doc.sections = builder.finish();
    if (!have_h1) {
        doc.title = std::move(first_heading);
    }
    return doc;
}

}  // namespace ragd::ingest
