// BEIR loaders on tiny fixtures (tests/data/eval/): BOM, CRLF, blank lines, numeric ids,
// optional titles, headers, and errors that name the file line.
#include "eval/beir.hpp"

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace ragd::eval {
namespace {

std::string fixture(const std::string& name) {
    return std::string(RAGD_TEST_DATA_DIR) + "/eval/" + name;
}

core::Result<std::vector<BeirDocument>> read_corpus(const std::string& path) {
    std::vector<BeirDocument> documents;
    auto status = for_each_corpus_document(path, [&](BeirDocument&& doc) -> core::Result<void> {
        documents.push_back(std::move(doc));
        return {};
    });
    if (!status)
        return status.error();
    return documents;
}

TEST(BeirCorpus, ReadsDocumentsInOrderToleratingBomCrlfAndBlankLines) {
    auto documents = read_corpus(fixture("corpus.jsonl"));
    ASSERT_TRUE(documents) << documents.error().detail;
    ASSERT_EQ(documents->size(), 3u);
    EXPECT_EQ((*documents)[0].id, "doc1");
    EXPECT_EQ((*documents)[0].title, "First");
    EXPECT_EQ((*documents)[0].text, "Alpha beta.");
    EXPECT_EQ((*documents)[1].id, "42");  // numeric _id becomes its decimal text
    EXPECT_EQ((*documents)[1].title, "");
    EXPECT_EQ((*documents)[1].text, "No title here.");
    EXPECT_EQ((*documents)[2].id, "doc3");
    EXPECT_EQ((*documents)[2].title, "");  // null title
    EXPECT_EQ((*documents)[2].text, "Caf\xC3\xA9 \"quoted\"\nnext line");
}

TEST(BeirCorpus, MalformedLineIsAnErrorNamingTheLine) {
    std::vector<std::string> seen;
    auto status = for_each_corpus_document(fixture("corpus_malformed.jsonl"),
                                           [&](BeirDocument&& doc) -> core::Result<void> {
                                               seen.push_back(doc.id);
                                               return {};
                                           });
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().code, core::ErrorCode::kInvalidArgument);
    EXPECT_NE(status.error().detail.find("corpus_malformed.jsonl line 3"), std::string::npos)
        << status.error().detail;
    EXPECT_NE(status.error().detail.find("invalid JSON"), std::string::npos);
    // Streaming: the lines before the broken one were already visited, nothing after it.
    EXPECT_EQ(seen, (std::vector<std::string>{"a", "b"}));
}

TEST(BeirCorpus, MissingTextFieldIsAnError) {
    auto documents = read_corpus(fixture("corpus_missing_text.jsonl"));
    ASSERT_FALSE(documents);
    EXPECT_NE(documents.error().detail.find("line 2: missing field 'text'"), std::string::npos)
        << documents.error().detail;
}

TEST(BeirCorpus, MissingFileIsAnIoError) {
    auto documents = read_corpus(fixture("does_not_exist.jsonl"));
    ASSERT_FALSE(documents);
    EXPECT_EQ(documents.error().code, core::ErrorCode::kIo);
    EXPECT_NE(documents.error().detail.find("does_not_exist.jsonl"), std::string::npos);
}

TEST(BeirCorpus, VisitorErrorStopsTheScanAndIsReturnedUnchanged) {
    int visits = 0;
    auto status = for_each_corpus_document(
        fixture("corpus.jsonl"), [&](BeirDocument&&) -> core::Result<void> {
            ++visits;
            return core::fail(core::ErrorCode::kTooLarge, "stop here");
        });
    ASSERT_FALSE(status);
    EXPECT_EQ(visits, 1);
    EXPECT_EQ(status.error().code, core::ErrorCode::kTooLarge);
    EXPECT_EQ(status.error().detail, "stop here");
}

TEST(BeirQueries, LoadsQueriesWithCrlf) {
    auto queries = load_queries(fixture("queries.jsonl"));
    ASSERT_TRUE(queries) << queries.error().detail;
    ASSERT_EQ(queries->size(), 3u);
    EXPECT_EQ((*queries)[0].id, "ref:sql-createindex");
    EXPECT_EQ((*queries)[0].text, "define a new index");
    EXPECT_EQ((*queries)[1].id, "guc:work_mem");
    EXPECT_EQ((*queries)[2].text, "no kind");
}

TEST(BeirQueries, NonObjectLineIsAnError) {
    auto queries = load_queries(fixture("queries_not_object.jsonl"));
    ASSERT_FALSE(queries);
    EXPECT_NE(queries.error().detail.find("line 2: expected a JSON object"), std::string::npos)
        << queries.error().detail;
}

TEST(BeirQueries, DuplicateIdIsAnErrorNamingBothLines) {
    auto queries = load_queries(fixture("queries_duplicate.jsonl"));
    ASSERT_FALSE(queries);
    EXPECT_NE(queries.error().detail.find("line 3: duplicate query id 'q1' (first on line 1)"),
              std::string::npos)
        << queries.error().detail;
}

TEST(BeirQrels, LoadsGradesSkippingHeaderAndCrlf) {
    auto qrels = load_qrels(fixture("qrels.tsv"));
    ASSERT_TRUE(qrels) << qrels.error().detail;
    ASSERT_EQ(qrels->size(), 3u);
    EXPECT_EQ(qrels->at("q1").at("d1"), 1);
    EXPECT_EQ(qrels->at("q1").at("d2"), 2);
    EXPECT_EQ(qrels->at("q2").at("d3"), 0);  // kept: judged non-relevant
    EXPECT_EQ(qrels->at("q3").at("page#A/1"), 1);
    EXPECT_EQ(qrels->count("query-id"), 0u);
}

TEST(BeirQrels, SpaceSeparatedWithoutHeader) {
    auto qrels = load_qrels(fixture("qrels_spaces.tsv"));
    ASSERT_TRUE(qrels) << qrels.error().detail;
    EXPECT_EQ(qrels->size(), 2u);
    EXPECT_EQ(qrels->at("q2").at("d2"), 1);
}

TEST(BeirQrels, NonIntegerScoreIsAnErrorNamingTheLine) {
    auto qrels = load_qrels(fixture("qrels_bad_score.tsv"));
    ASSERT_FALSE(qrels);
    EXPECT_EQ(qrels.error().code, core::ErrorCode::kInvalidArgument);
    EXPECT_NE(qrels.error().detail.find("line 3: score 'yes' is not an integer"), std::string::npos)
        << qrels.error().detail;
}

TEST(BeirQrels, WrongFieldCountIsAnError) {
    auto qrels = load_qrels(fixture("qrels_short.tsv"));
    ASSERT_FALSE(qrels);
    EXPECT_NE(qrels.error().detail.find("line 3: expected 3 fields"), std::string::npos)
        << qrels.error().detail;
}

// The real data set, when present: counts from its README. It lives beside the source tree
// (../shared), wherever the tree was cloned; a fixed /work path made this skip on other
// machines.
TEST(BeirPgdocs, LoadsTheSharedDataSetIfPresent) {
    const std::string dir = RAGD_SOURCE_DIR "/../shared/data/pgdocs";
    if (!std::filesystem::exists(dir + "/corpus.jsonl"))
        GTEST_SKIP() << dir << " not present";
    std::size_t documents = 0;
    auto status = for_each_corpus_document(
        dir + "/corpus.jsonl", [&](BeirDocument&& doc) -> core::Result<void> {
            if (doc.id.empty() || doc.text.empty()) {
                return core::fail(core::ErrorCode::kCorrupt, "empty id or text");
            }
            ++documents;
            return {};
        });
    ASSERT_TRUE(status) << status.error().detail;
    EXPECT_EQ(documents, 6080u);
    auto queries = load_queries(dir + "/queries.jsonl");
    ASSERT_TRUE(queries) << queries.error().detail;
    EXPECT_EQ(queries->size(), 622u);
    auto qrels = load_qrels(dir + "/qrels/test.tsv");
    ASSERT_TRUE(qrels) << qrels.error().detail;
    EXPECT_EQ(qrels->size(), 622u);
    std::size_t pairs = 0;
    for (const auto& [query, judgements] : *qrels)
        pairs += judgements.size();
    EXPECT_EQ(pairs, 641u);
}

}  // namespace
}  // namespace ragd::eval
