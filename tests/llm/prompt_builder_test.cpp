// PromptBuilder: template placeholders, passage rendering, budget-driven dropping order,
// truncation of a lone oversized passage, and the token estimate.
#include "llm/prompt_builder.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/utf8.hpp"

namespace ragd::llm {
namespace {

Passage passage(std::size_t number,
                std::string text,
                std::string title = "",
                std::vector<std::string> headings = {}) {
    Passage p;
    p.number = number;
    p.text = std::move(text);
    p.title = std::move(title);
    p.heading_path = std::move(headings);
    return p;
}

PromptBuilder builder(PromptOptions options = {}) {
    auto created = PromptBuilder::create(std::move(options));
    EXPECT_TRUE(created.has_value());
    return std::move(created.value());
}

const std::string& user_content(const Prompt& prompt) {
    EXPECT_EQ(prompt.messages.size(), 1u);
    EXPECT_EQ(prompt.messages.at(0).role, "user");
    return prompt.messages.at(0).content;
}

std::size_t recount(const Prompt& prompt) {
    std::size_t tokens =
        prompt.system.empty() ? 0 : estimate_tokens(prompt.system) + kMessageOverheadTokens;
    for (const auto& message : prompt.messages) {
        tokens += estimate_tokens(message.content) + kMessageOverheadTokens;
    }
    return tokens;
}

TEST(EstimateTokens, FourAsciiBytesOrOneCodePointPerToken) {
    EXPECT_EQ(estimate_tokens(""), 0u);
    EXPECT_EQ(estimate_tokens("abcd"), 1u);
    EXPECT_EQ(estimate_tokens("abcde"), 2u);
    EXPECT_EQ(estimate_tokens("日本語"), 3u);
    EXPECT_EQ(estimate_tokens("héllo"), 2u);  // 4 ASCII bytes + 1 code point
    EXPECT_EQ(estimate_tokens(std::string(4000, 'x')), 1000u);
}

TEST(EstimateTokens, MixedTextCountsTheSameWhereverTheCodePointsFallInAWord) {
    // estimate_tokens reads 8 bytes at a time: put a 2-, 3- and 4-byte code point at every
    // offset (and across word boundaries) and compare with counting them one by one.
    for (const std::string point : {"é", "日", "😀"}) {
        for (std::size_t before = 0; before < 17; ++before) {
            const std::string text = std::string(before, 'a') + point + "bc" + point;
            EXPECT_EQ(estimate_tokens(text), (before + 2 + 3) / 4 + 2) << before << " " << point;
        }
    }
    std::string long_text;
    for (int i = 0; i < 100; ++i) {
        long_text += "word 日本 ";  // 6 ASCII bytes and 2 code points
    }
    EXPECT_EQ(estimate_tokens(long_text), 600u / 4 + 200u);
}

TEST(PromptBuilder, RejectsBadTemplatesAndBudgets) {
    PromptOptions no_question;
    no_question.user_template = "{passages}";
    EXPECT_EQ(PromptBuilder::create(no_question).error().code, core::ErrorCode::kInvalidArgument);
    PromptOptions no_passages;
    no_passages.user_template = "Q: {question}";
    EXPECT_EQ(PromptBuilder::create(no_passages).error().code, core::ErrorCode::kInvalidArgument);
    PromptOptions twice;
    twice.user_template = "{passages} {question} {question}";
    EXPECT_NE(PromptBuilder::create(twice).error().detail.find("only once"), std::string::npos);
    PromptOptions zero;
    zero.max_context_tokens = 0;
    EXPECT_FALSE(PromptBuilder::create(zero).has_value());
}

TEST(PromptBuilder, RendersPassagesAndQuestionIntoTheDefaultTemplate) {
    const auto prompt =
        builder()
            .build("How do I rotate keys?",
                   {passage(1, "Run ragd keys rotate.", "Operations", {"Security", "Keys"}),
                    passage(2, "Keys live in the vault.", "Overview"),
                    passage(3, "No title here.", "", {"Notes"}),
                    passage(4, "Bare.")})
            .value();
    EXPECT_EQ(prompt.system, kDefaultSystemPrompt);
    EXPECT_EQ(user_content(prompt),
              "Passages:\n\n"
              "[1] Operations — Security > Keys\nRun ragd keys rotate.\n\n"
              "[2] Overview\nKeys live in the vault.\n\n"
              "[3] Notes\nNo title here.\n\n"
              "[4]\nBare.\n\n"
              "Question: How do I rotate keys?");
    EXPECT_EQ(prompt.included_passages, (std::vector<std::size_t>{1, 2, 3, 4}));
    EXPECT_FALSE(prompt.truncated);
    EXPECT_EQ(prompt.estimated_tokens, recount(prompt));
}

TEST(PromptBuilder, DefaultSystemPromptAsksForCitationsAndHonesty) {
    const std::string system(kDefaultSystemPrompt);
    EXPECT_NE(system.find("only"), std::string::npos);
    EXPECT_NE(system.find("[1]"), std::string::npos);
    EXPECT_NE(system.find("do not contain the answer"), std::string::npos);
}

TEST(PromptBuilder, CustomTemplateInAnyOrderSubstitutesOnce) {
    PromptOptions options;
    options.system_prompt = "Be brief.";
    options.user_template = "Q={question}|P={passages}|end";
    const auto prompt =
        builder(options).build("what is {passages}?", {passage(1, "text {question}")}).value();
    EXPECT_EQ(prompt.system, "Be brief.");
    EXPECT_EQ(user_content(prompt), "Q=what is {passages}?|P=[1]\ntext {question}|end");
}

TEST(PromptBuilder, NoPassagesSaysSo) {
    const auto prompt = builder().build("anything?", {}).value();
    EXPECT_NE(user_content(prompt).find(kNoPassagesText), std::string::npos);
    EXPECT_TRUE(prompt.included_passages.empty());
}

TEST(PromptBuilder, DropsLowestRankedPassagesFirstUntilItFits) {
    // Five passages of 100 tokens each (400 ASCII bytes), given out of order.
    std::vector<Passage> passages;
    for (const std::size_t number : {3u, 1u, 5u, 2u, 4u}) {
        passages.push_back(passage(number, std::string(396, 'a' + static_cast<char>(number))));
    }
    PromptOptions options;
    options.system_prompt = "";
    options.user_template = "{passages}{question}";
    // Message overhead 4 + question 1 + three rendered passages ("[n]\n" + 396 bytes = 100)
    // + two separators of 1: exactly room for three.
    options.max_context_tokens = 4 + 1 + 3 * 100 + 2;
    const auto prompt = builder(options).build("why", passages).value();
    EXPECT_EQ(prompt.included_passages, (std::vector<std::size_t>{1, 2, 3}));
    EXPECT_LE(prompt.estimated_tokens, options.max_context_tokens);
    const std::string& content = user_content(prompt);
    EXPECT_LT(content.find("[1]"), content.find("[2]"));
    EXPECT_LT(content.find("[2]"), content.find("[3]"));
    EXPECT_EQ(content.find("[4]"), std::string::npos);
    EXPECT_EQ(content.find("[5]"), std::string::npos);
    EXPECT_FALSE(prompt.truncated);

    options.max_context_tokens -= 1;  // one token short of three: two remain
    EXPECT_EQ(builder(options).build("why", passages).value().included_passages,
              (std::vector<std::size_t>{1, 2}));
}

TEST(PromptBuilder, NeverCutsAPassageWhenAHigherRankedOneFits) {
    PromptOptions options;
    options.max_context_tokens = 400;
    const auto prompt =
        builder(options)
            .build("q", {passage(1, "short answer"), passage(2, std::string(8000, 'z'))})
            .value();
    EXPECT_EQ(prompt.included_passages, (std::vector<std::size_t>{1}));
    EXPECT_FALSE(prompt.truncated);
    EXPECT_EQ(user_content(prompt).find("zzz"), std::string::npos);
}

TEST(PromptBuilder, TruncatesALoneOversizedPassageAtAUtf8Boundary) {
    std::string text;
    for (int repeat = 0; repeat < 500; ++repeat) {
        text += "naïve café 日本語 ";
    }
    PromptOptions options;
    options.max_context_tokens = 300;
    const auto prompt =
        builder(options).build("q", {passage(1, text, "T"), passage(2, "x")}).value();
    EXPECT_TRUE(prompt.truncated);
    EXPECT_EQ(prompt.included_passages, (std::vector<std::size_t>{1}));
    const std::string& content = user_content(prompt);
    EXPECT_TRUE(core::is_valid_utf8(content));
    EXPECT_NE(content.find(kTruncationMark), std::string::npos);
    EXPECT_LE(prompt.estimated_tokens, 300u);
    EXPECT_GE(prompt.estimated_tokens, 290u) << "the cut uses the budget it has";
    EXPECT_EQ(prompt.estimated_tokens, recount(prompt));
}

TEST(PromptBuilder, QuestionAloneOverBudgetIsTooLarge) {
    PromptOptions options;
    options.max_context_tokens = 200;
    const auto result = builder(options).build(std::string(4000, 'q'), {passage(1, "a")});
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error().code, core::ErrorCode::kTooLarge);
}

TEST(PromptBuilder, EstimateNeverExceedsBudget) {
    std::vector<Passage> passages;
    for (std::size_t number = 1; number <= 20; ++number) {
        passages.push_back(
            passage(number, std::string(number * 37, 'w') + " ünï", "Title", {"A", "B"}));
    }
    for (std::size_t budget = 120; budget < 2000; budget += 7) {
        PromptOptions options;
        options.max_context_tokens = budget;
        const auto prompt = builder(options).build("a question?", passages).value();
        EXPECT_LE(prompt.estimated_tokens, budget);
        EXPECT_EQ(prompt.estimated_tokens, recount(prompt));
        for (std::size_t idx = 0; idx < prompt.included_passages.size(); ++idx) {
            EXPECT_EQ(prompt.included_passages[idx], idx + 1) << "a prefix of the ranking";
        }
    }
}

}  // namespace
}  // namespace ragd::llm
