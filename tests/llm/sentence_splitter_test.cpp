// Sentence segmentation and term normalisation used by the extractive answerer.
#include "llm/sentence_splitter.hpp"

#include <random>

#include <gtest/gtest.h>

#include "llm/text_terms.hpp"

namespace ragd::llm {
namespace {

std::vector<std::string> texts(const std::vector<Sentence>& sentences) {
    std::vector<std::string> out;
    for (const auto& s : sentences) {
        out.push_back(s.text);
    }
    return out;
}

TEST(SentenceSplitter, SplitsProseAtTerminators) {
    EXPECT_EQ(texts(split_sentences("First one. Second one! Third one? Fourth")),
              (std::vector<std::string>{"First one.", "Second one!", "Third one?", "Fourth"}));
}

TEST(SentenceSplitter, AbbreviationsDecimalsAndInitialsDoNotSplit) {
    const auto s = split_sentences(
        "Use a fast store, e.g. SQLite in WAL mode. Dr. Smith measured 3.14 ms vs. 2.5 ms. "
        "J. R. Tolkien wrote it, i.e. The Hobbit. See ragd.sqlite for details.");
    EXPECT_EQ(texts(s),
              (std::vector<std::string>{"Use a fast store, e.g. SQLite in WAL mode.",
                                        "Dr. Smith measured 3.14 ms vs. 2.5 ms.",
                                        "J. R. Tolkien wrote it, i.e. The Hobbit.",
                                        "See ragd.sqlite for details."}));
}

TEST(SentenceSplitter, LowercaseAfterStopIsNotABoundary) {
    EXPECT_EQ(split_sentences("The value is approx. four times larger. Next.").size(), 2U);
}

TEST(SentenceSplitter, SoftWrappedLinesJoinAndBlankLinesSeparate) {
    const auto s =
        split_sentences("This sentence is\nwrapped over lines\n\nNew paragraph without stop");
    EXPECT_EQ(texts(s),
              (std::vector<std::string>{"This sentence is wrapped over lines",
                                        "New paragraph without stop"}));
}

TEST(SentenceSplitter, ListsCodeTablesAndHeadings) {
    const auto s = split_sentences(
        "# Install\n"
        "Run these steps:\n"
        "- install the package\n"
        "  with apt\n"
        "2. start the server\n"
        "\n"
        "```sh\n"
        "ragd serve --port 8080\n"
        "```\n"
        "| key | value |\n"
        "|-----|-------|\n"
        "| port | 8080 |\n"
        "    indented code line\n");
    ASSERT_EQ(s.size(), 7U) << ::testing::PrintToString(texts(s));
    EXPECT_EQ(s[0].text, "Run these steps:");
    EXPECT_EQ(s[0].kind, SentenceKind::kProse);
    EXPECT_EQ(s[1].text, "install the package with apt");
    EXPECT_EQ(s[1].kind, SentenceKind::kListItem);
    EXPECT_EQ(s[2].text, "start the server");
    EXPECT_EQ(s[3].text, "ragd serve --port 8080");
    EXPECT_EQ(s[3].kind, SentenceKind::kCode);
    EXPECT_EQ(s[4].kind, SentenceKind::kTable);
    EXPECT_EQ(s[5].text, "| port | 8080 |");
    EXPECT_EQ(s[6].text, "indented code line");
    EXPECT_EQ(s[6].kind, SentenceKind::kCode);
}

TEST(SentenceSplitter, UnfencedCommandLinesAreCode) {
    // Docs often show commands outside fences (the chunker's text has no fences left); an
    // answer built from "curl ... -d '{...}'" reads as noise, so such lines must be code.
    const auto s = split_sentences(
        "Ask it:\n"
        "\n"
        "curl -s localhost:8080/v1/query -H 'Content-Type: application/json' \\\n"
        "\n"
        "-d '{\"query\": \"How do I delete a document?\"}'\n"
        "\n"
        "\"query\": \"How do I delete a document?\",\n"
        "\n"
        "./build/ragd query \"How do I delete a document?\"\n");
    ASSERT_EQ(s.size(), 5U) << ::testing::PrintToString(texts(s));
    EXPECT_EQ(s[0].kind, SentenceKind::kProse);
    for (std::size_t i = 1; i < s.size(); ++i) {
        EXPECT_EQ(s[i].kind, SentenceKind::kCode) << s[i].text;
    }
}

TEST(SentenceSplitter, LongSentencesAreCutAtWordsWithoutBreakingUtf8) {
    std::string text;
    for (int idx = 0; idx < 100; ++idx) {
        text += "wörd ";
    }
    const auto s = split_sentences(text, 64);
    ASSERT_GT(s.size(), 1U);
    for (const auto& sentence : s) {
        EXPECT_LE(sentence.text.size(), 64U);
        EXPECT_EQ(sentence.text.substr(0, 5), "wörd");  // starts at a word, UTF-8 intact
    }
    const auto unbroken = split_sentences(std::string(50, 'a') + "日本語日本語日本語", 40);
    for (const auto& sentence : unbroken) {
        EXPECT_NE(static_cast<unsigned char>(sentence.text[0]) & 0xc0, 0x80);
    }
}

TEST(SentenceSplitter, CjkTerminatorsSplitWithoutSpaces) {
    EXPECT_EQ(texts(split_sentences("日本語の文です。二つ目の文！")),
              (std::vector<std::string>{"日本語の文です。", "二つ目の文！"}));
}

TEST(SentenceSplitter, EmptyAndPunctuationOnlyInputs) {
    EXPECT_TRUE(split_sentences("").empty());
    EXPECT_TRUE(split_sentences("\n\n  \n").empty());
    EXPECT_TRUE(split_sentences("--- ... !!!").empty());
}

TEST(SentenceSplitter, ArbitraryBytesNeitherCrashNorExceedTheCap) {
    std::mt19937 rng(42);  // fixed seed: a failure reproduces
    const std::string alphabet = "ab .!?\n-*#|`\t\xe3\x80\x82\xc3\xa9\xff\x80 ";
    for (int round = 0; round < 300; ++round) {
        std::string text;
        const std::size_t length = rng() % 300;
        for (std::size_t idx = 0; idx < length; ++idx) {
            text.push_back(alphabet[rng() % alphabet.size()]);
        }
        for (const auto& sentence : split_sentences(text, 32)) {
            EXPECT_FALSE(sentence.text.empty());
            EXPECT_LE(sentence.text.size(), 32U);
        }
        for (const auto& word : tokenize(text)) {
            EXPECT_FALSE(word.empty());
            (void)stem(word);
        }
    }
}

TEST(TextTerms, StemmerConflatesInflections) {
    EXPECT_EQ(stem("embeddings"), stem("embed"));
    EXPECT_EQ(stem("embedded"), stem("embed"));
    EXPECT_EQ(stem("configuration"), stem("configure"));
    EXPECT_EQ(stem("configured"), stem("configure"));
    EXPECT_EQ(stem("running"), stem("run"));
    EXPECT_EQ(stem("indexes"), stem("index"));
    EXPECT_EQ(stem("queries"), stem("query"));
    EXPECT_EQ(stem("deployment"), stem("deploy"));
    EXPECT_EQ(stem("installing"), "install");
    EXPECT_EQ(stem("pass"), "pass");
    EXPECT_EQ(stem("is"), "is");
    EXPECT_EQ(stem("größe"), "größe");
}

TEST(TextTerms, TokenizeLowercasesAndSeparatesUnicodePunctuation) {
    EXPECT_EQ(tokenize("Hello, WORLD—ragd’s “Über” 日本"),
              (std::vector<std::string>{"hello", "world", "ragd", "s", "Über", "日", "本"}));
    EXPECT_EQ(tokenize("ragd's port"), (std::vector<std::string>{"ragd", "port"}));
    EXPECT_EQ(content_terms("What is the default port?"),
              (std::vector<std::string>{"default", "port"}));
}

}  // namespace
}  // namespace ragd::llm
