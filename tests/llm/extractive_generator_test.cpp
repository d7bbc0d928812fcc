// The extractive answerer: sentence choice, citations, limits, the no-answer path, determinism.
#include "llm/extractive_generator.hpp"

#include <gtest/gtest.h>

namespace ragd::llm {
namespace {

Passage passage(std::size_t number, std::string text) {
    Passage p;
    p.number = number;
    p.text = std::move(text);
    p.document_id = "doc-" + std::to_string(number);
    return p;
}

GenerationRequest request(std::string question, std::vector<Passage> passages) {
    GenerationRequest r;
    r.question = std::move(question);
    r.passages = std::move(passages);
    return r;
}

std::size_t count_markers(const std::string& text) {
    std::size_t count = 0;
    for (std::size_t pos = text.find(" ["); pos != std::string::npos;
         pos = text.find(" [", pos + 1)) {
        ++count;
    }
    return count;
}

const std::vector<Passage> kCorpus = {
    passage(1,
            "ragd is a retrieval server written in C++. The server listens on port 8080 by "
            "default. Logs are written to standard error."),
    passage(2,
            "Documents are stored in SQLite. Embeddings are stored as little-endian float32 "
            "blobs next to each chunk."),
    passage(3, "The circuit breaker opens after five consecutive failures and retries after 30 s."),
};

TEST(ExtractiveGenerator, PicksTheAnsweringSentenceAndCitesIt) {
    ExtractiveGenerator generator(1);
    auto answer = generator.generate(request("Which port does the server listen on?", kCorpus));
    ASSERT_TRUE(answer) << answer.error().detail;
    EXPECT_EQ(answer->text, "The server listens on port 8080 by default. [1]");
    EXPECT_EQ(answer->cited, (std::vector<std::size_t>{1}));
    EXPECT_EQ(answer->generator, "extractive");
    EXPECT_EQ(generator.name(), "extractive");
}

TEST(ExtractiveGenerator, StemmingMatchesInflectedQuestionWords) {
    ExtractiveGenerator generator(1);
    auto answer = generator.generate(request("How is an embedding stored?", kCorpus));
    ASSERT_TRUE(answer);
    EXPECT_NE(answer->text.find("Embeddings are stored as little-endian"), std::string::npos)
        << answer->text;
    EXPECT_EQ(answer->cited, (std::vector<std::size_t>{2}));
}

TEST(ExtractiveGenerator, MarkersUseThePassageNumbersNotPositions) {
    // Passages arrive best first with arbitrary numbers; markers must use `number`.
    std::vector<Passage> passages = {
        passage(7, "The breaker opens after five failures."),
        passage(4, "A breaker that is open rejects calls until the cooldown ends."),
    };
    ExtractiveGenerator generator(3);
    auto answer = generator.generate(request("When does the breaker open?", passages));
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->text,
              "The breaker opens after five failures. [7] A breaker that is open rejects calls "
              "until the cooldown ends. [4]");
    EXPECT_EQ(answer->cited, (std::vector<std::size_t>{7, 4}));
}

TEST(ExtractiveGenerator, CitedIsInFirstUseOrderWithoutRepeats) {
    std::vector<Passage> passages = {
        passage(2,
                "Cache entries expire after ten minutes. Expired cache entries are evicted "
                "lazily."),
        passage(1, "Cache entries are evicted in LRU order when the cache is full."),
    };
    ExtractiveGenerator generator(3);
    auto answer =
        generator.generate(request("When are cache entries evicted or expired?", passages));
    ASSERT_TRUE(answer);
    EXPECT_EQ(count_markers(answer->text), 3U) << answer->text;
    EXPECT_EQ(answer->cited, (std::vector<std::size_t>{2, 1})) << answer->text;
    EXPECT_LT(answer->text.find("[2]"), answer->text.find("[1]"));
}

TEST(ExtractiveGenerator, RespectsMaxSentences) {
    std::vector<Passage> passages = {passage(
        1,
        "Chunks have ids. Chunks have text. Chunks have a heading path. Chunks have offsets. "
        "Chunks have embeddings.")};
    for (std::size_t max : {1U, 2U, 4U}) {
        ExtractiveGenerator generator(max);
        auto answer = generator.generate(request("What do chunks have?", passages));
        ASSERT_TRUE(answer);
        EXPECT_EQ(count_markers(answer->text), max) << answer->text;
    }
    ExtractiveGenerator zero(0);  // treated as one
    EXPECT_EQ(count_markers(zero.generate(request("What do chunks have?", passages))->text), 1U);
}

TEST(ExtractiveGenerator, RespectsMaxTokensButAlwaysAnswersSomething) {
    std::vector<Passage> passages = {passage(
        1, "Chunks have ids assigned by storage. Chunks have text taken from the parsed file.")};
    ExtractiveGenerator generator(3);
    auto req = request("What do chunks have?", passages);
    req.max_tokens = 5;
    auto answer = generator.generate(req);
    ASSERT_TRUE(answer);
    EXPECT_EQ(count_markers(answer->text), 1U) << answer->text;
}

TEST(ExtractiveGenerator, NoOverlapOrNoPassagesIsAPoliteNonAnswer) {
    ExtractiveGenerator generator;
    auto unrelated = generator.generate(request("Who painted the Mona Lisa?", kCorpus));
    ASSERT_TRUE(unrelated);
    EXPECT_EQ(unrelated->text, kNoAnswerText);
    EXPECT_TRUE(unrelated->cited.empty());
    EXPECT_EQ(unrelated->generator, "extractive");

    auto empty = generator.generate(request("Which port?", {}));
    ASSERT_TRUE(empty);
    EXPECT_EQ(empty->text, kNoAnswerText);
    EXPECT_TRUE(empty->cited.empty());

    auto blank = generator.generate(request("Which port?", {passage(1, "   \n\n")}));
    ASSERT_TRUE(blank);
    EXPECT_EQ(blank->text, kNoAnswerText);
}

TEST(ExtractiveGenerator, InvalidRequestsAreRejected) {
    ExtractiveGenerator generator;
    auto empty = generator.generate(request("", kCorpus));
    ASSERT_FALSE(empty);
    EXPECT_EQ(empty.error().code, core::ErrorCode::kInvalidArgument);
    auto blank = generator.generate(request("  \n\t", kCorpus));
    ASSERT_FALSE(blank);
    EXPECT_EQ(blank.error().code, core::ErrorCode::kInvalidArgument);
    auto zero = generator.generate(request("port?", {passage(0, "port 8080")}));
    ASSERT_FALSE(zero);
    EXPECT_EQ(zero.error().code, core::ErrorCode::kInvalidArgument);
}

TEST(ExtractiveGenerator, DuplicateSentencesAreNotRepeated) {
    std::vector<Passage> passages = {
        passage(1, "The default port is 8080."),
        passage(2, "The default port is 8080."),
        passage(3, "the default port is 8080!"),
        passage(4, "Change the default port with --port."),
    };
    ExtractiveGenerator generator(3);
    auto answer = generator.generate(request("What is the default port?", passages));
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->text,
              "The default port is 8080. [1] Change the default port with --port. [4]");
    EXPECT_EQ(answer->cited, (std::vector<std::size_t>{1, 4}));
}

TEST(ExtractiveGenerator, AbbreviationsStayInsideTheirSentence) {
    std::vector<Passage> passages = {passage(
        1, "Parsers handle many formats, e.g. Markdown and HTML. Dr. Who is not a parser.")};
    ExtractiveGenerator generator(1);
    auto answer = generator.generate(request("Which formats do parsers handle?", passages));
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->text, "Parsers handle many formats, e.g. Markdown and HTML. [1]");
}

TEST(ExtractiveGenerator, UnicodeTextSurvives) {
    std::vector<Passage> passages = {
        passage(1, "Die Größe des Caches ist 512 MiB — „groß“ genug. Andere Sätze hier."),
        passage(2, "東京は日本の首都です。大阪は大きな都市です。"),
    };
    ExtractiveGenerator generator(1);
    auto german = generator.generate(request("Wie ist die Größe des Caches?", passages));
    ASSERT_TRUE(german);
    EXPECT_EQ(german->text, "Die Größe des Caches ist 512 MiB — „groß“ genug. [1]");
    auto japanese = generator.generate(request("日本の首都は？", passages));
    ASSERT_TRUE(japanese);
    EXPECT_EQ(japanese->text, "東京は日本の首都です。 [2]");
}

TEST(ExtractiveGenerator, PrefersProseOverCodeAndRestatedQuestions) {
    std::vector<Passage> passages = {
        passage(1,
                "How do I change the port?\n\n"
                "```\nragd serve --port 9000\n```\n"
                "Pass --port to change the port the server listens on.")};
    ExtractiveGenerator generator(1);
    auto answer = generator.generate(request("How do I change the port?", passages));
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->text, "Pass --port to change the port the server listens on. [1]");
}

TEST(ExtractiveGenerator, EarlierPassagesWinTies) {
    std::vector<Passage> passages = {
        passage(5, "Retries use exponential backoff with jitter."),
        passage(6, "Retries use exponential backoff without jitter."),
    };
    ExtractiveGenerator generator(1);
    auto answer = generator.generate(request("What backoff do retries use?", passages));
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->cited, (std::vector<std::size_t>{5}));
}

TEST(ExtractiveGenerator, IsDeterministic) {
    ExtractiveGenerator generator(3);
    auto req = request("Where are documents and embeddings stored?", kCorpus);
    auto first = generator.generate(req);
    ASSERT_TRUE(first);
    for (int idx = 0; idx < 20; ++idx) {
        auto again = generator.generate(req);
        ASSERT_TRUE(again);
        EXPECT_EQ(again->text, first->text);
        EXPECT_EQ(again->cited, first->cited);
    }
    EXPECT_EQ(first->cited, (std::vector<std::size_t>{2}));
}

}  // namespace
}  // namespace ragd::llm
