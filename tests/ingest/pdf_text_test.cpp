// Rejoining a PDF page's printed lines into paragraphs (ingest/pdf_text.hpp).
#include "ingest/pdf_text.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace ragd::ingest {
namespace {

// Lines of running text, long enough that a line under 60 % of them reads as a paragraph end.
class PdfTextTest : public ::testing::Test {
protected:
    const std::string line_a_ = "The planner estimates the cost of each path it considers and";
    const std::string line_b_ = "keeps the cheapest one, then builds the plan from that path";
};

TEST_F(PdfTextTest, WrappedLinesJoinWithOneSpace) {
    EXPECT_EQ(reflow_pdf_page(line_a_ + "\n" + line_b_ + "\n" + line_a_),
              line_a_ + " " + line_b_ + " " + line_a_);
}

TEST_F(PdfTextTest, BlankLineEndsAParagraph) {
    EXPECT_EQ(reflow_pdf_page(line_a_ + "\n\n" + line_b_), line_a_ + "\n\n" + line_b_);
    EXPECT_EQ(reflow_pdf_page(line_a_ + "\n \t \n\n" + line_b_), line_a_ + "\n\n" + line_b_);
}

TEST_F(PdfTextTest, ShortLineEndsAParagraph) {
    EXPECT_EQ(reflow_pdf_page("Query Planning\n" + line_a_ + "\n" + line_b_ + "\nfor execution.\n" +
                              line_a_ + "\n" + line_b_),
              "Query Planning\n\n" + line_a_ + " " + line_b_ + " for execution.\n\n" + line_a_ +
                  " " + line_b_);
}

TEST_F(PdfTextTest, PageOfShortLinesJoinsUntilABlankLine) {
    // A list or a slide: no line is "typical", so length says nothing about paragraph ends.
    EXPECT_EQ(reflow_pdf_page("apples\npears\nplums\n\nfigs\ndates"),
              "apples pears plums\n\nfigs dates");
}

TEST_F(PdfTextTest, HyphenatedWordsAreRejoined) {
    EXPECT_EQ(reflow_pdf_page("a word split by the typesetter as exam-\nple and more"),
              "a word split by the typesetter as example and more");
}

TEST_F(PdfTextTest, OtherHyphensAtALineEndStay) {
    EXPECT_EQ(reflow_pdf_page("releases of 2019-\n2020 were"), "releases of 2019-2020 were");
    EXPECT_EQ(reflow_pdf_page("fusion of Rank-\nBased lists"), "fusion of Rank-Based lists");
    // A dash after a space is punctuation, not a hyphen.
    EXPECT_EQ(reflow_pdf_page("one thing -\nanother"), "one thing - another");
    // A lone dash line does not index past the start of the paragraph.
    EXPECT_EQ(reflow_pdf_page("-\nnext"), "- next");
}

TEST_F(PdfTextTest, ControlCharactersAndLineEnds) {
    EXPECT_EQ(reflow_pdf_page("one\r\ntwo\rthree\fnext\tcol\x01x\x7Fy  \n"),
              "one two three next col x y");
    // A form feed between blank-separated blocks is a line break like any other.
    EXPECT_EQ(reflow_pdf_page("end of page\n\f\nnext page"), "end of page\n\nnext page");
}

TEST_F(PdfTextTest, InvalidUtf8IsReplaced) {
    EXPECT_EQ(reflow_pdf_page("caf\xE9 ok"), "caf\xEF\xBF\xBD ok");
}

TEST_F(PdfTextTest, ShortLineRuleCountsCharactersNotBytes) {
    // Accented lines are as long as their ASCII twins: two-byte characters must not make a line
    // look longer than the typical one, nor shorter lines look typical.
    const std::string accented =
        "Le planificateur \xC3\xA9value le co\xC3\xBBt de chaque chemin "
        "qu'il \xC3\xA9tudie et garde";
    EXPECT_EQ(reflow_pdf_page(accented + "\n" + accented + "\n" + accented),
              accented + " " + accented + " " + accented);
}

TEST_F(PdfTextTest, NoVisibleTextGivesEmpty) {
    EXPECT_EQ(reflow_pdf_page(""), "");
    EXPECT_EQ(reflow_pdf_page(" \n\n\t\f\r\n "), "");
}

using Pages = std::vector<std::string>;

TEST(PdfFurnitureTest, PageNumbersAtPageEdgesGo) {
    EXPECT_EQ(strip_page_furniture({"Body text of the page.\n\n12\n"}),
              Pages{"Body text of the page.\n\n\n"});
    EXPECT_EQ(strip_page_furniture({"- 3 -\nAlpha.",
                                    "Page 4 of 10\nBeta.",
                                    "Gamma.\n7 / 10",
                                    "Delta.\n  page   5",
                                    "[6]\nEpsilon."}),
              (Pages{"\nAlpha.", "\nBeta.", "Gamma.\n", "Delta.\n", "\nEpsilon."}));
}

TEST(PdfFurnitureTest, NumbersInsideThePageStay) {
    // Only the first and last two non-blank lines of a page can be furniture.
    const std::string page = "Title\nIntro line\n42\nThe answer above.\nClosing line\nEnd";
    EXPECT_EQ(strip_page_furniture({page}), Pages{page});
    // A line that merely contains a number is text.
    EXPECT_EQ(strip_page_furniture({"Chapter 12\nBody."}), Pages{"Chapter 12\nBody."});
}

TEST(PdfFurnitureTest, RunningHeadersAndFootersGo) {
    const Pages bodies = {"Installing from source.\nRun configure first.",
                          "Upgrading a cluster.\nUse pg_upgrade.",
                          "Starting the server.\nRun pg_ctl start.",
                          "Shutting down.\nSend SIGTERM."};
    Pages pages;
    for (std::size_t page = 0; page < bodies.size(); ++page) {
        // The footer's page number changes; digits aside it is the same line on every page.
        pages.push_back("PostgreSQL 16.2 Documentation\n" + bodies[page] +
                        "\nChapter 5. Server Setup  " + std::to_string(page + 101));
    }
    const Pages stripped = strip_page_furniture(pages);
    ASSERT_EQ(stripped.size(), bodies.size());
    for (std::size_t page = 0; page < bodies.size(); ++page) {
        EXPECT_EQ(stripped[page], "\n" + bodies[page] + "\n");
    }
}

TEST(PdfFurnitureTest, LinesOnFewPagesStay) {
    // On 2 of 5 pages (less than half), and on 2 of 3 pages (fewer than 3): text, not furniture.
    EXPECT_EQ(strip_page_furniture({"Note\nA.", "Note\nB.", "C.", "D.", "E."}),
              (Pages{"Note\nA.", "Note\nB.", "C.", "D.", "E."}));
    EXPECT_EQ(strip_page_furniture({"Note\nA.", "Note\nB.", "C."}),
              (Pages{"Note\nA.", "Note\nB.", "C."}));
    // A single page has no running lines at all.
    EXPECT_EQ(strip_page_furniture({"Header\nBody."}), Pages{"Header\nBody."});
}

TEST(PdfFurnitureTest, EmptyPagesAndNoPages) {
    EXPECT_EQ(strip_page_furniture({}), Pages{});
    EXPECT_EQ(strip_page_furniture({"", "\n\n", "x"}), (Pages{"", "\n\n", "x"}));
}

}  // namespace
}  // namespace ragd::ingest
