// Both BM25 backends (ragd's in-memory index and Xapian) pass the same cases: visibility at
// commit, stemming, title weight, filters, persistence of the applied sequence, recovery from a
// corrupt file, and searches racing a writer. Memory-only cases (snapshot, compaction, agreement
// with Xapian's ranking) are in memory_bm25_index_test.cpp.
#include "retrieval/bm25_index.hpp"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "retrieval/memory_bm25_index.hpp"
#include "temp_dir.hpp"

namespace ragd::retrieval {
namespace {

namespace fs = std::filesystem;

class TempDir : public testing::TempDir {
public:
    TempDir() : testing::TempDir("ragd_bm25_test_") {}
};

storage::IndexableChunk make_chunk(std::int64_t id,
                                   std::string text,
                                   std::string title = "",
                                   std::string source = "docs/a.md",
                                   storage::Metadata metadata = {}) {
    storage::IndexableChunk chunk;
    chunk.chunk.id = id;
    chunk.chunk.text = std::move(text);
    chunk.title = std::move(title);
    chunk.source = std::move(source);
    chunk.metadata = std::move(metadata);
    return chunk;
}

// The backend under test; set by the fixture before each case.
std::string g_backend = "memory";

core::Result<std::unique_ptr<Bm25Index>> open_index(const std::string& dir,
                                                    std::string* problem = nullptr) {
    return g_backend == "xapian" ? open_bm25_index(dir, problem)
                                 : open_memory_bm25_index(dir, Bm25Options{}, problem);
}

std::unique_ptr<Bm25Index> open_ok(const std::string& dir, std::string* problem = nullptr) {
    auto index = open_index(dir, problem);
    EXPECT_TRUE(index.has_value()) << (index ? "" : index.error().detail);
    return std::move(index.value());
}

std::vector<std::int64_t> ids(const core::Result<std::vector<Bm25Hit>>& hits) {
    EXPECT_TRUE(hits.has_value());
    std::vector<std::int64_t> out;
    if (hits) {
        for (const auto& hit : *hits) {
            out.push_back(hit.chunk_id);
        }
    }
    return out;
}

class Bm25Index : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override { g_backend = GetParam(); }
};

INSTANTIATE_TEST_SUITE_P(Backends,
                         Bm25Index,
                         ::testing::Values("memory", "xapian"),
                         [](const auto& info) { return info.param; });

TEST_P(Bm25Index, AddIsVisibleAfterCommitAndRemoveAfterNextCommit) {
    TempDir dir;
    auto index = open_ok(dir.str());
    ASSERT_TRUE(index->add(make_chunk(1, "Vacuum reclaims storage occupied by dead tuples.")));
    ASSERT_TRUE(index->add(make_chunk(2, "Checkpoints flush dirty buffers to disk.")));
    EXPECT_TRUE(ids(index->search("vacuum", 10)).empty());  // not committed yet
    EXPECT_EQ(index->size(), 0u);
    ASSERT_TRUE(index->commit(1));
    EXPECT_EQ(ids(index->search("vacuum", 10)), std::vector<std::int64_t>{1});
    EXPECT_EQ(index->size(), 2u);
    ASSERT_TRUE(index->persist());
    EXPECT_GT(index->disk_bytes(), 0u);

    ASSERT_TRUE(index->remove(1));
    ASSERT_TRUE(index->remove(12345));  // absent: fine
    EXPECT_EQ(ids(index->search("vacuum", 10)), std::vector<std::int64_t>{1});
    ASSERT_TRUE(index->commit(2));
    EXPECT_TRUE(ids(index->search("vacuum", 10)).empty());
    EXPECT_EQ(index->size(), 1u);
}

TEST_P(Bm25Index, AddReplacesPreviousVersion) {
    TempDir dir;
    auto index = open_ok(dir.str());
    ASSERT_TRUE(index->add(make_chunk(7, "old text about replication")));
    ASSERT_TRUE(index->commit(1));
    ASSERT_TRUE(index->add(make_chunk(7, "new text about partitioning")));
    ASSERT_TRUE(index->commit(2));
    EXPECT_TRUE(ids(index->search("replication", 10)).empty());
    EXPECT_EQ(ids(index->search("partitioning", 10)), std::vector<std::int64_t>{7});
    EXPECT_EQ(index->size(), 1u);
}

TEST_P(Bm25Index, StemmingMatchesInflectionsAndRanksBestFirst) {
    TempDir dir;
    auto index = open_ok(dir.str());
    ASSERT_TRUE(index->add(make_chunk(1, "Indexing a column speeds up lookups.")));
    ASSERT_TRUE(index->add(make_chunk(2, "The planner chooses between indexes and scans.")));
    ASSERT_TRUE(index->add(make_chunk(3, "Logging settings.")));
    ASSERT_TRUE(index->commit(1));
    auto found = ids(index->search("index", 10));
    EXPECT_EQ(found.size(), 2u);
    EXPECT_EQ(std::count(found.begin(), found.end(), 3), 0);
    auto hits = index->search("indexes planner", 10);
    ASSERT_TRUE(hits);
    ASSERT_EQ(hits->size(), 2u);
    EXPECT_EQ((*hits)[0].chunk_id, 2);
    EXPECT_GT((*hits)[0].score, (*hits)[1].score);
}

TEST_P(Bm25Index, TitleAndHeadingsWeighMoreThanBody) {
    TempDir dir;
    auto index = open_ok(dir.str());
    // Same term once each: chunk 1 has it in the title, chunk 2 in an equally long body.
    ASSERT_TRUE(index->add(make_chunk(1, "alpha beta gamma delta", "Tablespaces")));
    ASSERT_TRUE(index->add(make_chunk(2, "alpha beta gamma tablespaces", "Overview")));
    auto heading = make_chunk(3, "alpha beta gamma epsilon", "Overview");
    heading.chunk.heading_path = {"Overview", "Tablespaces"};
    ASSERT_TRUE(index->add(heading));
    ASSERT_TRUE(index->commit(1));
    auto found = ids(index->search("tablespaces", 10));
    EXPECT_EQ(found, (std::vector<std::int64_t>{1, 3, 2}));
}

TEST_P(Bm25Index, IdentifierPartsAreSearchable) {
    TempDir dir;
    auto index = open_ok(dir.str());
    ASSERT_TRUE(index->add(make_chunk(1, "enable_seqscan (boolean) The default is on.")));
    ASSERT_TRUE(index->add(make_chunk(2, "Unrelated text about roles.")));
    ASSERT_TRUE(index->commit(1));
    EXPECT_EQ(ids(index->search("enable_seqscan", 10)), std::vector<std::int64_t>{1});
    EXPECT_EQ(ids(index->search("seqscan", 10)), std::vector<std::int64_t>{1});
}

TEST_P(Bm25Index, FiltersOnSourcePrefixAndMetadataTogether) {
    TempDir dir;
    auto index = open_ok(dir.str());
    ASSERT_TRUE(index->add(make_chunk(
        1, "backup restore", "", "docs/admin/backup.md", {{"lang", "en"}, {"team", "ops"}})));
    ASSERT_TRUE(
        index->add(make_chunk(2, "backup restore", "", "docs/admin2/backup.md", {{"lang", "en"}})));
    ASSERT_TRUE(index->add(
        make_chunk(3, "backup restore", "", "docs/guide.md", {{"lang", "de"}, {"team", "ops"}})));
    std::string long_value(600, 'v');
    ASSERT_TRUE(
        index->add(make_chunk(4, "backup restore", "", "other/x.md", {{"blob", long_value}})));
    ASSERT_TRUE(index->commit(1));

    auto search = [&](SearchFilter filter) {
        auto found = ids(index->search("backup", 10, filter));
        std::sort(found.begin(), found.end());
        return found;
    };
    EXPECT_EQ(search({}), (std::vector<std::int64_t>{1, 2, 3, 4}));
    // A plain string prefix, not only at '/' boundaries.
    EXPECT_EQ(search({"docs/admin", {}}), (std::vector<std::int64_t>{1, 2}));
    EXPECT_EQ(search({"docs/admin/", {}}), (std::vector<std::int64_t>{1}));
    EXPECT_EQ(search({"docs/g", {}}), (std::vector<std::int64_t>{3}));
    EXPECT_EQ(search({"docs/admin/backup.md", {}}), (std::vector<std::int64_t>{1}));
    EXPECT_TRUE(search({"nope", {}}).empty());
    EXPECT_EQ(search({"", {{"team", "ops"}}}), (std::vector<std::int64_t>{1, 3}));
    EXPECT_EQ(search({"", {{"team", "ops"}, {"lang", "en"}}}), (std::vector<std::int64_t>{1}));
    EXPECT_EQ(search({"docs/g", {{"lang", "en"}}}), std::vector<std::int64_t>{});
    EXPECT_EQ(search({"", {{"lang", "EN"}}}), std::vector<std::int64_t>{});  // exact values
    EXPECT_EQ(search({"", {{"blob", long_value}}}), (std::vector<std::int64_t>{4}));
    EXPECT_EQ(search({"", {{"blob", std::string(600, 'w')}}}), std::vector<std::int64_t>{});
}

TEST(Bm25Filter, FilterAcceptsMatchesIndexSemantics) {
    storage::Metadata metadata = {{"lang", "en"}, {"team", "ops"}};
    EXPECT_TRUE(filter_accepts({}, "anything", {}));
    EXPECT_TRUE(filter_accepts({"docs/ad", {}}, "docs/admin/a.md", metadata));
    EXPECT_FALSE(filter_accepts({"docs/ad", {}}, "doc", metadata));
    EXPECT_TRUE(filter_accepts({"", {{"team", "ops"}}}, "x", metadata));
    EXPECT_TRUE(filter_accepts({"x", {{"team", "ops"}, {"lang", "en"}}}, "x", metadata));
    EXPECT_FALSE(filter_accepts({"", {{"team", "dev"}}}, "x", metadata));
    EXPECT_FALSE(filter_accepts({"", {{"owner", "ops"}}}, "x", metadata));
}

TEST_P(Bm25Index, AppliedSeqPersistsAcrossReopen) {
    TempDir dir;
    {
        auto index = open_ok(dir.str());
        EXPECT_EQ(index->applied_seq(), 0);
        ASSERT_TRUE(index->add(make_chunk(1, "write ahead log")));
        ASSERT_TRUE(index->commit(17));
        EXPECT_EQ(index->applied_seq(), 17);
        ASSERT_TRUE(index->add(make_chunk(2, "uncommitted text")));
    }
    // Whatever Xapian does with pending postings at close, the seq marker moves only on
    // commit(), so a restart replays from 17 (adds are idempotent replacements).
    auto index = open_ok(dir.str());
    EXPECT_EQ(index->applied_seq(), 17);
    EXPECT_EQ(ids(index->search("ahead", 10)), std::vector<std::int64_t>{1});
}

TEST_P(Bm25Index, ClearDropsEverythingAtCommit) {
    TempDir dir;
    auto index = open_ok(dir.str());
    for (int chunk_id = 1; chunk_id <= 20; ++chunk_id) {
        ASSERT_TRUE(index->add(make_chunk(chunk_id, "shared term text")));
    }
    ASSERT_TRUE(index->commit(1));
    ASSERT_TRUE(index->clear());
    EXPECT_EQ(ids(index->search("shared", 50)).size(), 20u);
    ASSERT_TRUE(index->commit(2));
    EXPECT_TRUE(ids(index->search("shared", 50)).empty());
    EXPECT_EQ(index->size(), 0u);
}

TEST_P(Bm25Index, ChunkIdsListTheCommittedChunks) {
    TempDir dir;
    auto index = open_ok(dir.str());
    for (int chunk_id : {9, 3, 5}) {
        ASSERT_TRUE(index->add(make_chunk(chunk_id, "text")));
    }
    auto none = index->chunk_ids();
    ASSERT_TRUE(none.has_value()) << none.error().detail;
    EXPECT_TRUE(none->empty());  // nothing committed yet
    ASSERT_TRUE(index->commit(1));
    ASSERT_TRUE(index->remove(5));
    ASSERT_TRUE(index->commit(2));
    auto listed = index->chunk_ids();
    ASSERT_TRUE(listed.has_value()) << listed.error().detail;
    EXPECT_EQ(*listed, (std::vector<std::int64_t>{3, 9}));
}

TEST_P(Bm25Index, OddQueriesDoNotFail) {
    TempDir dir;
    auto index = open_ok(dir.str());
    ASSERT_TRUE(index->add(make_chunk(1, "the quick brown fox")));
    ASSERT_TRUE(index->commit(1));
    for (const std::string& query : std::vector<std::string>{"",
                                                             "   ",
                                                             "\"unbalanced quote fox",
                                                             "(fox",
                                                             "fox AND",
                                                             "NOT",
                                                             "fox*",
                                                             std::string(1000, 'x'),
                                                             "\xff\xfe fox"}) {
        auto hits = index->search(query, 5);
        EXPECT_TRUE(hits.has_value()) << query;
    }
    EXPECT_EQ(ids(index->search("\"unbalanced quote fox", 5)), std::vector<std::int64_t>{1});
    EXPECT_TRUE(ids(index->search("fox", 0)).empty());
}

TEST_P(Bm25Index, CorruptDatabaseIsRebuiltEmpty) {
    TempDir dir;
    {
        auto index = open_ok(dir.str());
        ASSERT_TRUE(index->add(make_chunk(1, "some text")));
        ASSERT_TRUE(index->commit(5));
    }
    std::vector<fs::path> files;
    if (GetParam() == "xapian") {
        for (const auto& entry : fs::directory_iterator(dir.path() / "bm25")) {
            files.push_back(entry.path());
        }
    } else {
        files.push_back(dir.path() / "bm25-memory.bin");
    }
    for (const fs::path& file : files) {
        ASSERT_TRUE(fs::exists(file)) << file;
        std::ofstream(file, std::ios::trunc | std::ios::binary) << "garbage garbage garbage";
    }
    std::string problem;
    auto index = open_ok(dir.str(), &problem);
    EXPECT_FALSE(problem.empty());
    EXPECT_EQ(index->applied_seq(), 0);
    EXPECT_EQ(index->size(), 0u);
    ASSERT_TRUE(index->add(make_chunk(2, "rebuilt text")));
    ASSERT_TRUE(index->commit(1));
    EXPECT_EQ(ids(index->search("rebuilt", 5)), std::vector<std::int64_t>{2});
}

TEST_P(Bm25Index, SecondWriterGetsConflictNotDeletion) {
    TempDir dir;
    auto first = open_ok(dir.str());
    ASSERT_TRUE(first->add(make_chunk(1, "kept")));
    ASSERT_TRUE(first->commit(3));
    std::string problem;
    auto second = open_index(dir.str(), &problem);
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().code, core::ErrorCode::kConflict);
    EXPECT_EQ(ids(first->search("kept", 5)), std::vector<std::int64_t>{1});
}

TEST_P(Bm25Index, SearchesRunWhileWriterAddsAndCommits) {
    TempDir dir;
    auto index = open_ok(dir.str());
    ASSERT_TRUE(index->add(make_chunk(1, "anchor document about sentinel values")));
    ASSERT_TRUE(index->commit(1));
    std::atomic<bool> done{false};
    std::atomic<int> failures{0};
    std::atomic<int> searches{0};
    std::mutex first_failure_mutex;
    std::string first_failure;
    std::vector<std::thread> readers;
    for (int thread_idx = 0; thread_idx < 3; ++thread_idx) {
        readers.emplace_back([&] {
            while (!done) {
                auto hits = index->search("sentinel", 5);
                if (!hits || hits->empty() || hits->front().chunk_id != 1) {
                    if (failures++ == 0) {
                        std::lock_guard lock(first_failure_mutex);
                        first_failure = !hits           ? hits.error().detail
                                        : hits->empty() ? "no hits"
                                                        : "wrong first hit";
                    }
                }
                ++searches;
            }
        });
    }
    // The in-memory index can take all 400 chunks before a reader thread is even scheduled, so
    // the writer waits for searches to happen between its commits (bounded, in case none can).
    auto wait_for_searches = [&](int at_least) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (searches.load() < at_least && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::yield();
        }
    };
    wait_for_searches(3);
    for (int chunk_id = 2; chunk_id <= 400; ++chunk_id) {
        ASSERT_TRUE(
            index->add(make_chunk(chunk_id, "filler text number " + std::to_string(chunk_id))));
        if (chunk_id % 20 == 0) {
            ASSERT_TRUE(index->commit(chunk_id));
            wait_for_searches(searches.load() + 1);
        }
    }
    ASSERT_TRUE(index->commit(401));
    done = true;
    for (auto& reader : readers) {
        reader.join();
    }
    EXPECT_EQ(failures.load(), 0) << first_failure;
    EXPECT_GT(searches.load(), 0);
    EXPECT_EQ(index->size(), 400u);
    EXPECT_EQ(ids(index->search("filler", 1000)).size(), 399u);
}

}  // namespace
}  // namespace ragd::retrieval
