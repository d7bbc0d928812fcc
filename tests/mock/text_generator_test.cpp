// The mock's deterministic answer text.
#include "mock/text_generator.hpp"

#include <regex>
#include <string>

#include <gtest/gtest.h>

namespace ragd::mock {
namespace {

constexpr std::string_view kRagPrompt =
    "Answer using the passages.\n[1] Lighthouses guide ships along rocky coasts.\n"
    "[2] Fresnel lenses focus the lamp into a beam.\n[3] Keepers maintained the lamps.\n"
    "Question: how does a lighthouse lens work?";

std::string joined(const Completion& completion) {
    std::string text;
    for (std::size_t token_idx = 0; token_idx < completion.token_count(); ++token_idx) {
        text += completion.token(token_idx);
    }
    return text;
}

TEST(GenerateCompletion, IsDeterministicPerMessageAndSeed) {
    const Completion first = generate_completion(kRagPrompt, 7, 64);
    const Completion again = generate_completion(kRagPrompt, 7, 64);
    EXPECT_EQ(first.text, again.text);
    EXPECT_NE(first.text, generate_completion(kRagPrompt, 8, 64).text);
    EXPECT_NE(first.text, generate_completion("a different question entirely", 7, 64).text);
}

TEST(GenerateCompletion, HasExactlyTheAskedTokensWhichConcatenateToTheText) {
    for (const std::size_t count : {0UL, 1UL, 2UL, 64UL, 1000UL}) {
        const Completion completion = generate_completion(kRagPrompt, 1, count);
        EXPECT_EQ(completion.token_count(), count);
        EXPECT_EQ(joined(completion), completion.text);
        EXPECT_EQ(completion.tokens(0, count), completion.text);
        EXPECT_GE(count_words(completion.text), count);
    }
    const Completion completion = generate_completion(kRagPrompt, 1, 10);
    EXPECT_NE(completion.token(0).front(), ' ');
    EXPECT_EQ(completion.token(1).front(), ' ');
}

TEST(GenerateCompletion, CitesTheNumberedPassagesInEverySentence) {
    const Completion completion = generate_completion(kRagPrompt, 3, 64);
    EXPECT_EQ(completion.text.back(), '.');
    const std::regex sentence_end(R"( \[(\d+)\]\.)");
    std::size_t citations = 0;
    for (auto it =
             std::sregex_iterator(completion.text.begin(), completion.text.end(), sentence_end);
         it != std::sregex_iterator();
         ++it) {
        const int number = std::stoi((*it)[1]);
        EXPECT_GE(number, 1);
        EXPECT_LE(number, 3);
        ++citations;
    }
    // Sentences have 6..14 words: 64 words make 5 to 11 sentences, each cited.
    EXPECT_GE(citations, 5U);
    EXPECT_LE(citations, 11U);
    EXPECT_NE(completion.text.find("[1]"), std::string::npos);
    EXPECT_NE(completion.text.find("[2]"), std::string::npos);
}

TEST(GenerateCompletion, EchoesTheMessageWordsAndNoCitationsWithoutPassages) {
    const Completion completion =
        generate_completion("Explain photosynthesis chlorophyll sunlight", 0, 200);
    EXPECT_EQ(completion.text.find('['), std::string::npos);
    EXPECT_NE(completion.text.find("photosynthesis"), std::string::npos);
    EXPECT_NE(completion.text.find("chlorophyll"), std::string::npos);
    EXPECT_TRUE(std::isupper(static_cast<unsigned char>(completion.text.front())));
}

TEST(GenerateCompletion, KeepsUtf8WordsWhole) {
    const Completion completion = generate_completion("Überprüfung der Änderungen café", 0, 100);
    EXPECT_NE(completion.text.find("Überprüfung"), std::string::npos);
    EXPECT_NE(completion.text.find("café"), std::string::npos);
}

TEST(TokenGenerator, ProducesTheCompletionOneTokenAtATime) {
    const Completion whole = generate_completion(kRagPrompt, 9, 40);
    TokenGenerator generator(kRagPrompt, 9, 40);
    std::string token;
    for (std::size_t token_idx = 0; token_idx < 40; ++token_idx) {
        ASSERT_FALSE(generator.done());
        token.clear();
        generator.append_next(token);
        EXPECT_EQ(token, whole.token(token_idx)) << token_idx;
        EXPECT_EQ(generator.produced(), token_idx + 1);
    }
    EXPECT_TRUE(generator.done());
}

TEST(PassageNumbers, FindsDistinctMarkersInOrder) {
    EXPECT_EQ(passage_numbers(kRagPrompt), (std::vector<unsigned>{1, 2, 3}));
    EXPECT_EQ(passage_numbers("see [12] and [3], [12] again, [0] [] [x] [1234] [7"),
              (std::vector<unsigned>{12, 3}));
    EXPECT_TRUE(passage_numbers("no markers here").empty());
}

TEST(CountWords, CountsWhitespaceSeparatedRuns) {
    EXPECT_EQ(count_words(""), 0U);
    EXPECT_EQ(count_words("  one  two\nthree\t"), 3U);
}

}  // namespace
}  // namespace ragd::mock
