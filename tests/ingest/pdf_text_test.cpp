// Rejoining a PDF page's printed lines into paragraphs (ingest/pdf_text.hpp).
#include "ingest/pdf_text.hpp"

#include <string>

#include <gtest/gtest.h>

namespace ragd::ingest {
namespace {

// Lines of running text, long enough that a line under 60 % of them reads as a paragraph end.
class PdfTextTest : public ::testing::Test {
protected:
    const std::string line_a = "The planner estimates the cost of each path it considers and";
    const std::string line_b = "keeps the cheapest one, then builds the plan from that path";
};

TEST_F(PdfTextTest, WrappedLinesJoinWithOneSpace) {
    EXPECT_EQ(reflow_pdf_page(line_a + "\n" + line_b + "\n" + line_a),
              line_a + " " + line_b + " " + line_a);
}

TEST_F(PdfTextTest, BlankLineEndsAParagraph) {
    EXPECT_EQ(reflow_pdf_page(line_a + "\n\n" + line_b), line_a + "\n\n" + line_b);
    EXPECT_EQ(reflow_pdf_page(line_a + "\n \t \n\n" + line_b), line_a + "\n\n" + line_b);
}

TEST_F(PdfTextTest, ShortLineEndsAParagraph) {
    EXPECT_EQ(reflow_pdf_page("Query Planning\n" + line_a + "\n" + line_b + "\nfor execution.\n" +
                              line_a + "\n" + line_b),
              "Query Planning\n\n" + line_a + " " + line_b + " for execution.\n\n" + line_a + " " +
                  line_b);
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

}  // namespace
}  // namespace ragd::ingest
