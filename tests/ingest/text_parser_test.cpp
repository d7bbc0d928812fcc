// Plain-text parsing, input normalisation and format dispatch.
#include <string>

#include <gtest/gtest.h>

#include "core/utf8.hpp"
#include "ingest/normalize.hpp"
#include "ingest/parser.hpp"

namespace ragd::ingest {
namespace {

ParsedDocument parse_ok(std::string_view bytes, DocumentFormat format = DocumentFormat::kText) {
    auto result = parse_document(bytes, format);
    EXPECT_TRUE(result.has_value()) << (result ? "" : result.error().detail);
    return result ? std::move(*result) : ParsedDocument{};
}

TEST(TextParserTest, ParagraphsSplitOnBlankLines) {
    const std::string source =
        "Title line\n\nFirst para\ncontinues here.\n   \t\nSecond para.\n\n\n";
    const auto doc = parse_ok(source);
    EXPECT_EQ(doc.title, "Title line");
    ASSERT_EQ(doc.sections.size(), 1u);
    const Section& section = doc.sections[0];
    EXPECT_TRUE(section.heading_path.empty());
    EXPECT_EQ(section.text, "Title line\n\nFirst para\ncontinues here.\n\nSecond para.");
    EXPECT_EQ(section.source_begin, 0u);
    EXPECT_EQ(section.source_end, source.size());
}

TEST(TextParserTest, LongFirstLineIsNotATitle) {
    const std::string line(121, 'x');
    EXPECT_EQ(parse_ok(line + "\n\nbody").title, "");
    EXPECT_EQ(parse_ok("\n\n  " + std::string(120, 'y') + "  \nbody").title, std::string(120, 'y'));
}

TEST(TextParserTest, EmptyAndBlankInputsHaveNoSections) {
    EXPECT_TRUE(parse_ok("").sections.empty());
    EXPECT_TRUE(parse_ok(" \n\t\n\n ").sections.empty());
    EXPECT_EQ(parse_ok("").title, "");
}

TEST(TextParserTest, CrlfIsNormalisedAndOffsetsPointAtTheOriginal) {
    const std::string source = "alpha\r\nbeta\r\n\r\ngamma delta\r\n";
    const auto doc = parse_ok(source);
    ASSERT_EQ(doc.sections.size(), 1u);
    EXPECT_EQ(doc.sections[0].text, "alpha\nbeta\n\ngamma delta");
    EXPECT_EQ(doc.title, "alpha");
    // The anchor of the second paragraph points at "gamma" in the CRLF source.
    const auto& anchors = doc.sections[0].anchors;
    ASSERT_FALSE(anchors.empty());
    const std::size_t gamma_text = doc.sections[0].text.find("gamma");
    bool found = false;
    for (const SourceAnchor& anchor : anchors) {
        if (anchor.text_offset == gamma_text) {
            EXPECT_EQ(anchor.source_offset, source.find("gamma"));
            found = true;
        }
    }
    EXPECT_TRUE(found);
}

TEST(TextParserTest, LoneCarriageReturnsAreLineBreaks) {
    EXPECT_EQ(parse_ok("one\rtwo\r\rthree").sections.at(0).text, "one\ntwo\n\nthree");
}

TEST(TextParserTest, NulBytesAreRejectedAsBinary) {
    const std::string bytes("text\0more", 9);
    for (const auto format :
         {DocumentFormat::kText, DocumentFormat::kMarkdown, DocumentFormat::kHtml}) {
        auto result = parse_document(bytes, format);
        ASSERT_FALSE(result.has_value());
        EXPECT_EQ(result.error().code, core::ErrorCode::kInvalidArgument);
        EXPECT_NE(result.error().detail.find("binary content"), std::string::npos);
        EXPECT_NE(result.error().detail.find("offset 4"), std::string::npos);
    }
}

TEST(TextParserTest, InvalidUtf8IsReplaced) {
    const auto doc = parse_ok("caf\xE9 au lait\n\n\xFF\xFE ok");
    ASSERT_EQ(doc.sections.size(), 1u);
    const std::string fffd(core::kReplacementChar);
    EXPECT_EQ(doc.sections[0].text, "caf" + fffd + " au lait\n\n" + fffd + fffd + " ok");
    EXPECT_TRUE(core::is_valid_utf8(doc.sections[0].text));
    EXPECT_TRUE(core::is_valid_utf8(doc.title));
}

TEST(TextParserTest, ByteOrderMarkIsDropped) {
    const auto doc = parse_ok("\xEF\xBB\xBFHello\n\nworld");
    EXPECT_EQ(doc.title, "Hello");
    EXPECT_EQ(doc.sections.at(0).text, "Hello\n\nworld");
    EXPECT_EQ(doc.sections.at(0).anchors.at(0).source_offset, 3u);
}

TEST(NormalizeTest, OffsetsMapBackThroughEveryShift) {
    // BOM (+3), CRLF (+1), one invalid byte turned into 3 bytes (-2).
    const std::string source =
        "\xEF\xBB\xBF"
        "ab\r\ncd\xFF"
        "ef";
    auto input = normalize_input(source);
    ASSERT_TRUE(input.has_value());
    EXPECT_EQ(input->text(),
              "ab\ncd\xEF\xBF\xBD"
              "ef");
    EXPECT_EQ(input->to_source(0), 3u);   // 'a'
    EXPECT_EQ(input->to_source(3), 7u);   // 'c'
    EXPECT_EQ(input->to_source(5), 9u);   // the bad byte
    EXPECT_EQ(input->to_source(8), 10u);  // 'e'
    EXPECT_EQ(input->to_source(100), source.size());
}

TEST(NormalizeTest, CleanInputIsNotCopied) {
    const std::string source = "already clean\ntext";
    auto input = normalize_input(source);
    ASSERT_TRUE(input.has_value());
    EXPECT_EQ(input->text().data(), source.data());
    EXPECT_TRUE(input->shifts().empty());
}

TEST(FormatTest, FromPath) {
    EXPECT_EQ(format_from_path("notes.txt"), DocumentFormat::kText);
    EXPECT_EQ(format_from_path("/a/b/README.MD"), DocumentFormat::kMarkdown);
    EXPECT_EQ(format_from_path("x.markdown"), DocumentFormat::kMarkdown);
    EXPECT_EQ(format_from_path("C:\\docs\\Page.HTM"), DocumentFormat::kHtml);
    EXPECT_EQ(format_from_path("index.html"), DocumentFormat::kHtml);
    EXPECT_EQ(format_from_path("a.text"), DocumentFormat::kText);
    EXPECT_EQ(format_from_path("report.pdf"), DocumentFormat::kPdf);
    EXPECT_EQ(format_from_path("slides.pptx"), std::nullopt);
    EXPECT_EQ(format_from_path("Makefile"), std::nullopt);
    EXPECT_EQ(format_from_path(".md"), std::nullopt);
    EXPECT_EQ(format_from_path("dir.md/file"), std::nullopt);
    EXPECT_EQ(format_from_path(""), std::nullopt);
}

TEST(FormatTest, FromName) {
    EXPECT_EQ(format_from_name("text"), DocumentFormat::kText);
    EXPECT_EQ(format_from_name("Markdown"), DocumentFormat::kMarkdown);
    EXPECT_EQ(format_from_name("md"), DocumentFormat::kMarkdown);
    EXPECT_EQ(format_from_name("HTML"), DocumentFormat::kHtml);
    EXPECT_EQ(format_from_name("pdf"), std::nullopt);
    EXPECT_EQ(format_from_name(""), std::nullopt);
}

TEST(FormatTest, DispatchUsesTheRightParser) {
    EXPECT_EQ(parse_ok("# Head\n\nbody", DocumentFormat::kMarkdown).title, "Head");
    EXPECT_EQ(parse_ok("# Head\n\nbody", DocumentFormat::kText).title, "# Head");
    EXPECT_EQ(parse_ok("<h1>Head</h1><p>body</p>", DocumentFormat::kHtml).title, "Head");
}

}  // namespace
}  // namespace ragd::ingest
