// HTML parsing: visible text only, titles, heading paths, tables, entities, malformed input.
#include <string>

#include <gtest/gtest.h>

#include "ingest/parser.hpp"

namespace ragd::ingest {
namespace {

using Path = std::vector<std::string>;

ParsedDocument parse(std::string_view bytes) {
    auto result = parse_html(bytes);
    EXPECT_TRUE(result.has_value()) << (result ? "" : result.error().detail);
    return result ? std::move(*result) : ParsedDocument{};
}

std::string all_text(const ParsedDocument& doc) {
    std::string text;
    for (const Section& section : doc.sections) {
        text += section.text + "\n\n";
    }
    return text;
}

TEST(HtmlParserTest, SkipsNonContentElements) {
    const auto doc = parse(
        "<html><head><title>Page</title><style>p{color:red}</style>"
        "<script>var secret = 1;</script></head><body>"
        "<header>Site banner</header><nav><a href=/>Home</a></nav>"
        "<p>Visible paragraph.</p><script>alert('x')</script><noscript>Enable JS</noscript>"
        "<aside>Sidebar ad</aside><template><p>Template text</p></template>"
        "<div hidden>Hidden div</div><footer>Copyright</footer></body></html>");
    EXPECT_EQ(doc.title, "Page");
    ASSERT_EQ(doc.sections.size(), 1u);
    EXPECT_EQ(doc.sections[0].text, "Visible paragraph.");
}

TEST(HtmlParserTest, TitleFallsBackToFirstH1) {
    EXPECT_EQ(parse("<body><h2>Sub</h2><h1>Main  <em>Title</em></h1><p>x</p>").title, "Main Title");
    EXPECT_EQ(parse("<title>  Spaced\n title </title><h1>Other</h1>").title, "Spaced title");
    EXPECT_EQ(parse("<p>no headings</p>").title, "");
}

TEST(HtmlParserTest, HeadingsBuildPaths) {
    const auto doc = parse(
        "<p>Preface.</p><h1>Guide</h1><p>Guide text.</p><h2>Install</h2><p>Install text.</p>"
        "<h3>Linux</h3><p>Linux text.</p><h2>Configure</h2><p>Configure text.</p>");
    ASSERT_EQ(doc.sections.size(), 5u);
    EXPECT_EQ(doc.sections[0].heading_path, Path{});
    EXPECT_EQ(doc.sections[0].text, "Preface.");
    EXPECT_EQ(doc.sections[1].heading_path, (Path{"Guide"}));
    EXPECT_EQ(doc.sections[2].heading_path, (Path{"Guide", "Install"}));
    EXPECT_EQ(doc.sections[3].heading_path, (Path{"Guide", "Install", "Linux"}));
    EXPECT_EQ(doc.sections[4].heading_path, (Path{"Guide", "Configure"}));
    EXPECT_EQ(doc.sections[4].text, "Configure text.");
}

TEST(HtmlParserTest, ArticleHeaderKeepsItsHeading) {
    const auto doc = parse(
        "<body><header>Site</header><article><header><h1>Post</h1></header>"
        "<p>Post body.</p></article></body>");
    EXPECT_EQ(doc.title, "Post");
    ASSERT_EQ(doc.sections.size(), 1u);
    EXPECT_EQ(doc.sections[0].heading_path, (Path{"Post"}));
    EXPECT_EQ(doc.sections[0].text, "Post body.");
}

TEST(HtmlParserTest, TablesBecomePipeLines) {
    const auto doc = parse(
        "<table><tr><th>Name</th><th>Value</th></tr>"
        "<tr><td>alpha</td><td> 1 </td></tr><tr><td><p>beta</p></td><td>2</td></tr></table>");
    ASSERT_EQ(doc.sections.size(), 1u);
    EXPECT_EQ(doc.sections[0].text, "| Name | Value\n| alpha | 1\n| beta | 2");
}

TEST(HtmlParserTest, BlocksListsAndWhitespace) {
    const auto doc = parse(
        "<div>  Some   <b>bold</b>\n text  </div><p>Line one<br>line two</p>"
        "<ul><li>first</li><li>second <i>item</i></li></ul><pre>  keep\n    spacing</pre>");
    ASSERT_EQ(doc.sections.size(), 1u);
    EXPECT_EQ(
        doc.sections[0].text,
        "Some bold text\n\nLine one\nline two\n\n- first\n- second item\n\n  keep\n    spacing");
}

TEST(HtmlParserTest, EntitiesAreDecoded) {
    const auto doc = parse("<p>Fish &amp; chips &lt;3 &eacute;t&eacute; &#8364;5&nbsp;each</p>");
    ASSERT_EQ(doc.sections.size(), 1u);
    EXPECT_EQ(doc.sections[0].text,
              "Fish & chips <3 \xC3\xA9t\xC3\xA9 \xE2\x82\xAC"
              "5\xC2\xA0"
              "each");
}

TEST(HtmlParserTest, MalformedHtmlDoesNotCrash) {
    const char* inputs[] = {
        "<p>unclosed <b>bold <i>both</p> after",
        "<table><td>cell without row<td>next",
        "</div></p></body>stray closers",
        "<h1>heading <h2>nested heading</h1> text",
        "<<<>>><!-- unterminated comment",
        "<script>never closed",
        "<pre>",
        "",
    };
    for (const char* input : inputs) {
        auto result = parse_html(input);
        ASSERT_TRUE(result.has_value()) << input;
    }
    EXPECT_NE(all_text(parse("<p>unclosed <b>bold <i>both</p> after")).find("after"),
              std::string::npos);
    std::string deep;
    for (int depth = 0; depth < 5000; ++depth) {
        deep += "<div>";
    }
    deep += "bottom";
    EXPECT_EQ(parse(deep).sections.at(0).text, "bottom");
}

TEST(HtmlParserTest, SourceOffsetsFollowHeadings) {
    const std::string source = "<p>intro</p>\n<h2>Part</h2>\n<p>part text</p>";
    const auto doc = parse(source);
    ASSERT_EQ(doc.sections.size(), 2u);
    EXPECT_EQ(doc.sections[0].source_begin, 0u);
    EXPECT_EQ(doc.sections[0].source_end, source.find("<h2>"));
    EXPECT_EQ(doc.sections[1].source_begin, source.find("<h2>"));
    EXPECT_EQ(doc.sections[1].source_end, source.size());
    ASSERT_FALSE(doc.sections[1].anchors.empty());
    EXPECT_EQ(doc.sections[1].anchors[0].source_offset, source.find("<p>part"));
}

}  // namespace
}  // namespace ragd::ingest
