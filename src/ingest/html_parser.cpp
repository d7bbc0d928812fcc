// HTML via gumbo (an HTML5-conformant parser, so malformed pages parse the way browsers see
// them): visible body text only, headings as sections, table rows as "| a | b" lines.
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gumbo.h>

#include "ingest/normalize.hpp"
#include "ingest/parser.hpp"
#include "ingest/section_builder.hpp"

namespace ragd::ingest {
namespace {

struct OutputDeleter {
    void operator()(GumboOutput* output) const {
        gumbo_destroy_output(&kGumboDefaultOptions, output);
    }
};

enum class TagRole { kInline, kSkip, kParagraph, kLine, kListItem, kRow, kCell, kPre, kHeading };

TagRole role_of(GumboTag tag) {
    switch (tag) {
        case GUMBO_TAG_SCRIPT:
        case GUMBO_TAG_STYLE:
        case GUMBO_TAG_NAV:
        case GUMBO_TAG_NOSCRIPT:
        case GUMBO_TAG_TEMPLATE:
        case GUMBO_TAG_HEAD:
        case GUMBO_TAG_HEADER:
        case GUMBO_TAG_FOOTER:
        case GUMBO_TAG_ASIDE:
        case GUMBO_TAG_SVG:
        case GUMBO_TAG_MATH:
        case GUMBO_TAG_IFRAME:
        case GUMBO_TAG_OBJECT:
        case GUMBO_TAG_CANVAS:
        case GUMBO_TAG_SELECT:
        case GUMBO_TAG_TEXTAREA:
        case GUMBO_TAG_BUTTON:
        case GUMBO_TAG_MENU:
        case GUMBO_TAG_NOFRAMES:
        case GUMBO_TAG_NOEMBED:
            return TagRole::kSkip;
        case GUMBO_TAG_H1:
        case GUMBO_TAG_H2:
        case GUMBO_TAG_H3:
        case GUMBO_TAG_H4:
        case GUMBO_TAG_H5:
        case GUMBO_TAG_H6:
            return TagRole::kHeading;
        case GUMBO_TAG_P:
        case GUMBO_TAG_DIV:
        case GUMBO_TAG_SECTION:
        case GUMBO_TAG_ARTICLE:
        case GUMBO_TAG_MAIN:
        case GUMBO_TAG_BLOCKQUOTE:
        case GUMBO_TAG_UL:
        case GUMBO_TAG_OL:
        case GUMBO_TAG_DL:
        case GUMBO_TAG_TABLE:
        case GUMBO_TAG_FIGURE:
        case GUMBO_TAG_HR:
        case GUMBO_TAG_ADDRESS:
        case GUMBO_TAG_DETAILS:
        case GUMBO_TAG_FIELDSET:
        case GUMBO_TAG_FORM:
        case GUMBO_TAG_CENTER:
        case GUMBO_TAG_HGROUP:
            return TagRole::kParagraph;
        case GUMBO_TAG_BR:
        case GUMBO_TAG_DT:
        case GUMBO_TAG_DD:
        case GUMBO_TAG_CAPTION:
        case GUMBO_TAG_FIGCAPTION:
        case GUMBO_TAG_SUMMARY:
        case GUMBO_TAG_LEGEND:
            return TagRole::kLine;
        case GUMBO_TAG_LI:
            return TagRole::kListItem;
        case GUMBO_TAG_TR:
            return TagRole::kRow;
        case GUMBO_TAG_TD:
        case GUMBO_TAG_TH:
            return TagRole::kCell;
        case GUMBO_TAG_PRE:
        case GUMBO_TAG_LISTING:
        case GUMBO_TAG_XMP:
        case GUMBO_TAG_PLAINTEXT:
            return TagRole::kPre;
        default:
            return TagRole::kInline;
    }
}

bool is_hidden(const GumboElement& element) {
    if (gumbo_get_attribute(&element.attributes, "hidden") != nullptr) {
        return true;
    }
    const GumboAttribute* aria = gumbo_get_attribute(&element.attributes, "aria-hidden");
    return aria != nullptr && std::strcmp(aria->value, "true") == 0;
}

// Concatenated text of `node`'s descendants, whitespace collapsed (for <title>).
std::string descendant_text(const GumboNode* node) {
    std::string raw;
    std::vector<const GumboNode*> stack{node};
    while (!stack.empty()) {
        const GumboNode* current = stack.back();
        stack.pop_back();
        if (current->type == GUMBO_NODE_TEXT || current->type == GUMBO_NODE_CDATA ||
            current->type == GUMBO_NODE_WHITESPACE) {
            raw.append(current->v.text.text);
        } else if (current->type == GUMBO_NODE_ELEMENT) {
            const GumboVector& children = current->v.element.children;
            for (unsigned idx = children.length; idx > 0; --idx) {
                stack.push_back(static_cast<const GumboNode*>(children.data[idx - 1]));
            }
        }
    }
    return collapse_whitespace(raw);
}

std::string find_title(const GumboNode* root) {
    if (root == nullptr || root->type != GUMBO_NODE_ELEMENT) {
        return {};
    }
    const GumboVector& children = root->v.element.children;
    for (unsigned idx = 0; idx < children.length; ++idx) {
        const auto* child = static_cast<const GumboNode*>(children.data[idx]);
        if (child->type != GUMBO_NODE_ELEMENT || child->v.element.tag != GUMBO_TAG_HEAD) {
            continue;
        }
        const GumboVector& head = child->v.element.children;
        for (unsigned head_idx = 0; head_idx < head.length; ++head_idx) {
            const auto* item = static_cast<const GumboNode*>(head.data[head_idx]);
            if (item->type == GUMBO_NODE_ELEMENT && item->v.element.tag == GUMBO_TAG_TITLE) {
                return descendant_text(item);
            }
        }
    }
    return {};
}

struct HeadingEntry {
    int level = 0;
    std::string text;
};

// Walks the tree with an explicit stack: gumbo accepts arbitrarily deep nesting.
class HtmlWalker {
public:
    HtmlWalker(SectionBuilder& builder, std::string& first_h1)
        : builder_(builder), first_h1_(first_h1) {}

    void walk(const GumboNode* root) {
        if (root == nullptr) {
            return;
        }
        std::vector<Frame> stack;
        enter(root, stack);
        while (!stack.empty()) {
            Frame& frame = stack.back();
            const GumboVector& children = frame.node->v.element.children;
            if (frame.next_child < children.length) {
                const auto* child = static_cast<const GumboNode*>(children.data[frame.next_child]);
                ++frame.next_child;
                enter(child, stack);  // may reallocate `stack`; `frame` is not used after this
            } else {
                const GumboNode* node = frame.node;
                stack.pop_back();
                exit(node);
            }
        }
    }

private:
    struct Frame {
        const GumboNode* node;
        unsigned next_child;
    };

    void enter(const GumboNode* node, std::vector<Frame>& stack) {
        switch (node->type) {
            case GUMBO_NODE_ELEMENT:
                break;
            case GUMBO_NODE_TEXT:
            case GUMBO_NODE_CDATA:
            case GUMBO_NODE_WHITESPACE:
                text(node->v.text.text);
                return;
            default:  // comments, <template> contents
                return;
        }
        const GumboElement& element = node->v.element;
        const TagRole role = role_of(element.tag);
        const bool article_header = element.tag == GUMBO_TAG_HEADER && in_article_ > 0;
        if ((role == TagRole::kSkip && !article_header) || is_hidden(element)) {
            return;
        }
        const std::uint64_t pos = element.start_pos.offset;
        if (heading_level_ == 0) {
            switch (role) {
                case TagRole::kHeading:
                    heading_level_ = 1 + static_cast<int>(element.tag - GUMBO_TAG_H1);
                    heading_pos_ = pos;
                    heading_text_.clear();
                    break;
                case TagRole::kParagraph:
                case TagRole::kLine:
                case TagRole::kPre:
                    block(SectionBuilder::kParagraphBreak - (role == TagRole::kLine ? 1 : 0), pos);
                    break;
                case TagRole::kListItem:
                    if (cell_depth_ == 0) {
                        builder_.block(SectionBuilder::kLineBreak, pos);
                        builder_.prefix("- ");
                    }
                    break;
                case TagRole::kRow:
                    builder_.block(SectionBuilder::kLineBreak, pos);
                    row_cells_.push_back(0);
                    break;
                case TagRole::kCell:
                    if (!row_cells_.empty()) {
                        builder_.append(row_cells_.back()++ == 0 ? "| " : " | ");
                    }
                    ++cell_depth_;
                    break;
                default:
                    break;
            }
        }
        if (role == TagRole::kPre) {
            ++pre_depth_;
        }
        if (element.tag == GUMBO_TAG_ARTICLE || element.tag == GUMBO_TAG_MAIN) {
            ++in_article_;
        }
        if (element.tag == GUMBO_TAG_IMG && heading_level_ == 0) {
            // Alt text stands in for the image, as a screen reader would read it.
            if (const GumboAttribute* alt = gumbo_get_attribute(&element.attributes, "alt")) {
                builder_.append_collapsed(alt->value);
            }
        }
        stack.push_back({node, 0});
    }

    void exit(const GumboNode* node) {
        if (node->type != GUMBO_NODE_ELEMENT) {
            return;
        }
        const GumboElement& element = node->v.element;
        const TagRole role = role_of(element.tag);
        if (role == TagRole::kPre) {
            --pre_depth_;
        }
        if (element.tag == GUMBO_TAG_ARTICLE || element.tag == GUMBO_TAG_MAIN) {
            --in_article_;
        }
        if (role == TagRole::kHeading &&
            heading_level_ == 1 + static_cast<int>(element.tag - GUMBO_TAG_H1)) {
            finish_heading();
            return;
        }
        if (heading_level_ != 0) {
            return;
        }
        switch (role) {
            case TagRole::kParagraph:
            case TagRole::kPre:
                block(SectionBuilder::kParagraphBreak, element.end_pos.offset);
                break;
            case TagRole::kRow:
                if (!row_cells_.empty()) {
                    row_cells_.pop_back();
                }
                builder_.block(SectionBuilder::kLineBreak, element.end_pos.offset);
                break;
            case TagRole::kCell:
                cell_depth_ = cell_depth_ > 0 ? cell_depth_ - 1 : 0;
                break;
            case TagRole::kListItem:
                block(SectionBuilder::kLineBreak, element.end_pos.offset);
                break;
            default:
                break;
        }
    }

    // Inside table cells, block structure would tear the row apart: it becomes a space.
    void block(int level, std::uint64_t pos) {
        if (cell_depth_ > 0) {
            builder_.space();
        } else {
            builder_.block(level, pos);
        }
    }

    void text(const char* value) {
        if (heading_level_ != 0) {
            heading_text_.append(value);
        } else if (pre_depth_ > 0) {
            builder_.append(value);
        } else {
            builder_.append_collapsed(value);
        }
    }

    void finish_heading() {
        const int level = heading_level_;
        heading_level_ = 0;
        std::string title = collapse_whitespace(heading_text_);
        if (title.empty()) {
            return;
        }
        if (level == 1 && first_h1_.empty()) {
            first_h1_ = title;
        }
        while (!headings_.empty() && headings_.back().level >= level) {
            headings_.pop_back();
        }
        headings_.push_back({level, std::move(title)});
        std::vector<std::string> path;
        path.reserve(headings_.size());
        for (const HeadingEntry& entry : headings_) {
            path.push_back(entry.text);
        }
        builder_.start_section(std::move(path), heading_pos_);
    }

    SectionBuilder& builder_;
    std::string& first_h1_;
    std::vector<HeadingEntry> headings_;
    std::string heading_text_;
    int heading_level_ = 0;  // level of the heading being captured, 0 outside headings
    std::uint64_t heading_pos_ = 0;
    int pre_depth_ = 0;
    int cell_depth_ = 0;
    int in_article_ = 0;
    std::vector<int> row_cells_;  // cells emitted so far in each open table row
};

}  // namespace

core::Result<ParsedDocument> parse_html(std::string_view bytes) {
    auto input = normalize_input(bytes);
    if (!input) {
        return input.error();
    }
    const std::string_view text = input->text();
    GumboOptions options = kGumboDefaultOptions;
    options.max_errors = 0;  // parse errors are not reported; recording them costs time
    const std::unique_ptr<GumboOutput, OutputDeleter> output(
        gumbo_parse_with_options(&options, text.data(), text.size()));
    if (!output) {
        return core::fail(core::ErrorCode::kInternal, "gumbo failed to parse an HTML document");
    }

    ParsedDocument doc;
    SectionBuilder builder(*input);
    builder.start_section({}, 0);
    std::string first_h1;
    HtmlWalker walker(builder, first_h1);
    walker.walk(output->root);
    doc.sections = builder.finish();
    doc.title = find_title(output->root);
    if (doc.title.empty()) {
        doc.title = std::move(first_h1);
    }
    return doc;
}

}  // namespace ragd::ingest
