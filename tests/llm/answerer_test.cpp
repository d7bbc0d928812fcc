// find_citations: the [n] markers an LLM answer cites, in first-use order, restricted to the
// passages that were actually in the prompt.
#include "llm/answerer.hpp"

#include <cstddef>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

namespace ragd::llm {
namespace {

using Numbers = std::vector<std::size_t>;

const Numbers kFive = {1, 2, 3, 4, 5};

TEST(FindCitations, SingleMarkers) {
    EXPECT_EQ(find_citations("Lamps glow [1].", kFive), (Numbers{1}));
    EXPECT_EQ(find_citations("[2] first, then [4].", kFive), (Numbers{2, 4}));
    EXPECT_EQ(find_citations("No citations at all.", kFive), Numbers{});
    EXPECT_EQ(find_citations("", kFive), Numbers{});
}

TEST(FindCitations, CommaSeparatedGroups) {
    EXPECT_EQ(find_citations("Both [1, 2].", kFive), (Numbers{1, 2}));
    EXPECT_EQ(find_citations("Three [3,1, 5].", kFive), (Numbers{3, 1, 5}));
}

TEST(FindCitations, AdjacentMarkers) {
    EXPECT_EQ(find_citations("Adjacent [1][3].", kFive), (Numbers{1, 3}));
    EXPECT_EQ(find_citations("[5][4][3]", kFive), (Numbers{5, 4, 3}));
}

TEST(FindCitations, UnknownNumbersAreDropped) {
    EXPECT_EQ(find_citations("Made up [9] and real [2].", kFive), (Numbers{2}));
    EXPECT_EQ(find_citations("Zero [0].", kFive), Numbers{});
    EXPECT_EQ(find_citations("Group [2, 7, 3].", kFive), (Numbers{2, 3}));
    // Only passages that made it into the prompt count, whatever their numbers.
    EXPECT_EQ(find_citations("[1] [2] [3]", Numbers{1, 3}), (Numbers{1, 3}));
    EXPECT_EQ(find_citations("[1]", Numbers{}), Numbers{});
}

TEST(FindCitations, DuplicatesKeepFirstUse) {
    EXPECT_EQ(find_citations("[2] then [1] then [2] and [1, 2].", kFive), (Numbers{2, 1}));
}

TEST(FindCitations, NonNumericBracketsAreIgnored) {
    EXPECT_EQ(find_citations("See [a] and [note] and [1a] and [].", kFive), Numbers{});
    EXPECT_EQ(find_citations("array[i] then [3]", kFive), (Numbers{3}));
    EXPECT_EQ(find_citations("[-1] [+2] [1.5]", kFive), Numbers{});
}

TEST(FindCitations, UnclosedBracketAtTheEnd) {
    EXPECT_EQ(find_citations("Cites [2] and ends [", kFive), (Numbers{2}));
    EXPECT_EQ(find_citations("Cites [2] and ends [3", kFive), (Numbers{2}));
}

TEST(FindCitations, LongBracketedTextIsNotACitation) {
    EXPECT_EQ(find_citations("[" + std::string(40, '1') + "] [4]", kFive), (Numbers{4}));
}

// BUG (reported): a stray '[' less than 32 bytes before a citation hides the citation.
// answerer.cpp find_citations: on a malformed "[...]" it resumes at `close + 1`, but `close`
// is the ']' of the *next* marker, so "[0, 5) ... [2]" consumes "[2]" as part of the bad span.
TEST(FindCitations, StrayOpenBracketDoesNotHideTheNextCitation) {
    EXPECT_EQ(find_citations("The range [0, 5) is half-open [2].", kFive), (Numbers{2}));
    EXPECT_EQ(find_citations("x [ y [3]", kFive), (Numbers{3}));
}

}  // namespace
}  // namespace ragd::llm

namespace ragd::llm {
namespace {

// Answerer::create checks the prompt settings at startup: a template without its placeholders
// is a configuration error, not a broken prompt at the first query.
TEST(AnswererCreate, RejectsATemplateWithoutItsPlaceholders) {
    boost::asio::io_context io;
    core::LlmConfig config;
    config.prompt_template = "Answer this: {question}";  // no {passages}
    auto created = Answerer::create(io.get_executor(), config, nullptr);
    ASSERT_FALSE(created);
    EXPECT_EQ(created.error().code, core::ErrorCode::kInvalidArgument);
    EXPECT_NE(created.error().detail.find("{passages}"), std::string::npos)
        << created.error().detail;

    config.prompt_template = "Context:\n{passages}\n\nQ: {question}\nA:";
    auto accepted = Answerer::create(io.get_executor(), config, nullptr);
    ASSERT_TRUE(accepted) << accepted.error().detail;
    EXPECT_EQ((*accepted)->chain(), (std::vector<std::string>{"extractive"}));
}

}  // namespace
}  // namespace ragd::llm
