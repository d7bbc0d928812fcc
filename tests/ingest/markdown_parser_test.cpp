// Markdown parsing: heading paths, what text is kept, front matter and source offsets.
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "ingest/parser.hpp"

namespace ragd::ingest {
namespace {

using Path = std::vector<std::string>;

ParsedDocument parse_md(std::string_view bytes) {
    auto result = parse_markdown(bytes);
    EXPECT_TRUE(result.has_value()) << (result ? "" : result.error().detail);
    return result ? std::move(*result) : ParsedDocument{};
}

const Section* find_section(const ParsedDocument& doc, const Path& path) {
    for (const Section& section : doc.sections) {
        if (section.heading_path == path) {
            return &section;
        }
    }
    return nullptr;
}

TEST(MarkdownParserTest, NestedHeadingsBuildPaths) {
    const auto doc = parse_md(
        "Intro text.\n\n"
        "# Guide\n\nGuide text.\n\n"
        "## Install\n\nInstall text.\n\n"
        "### Linux\n\nLinux text.\n\n"
        "## Configure\n\nConfigure text.\n\n"
        "#### Deep\n\nDeep text.\n\n"
        "# Appendix\n\nAppendix text.\n");
    EXPECT_EQ(doc.title, "Guide");
    ASSERT_EQ(doc.sections.size(), 7u);
    EXPECT_EQ(doc.sections[0].heading_path, Path{});
    EXPECT_EQ(doc.sections[0].text, "Intro text.");
    EXPECT_EQ(doc.sections[1].heading_path, (Path{"Guide"}));
    EXPECT_EQ(doc.sections[2].heading_path, (Path{"Guide", "Install"}));
    EXPECT_EQ(doc.sections[3].heading_path, (Path{"Guide", "Install", "Linux"}));
    EXPECT_EQ(doc.sections[3].text, "Linux text.");
    // A sibling h2 resets everything below it.
    EXPECT_EQ(doc.sections[4].heading_path, (Path{"Guide", "Configure"}));
    EXPECT_EQ(doc.sections[5].heading_path, (Path{"Guide", "Configure", "Deep"}));
    EXPECT_EQ(doc.sections[6].heading_path, (Path{"Appendix"}));
    EXPECT_EQ(doc.sections[6].text, "Appendix text.");
}

TEST(MarkdownParserTest, TitleFallsBackToFirstHeadingAndSetextHeadingsCount) {
    EXPECT_EQ(parse_md("## Second level\n\ntext\n\n### Third\n").title, "Second level");
    EXPECT_EQ(parse_md("Plain paragraph only.").title, "");
    const auto doc = parse_md("Setext Title\n============\n\nBody *with* **style**.\n");
    EXPECT_EQ(doc.title, "Setext Title");
    ASSERT_EQ(doc.sections.size(), 1u);
    EXPECT_EQ(doc.sections[0].heading_path, (Path{"Setext Title"}));
    EXPECT_EQ(doc.sections[0].text, "Body with style.");
}

TEST(MarkdownParserTest, HeadingTextDropsMarkupButKeepsCode) {
    const auto doc = parse_md("# The `ragd` *server* [docs](http://x.example)\n\nBody.\n");
    EXPECT_EQ(doc.title, "The ragd server docs");
    EXPECT_EQ(doc.sections.at(0).heading_path, (Path{"The ragd server docs"}));
}

TEST(MarkdownParserTest, CodeBlocksKeepLineBreaks) {
    const auto doc = parse_md(
        "Before.\n\n```cpp\nint main() {\n    return 0;\n}\n```\n\n    indented\n    "
        "code\n\nAfter.\n");
    ASSERT_EQ(doc.sections.size(), 1u);
    EXPECT_EQ(doc.sections[0].text,
              "Before.\n\nint main() {\n    return 0;\n}\n\nindented\ncode\n\nAfter.");
}

TEST(MarkdownParserTest, LinksKeepTextNotUrlsAndImagesKeepAlt) {
    const auto doc = parse_md(
        "See [the guide](https://example.com/guide) and <https://auto.example>, "
        "`inline code`, ![a diagram](img.png) and <span>inline html</span>.\n");
    ASSERT_EQ(doc.sections.size(), 1u);
    const std::string& text = doc.sections[0].text;
    EXPECT_NE(text.find("See the guide and"), std::string::npos) << text;
    EXPECT_EQ(text.find("example.com/guide"), std::string::npos) << text;
    EXPECT_NE(text.find("inline code"), std::string::npos);
    EXPECT_NE(text.find("a diagram"), std::string::npos);
    EXPECT_EQ(text.find("img.png"), std::string::npos);
    EXPECT_EQ(text.find("<span>"), std::string::npos);
    EXPECT_NE(text.find("inline html"), std::string::npos);
}

TEST(MarkdownParserTest, ListsQuotesAndHtmlBlocks) {
    const auto doc = parse_md(
        "Intro:\n\n- first item\n- second item\n  - nested item\n\n1. one\n2. two\n\n"
        "> quoted words\n\n<div class=\"note\">\n<b>Note</b> text\n</div>\n\n"
        "<!-- hidden comment -->\n\n<script>var x = 1;</script>\n\nEnd.\n");
    ASSERT_EQ(doc.sections.size(), 1u);
    EXPECT_EQ(doc.sections[0].text,
              "Intro:\n\n- first item\n- second item\n  - nested item\n\n1. one\n2. two\n\n"
              "quoted words\n\nNote text\n\nEnd.");
}

TEST(MarkdownParserTest, FrontMatterIsSkipped) {
    const std::string source =
        "---\ntitle: Not A Heading\ntags: [a, b]\n---\n# Real\n\nBody text.\n";
    const auto doc = parse_md(source);
    EXPECT_EQ(doc.title, "Real");
    ASSERT_EQ(doc.sections.size(), 1u);
    EXPECT_EQ(doc.sections[0].text, "Body text.");
    EXPECT_EQ(doc.sections[0].source_begin, source.find("# Real"));
    // Offsets are relative to the whole file, front matter included.
    ASSERT_FALSE(doc.sections[0].anchors.empty());
    EXPECT_EQ(doc.sections[0].anchors[0].source_offset, source.find("Body"));

    // Not at the very top, or never closed: not front matter.
    // ("title: x" above a "---" line is a setext heading.)
    const auto later = parse_md("text\n\n---\ntitle: x\n---\n");
    EXPECT_EQ(later.title, "title: x");
    EXPECT_EQ(later.sections.at(0).text, "text");
    const auto unclosed = parse_md("---\nkey: value\n");
    EXPECT_NE(unclosed.sections.at(0).text.find("key: value"), std::string::npos);
}

TEST(MarkdownParserTest, SectionOffsetsCoverTheirHeadings) {
    const std::string source = "# One\r\n\r\nfirst\r\n\r\n## Two\r\n\r\nsecond\r\n";
    const auto doc = parse_md(source);
    ASSERT_EQ(doc.sections.size(), 2u);
    EXPECT_EQ(doc.sections[0].source_begin, 0u);
    EXPECT_EQ(doc.sections[0].source_end, source.find("## Two"));
    EXPECT_EQ(doc.sections[1].source_begin, source.find("## Two"));
    EXPECT_EQ(doc.sections[1].source_end, source.size());
    EXPECT_EQ(doc.sections[1].anchors.at(0).source_offset, source.find("second"));
}

TEST(MarkdownParserTest, HeadingOnlyDocumentHasTitleButNoSections) {
    const auto doc = parse_md("# Lonely\n\n## Also empty\n");
    EXPECT_EQ(doc.title, "Lonely");
    EXPECT_TRUE(doc.sections.empty());
}

TEST(MarkdownParserTest, PipeTablesStayOneRowPerLine) {
    const auto doc = parse_md("| a | b |\n|---|---|\n| 1 | 2 |\n");
    ASSERT_EQ(doc.sections.size(), 1u);
    EXPECT_EQ(doc.sections[0].text, "| a | b |\n|---|---|\n| 1 | 2 |");
}

TEST(MarkdownParserTest, DeepNestingDoesNotOverflow) {
    const std::string quotes(20000, '>');
    const auto doc = parse_md(quotes + " deep\n");
    ASSERT_EQ(doc.sections.size(), 1u);
    EXPECT_EQ(doc.sections[0].text, "deep");
}

TEST(MarkdownParserTest, SampleFileParses) {
    std::ifstream in(std::string(RAGD_TEST_DATA_DIR) + "/ingest/sample.md", std::ios::binary);
    ASSERT_TRUE(in.good());
    std::stringstream buffer;
    buffer << in.rdbuf();
    const auto doc = parse_md(buffer.str());
    EXPECT_EQ(doc.title, "ragd sample document");
    ASSERT_GE(doc.sections.size(), 3u);
    EXPECT_NE(find_section(doc, {"ragd sample document", "Installation", "From source"}), nullptr);
}

}  // namespace
}  // namespace ragd::ingest
