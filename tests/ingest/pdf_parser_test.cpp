// PDF parsing through poppler: text in reading order, pages, titles, and the refusals (not a PDF,
// damaged, encrypted, no text) that ingest reports per file, without poppler printing anything.
#include <string>

#include <gtest/gtest.h>

#include "ingest/parser.hpp"
#include "pdf_builder.hpp"

namespace ragd::ingest {
namespace {

using testing::make_pdf;

ParsedDocument parse(std::string_view bytes) {
    auto result = parse_pdf(bytes);
    EXPECT_TRUE(result.has_value()) << (result ? "" : result.error().detail);
    return result ? std::move(*result) : ParsedDocument{};
}

core::Error parse_error(std::string_view bytes) {
    auto result = parse_pdf(bytes);
    EXPECT_FALSE(result.has_value());
    return result ? core::Error{} : result.error();
}

bool contains(std::string_view text, std::string_view part) {
    return text.find(part) != std::string_view::npos;
}

TEST(PdfParserTest, PagesBecomeParagraphsInReadingOrder) {
    const auto doc = parse(make_pdf({{"Replication Overview",
                                      "",
                                      "Streaming replication sends the write-ahead log from the",
                                      "primary to each standby as it is generated, so a standby",
                                      "stays close behind.",
                                      "A second paragraph starts here and it is set over two",
                                      "lines with a word that the typesetter hyphen-",
                                      "ated at the end of a line."},
                                     {"Page two: (parentheses) and a backslash \\ survive."}},
                                    "Replication Guide"));
    ASSERT_EQ(doc.sections.size(), 1U);
    EXPECT_EQ(doc.sections[0].text,
              "Replication Overview\n\n"
              "Streaming replication sends the write-ahead log from the primary to each standby "
              "as it is generated, so a standby stays close behind.\n\n"
              "A second paragraph starts here and it is set over two lines with a word that the "
              "typesetter hyphenated at the end of a line.\n\n"
              "Page two: (parentheses) and a backslash \\ survive.");
    EXPECT_TRUE(doc.sections[0].heading_path.empty());
}

TEST(PdfParserTest, RunningHeadersAndPageNumbersAreNotText) {
    const std::vector<std::string> bodies = {
        "Tide tables for Dover.", "Tide tables for Calais.", "Tide tables for Ostend."};
    std::vector<std::vector<std::string>> pages;
    for (std::size_t page = 0; page < bodies.size(); ++page) {
        pages.push_back({"Harbour Almanac 2026", "", bodies[page], "", std::to_string(page + 1)});
    }
    const auto doc = parse(make_pdf(pages));
    ASSERT_EQ(doc.sections.size(), 1U);
    EXPECT_EQ(doc.sections[0].text,
              "Tide tables for Dover.\n\nTide tables for Calais.\n\nTide tables for Ostend.");
    EXPECT_EQ(doc.title, "Tide tables for Dover.");
}

TEST(PdfParserTest, SectionCoversTheWholeFile) {
    const std::string pdf = make_pdf({{"Only one line of text on this page."}});
    const auto doc = parse(pdf);
    ASSERT_EQ(doc.sections.size(), 1U);
    EXPECT_EQ(doc.sections[0].source_begin, 0U);
    EXPECT_EQ(doc.sections[0].source_end, pdf.size());
}

TEST(PdfParserTest, TitleComesFromDocumentInformation) {
    EXPECT_EQ(parse(make_pdf({{"First line", "Body text."}}, "  The   Real Title ")).title,
              "The Real Title");
}

TEST(PdfParserTest, TitleIsOneLineWithoutControlCharacters) {
    EXPECT_EQ(parse(make_pdf({{"Body."}},
                             "Two\nlines\x01"
                             "and\ttabs"))
                  .title,
              "Two lines and tabs");
}

TEST(PdfParserTest, TitleFallsBackToTheFirstLine) {
    EXPECT_EQ(parse(make_pdf({{"", "Backup and Restore", "Body text of the page."}})).title,
              "Backup and Restore");
    // An information Title too long to be one is not used either.
    EXPECT_EQ(parse(make_pdf({{"Short First Line", "Body."}}, std::string(200, 't'))).title,
              "Short First Line");
}

TEST(PdfParserTest, WinAnsiTextComesOutAsUtf8) {
    const auto doc = parse(make_pdf({{"caf\xE9 cr\xE8me br\xFBl\xE9"}}));
    ASSERT_EQ(doc.sections.size(), 1U);
    EXPECT_EQ(doc.sections[0].text, "caf\xC3\xA9 cr\xC3\xA8me br\xC3\xBBl\xC3\xA9");
}

TEST(PdfParserTest, DispatchedByExtensionAndFormat) {
    EXPECT_EQ(format_from_path("/papers/Report.PDF"), DocumentFormat::kPdf);
    auto parsed = parse_document(make_pdf({{"Dispatched."}}), DocumentFormat::kPdf);
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(parsed->sections.at(0).text, "Dispatched.");
    // API requests carry text in JSON strings, so "pdf" is not a format name they can use.
    EXPECT_FALSE(format_from_name("pdf").has_value());
}

TEST(PdfParserTest, BytesWithoutAHeaderAreNotAPdf) {
    const core::Error error = parse_error("just some text, no header at all");
    EXPECT_EQ(error.code, core::ErrorCode::kInvalidArgument);
    EXPECT_TRUE(contains(error.detail, "not a PDF")) << error.detail;
}

TEST(PdfParserTest, DamagedPdfsAreRefusedQuietly) {
    const std::string pdf = make_pdf({{"Some text that will be cut off."}});
    for (const std::string& damaged : {std::string("%PDF-1.4\n"),
                                       std::string("%PDF-1.7\n\x80\x81 garbage garbage"),
                                       pdf.substr(0, pdf.size() / 3),
                                       pdf.substr(0, 20)}) {
        ::testing::internal::CaptureStderr();
        auto result = parse_pdf(damaged);
        const std::string printed = ::testing::internal::GetCapturedStderr();
        ASSERT_FALSE(result.has_value()) << damaged.size();
        EXPECT_TRUE(result.error().code == core::ErrorCode::kInvalidArgument ||
                    result.error().code == core::ErrorCode::kUnsupported)
            << result.error().detail;
        EXPECT_FALSE(result.error().detail.empty());
        // poppler's own diagnostics go into the error, not onto ingest's output.
        EXPECT_EQ(printed, "");
    }
    // The first of them names what is wrong, without poppler's "error: " prefix.
    const core::Error cut_off = parse_error(pdf.substr(0, 20));
    const std::string prefix = "damaged or unreadable PDF: ";
    ASSERT_TRUE(cut_off.detail.starts_with(prefix)) << cut_off.detail;
    EXPECT_GT(cut_off.detail.size(), prefix.size() + 5) << cut_off.detail;
    EXPECT_FALSE(contains(cut_off.detail, "error:")) << cut_off.detail;
}

TEST(PdfParserTest, EncryptedPdfNeedingAPasswordIsUnsupported) {
    // The standard security handler with a user password: the U entry below does not match the
    // empty password, so the document cannot be opened without one.
    const std::string encrypt = " /Encrypt << /Filter /Standard /V 1 /R 2 /O <" +
                                std::string(64, '1') + "> /U <" + std::string(64, '2') +
                                "> /P -44 >> /ID [<0123456789ABCDEF0123456789ABCDEF> "
                                "<0123456789ABCDEF0123456789ABCDEF>]";
    const core::Error error = parse_error(make_pdf({{"Secret text."}}, {}, encrypt));
    EXPECT_EQ(error.code, core::ErrorCode::kUnsupported);
    EXPECT_TRUE(contains(error.detail, "encrypted")) << error.detail;
}

TEST(PdfParserTest, TextBeyondTheLimitIsTooLarge) {
    const std::string pdf = make_pdf({{"Forty bytes of text on the first page.."},
                                      {"and forty more bytes on the second page."},
                                      {"A third page that is never reached."}});
    ASSERT_TRUE(parse_pdf(pdf, 200).has_value());
    auto result = parse_pdf(pdf, 60);
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error().code, core::ErrorCode::kTooLarge);
    EXPECT_EQ(result.error().detail, "PDF text over 60 bytes by page 2 of 3");
}

TEST(PdfParserTest, PdfWithoutTextIsUnsupportedNotEmpty) {
    // What a scanned document looks like to a text extractor: pages, but no text on them.
    const core::Error error = parse_error(make_pdf({{}, {"", ""}}));
    EXPECT_EQ(error.code, core::ErrorCode::kUnsupported);
    EXPECT_TRUE(contains(error.detail, "no extractable text in 2 page(s)")) << error.detail;
}

}  // namespace
}  // namespace ragd::ingest
