// ragd's in-memory BM25 index beyond the shared backend cases: it ranks like Xapian (same
// formula, same words), pruning by term bounds returns exactly the unpruned top k, its snapshot
// round-trips and refuses damage, and compaction after many replacements keeps every answer.
#include "retrieval/memory_bm25_index.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include <gtest/gtest.h>

#include "retrieval/bm25_index.hpp"
#include "temp_dir.hpp"

namespace ragd::retrieval {
namespace {

namespace fs = std::filesystem;

class TempDir : public testing::TempDir {
public:
    TempDir() : testing::TempDir("ragd_mem_bm25_test_") {}
};

storage::IndexableChunk make_chunk(std::int64_t id,
                                   std::string text,
                                   std::string title = "",
                                   std::vector<std::string> headings = {},
                                   storage::Metadata metadata = {}) {
    storage::IndexableChunk chunk;
    chunk.chunk.id = id;
    chunk.chunk.text = std::move(text);
    chunk.chunk.heading_path = std::move(headings);
    chunk.title = std::move(title);
    chunk.source = "docs/" + std::to_string(id % 3) + ".md";
    chunk.metadata = std::move(metadata);
    return chunk;
}

std::unique_ptr<Bm25Index> open_memory(const std::string& dir,
                                       std::string* problem = nullptr,
                                       const Bm25Options& options = {}) {
    auto index = open_memory_bm25_index(dir, options, problem);
    EXPECT_TRUE(index.has_value()) << (index ? "" : index.error().detail);
    return std::move(index.value());
}

std::vector<storage::IndexableChunk> sample_corpus() {
    return {
        make_chunk(1,
                   "VACUUM reclaims storage occupied by dead tuples. Run it regularly.",
                   "Routine Vacuuming",
                   {"Routine Vacuuming", "Vacuum Basics"}),
        make_chunk(2,
                   "The planner's cost estimates decide between index scans and sequential "
                   "scans; enable_seqscan turns the latter off.",
                   "Planner Configuration",
                   {"Planner Method Configuration"}),
        make_chunk(3,
                   "Indexes speed up lookups. A B-tree index handles equality and range "
                   "queries; don't over-index write-heavy tables.",
                   "Indexes"),
        make_chunk(4,
                   "Version 9.6 added parallel sequential scans; 1,000 rows per page is rare.",
                   "Release Notes"),
        make_chunk(5,
                   "Client libraries exist for C, C++ and C#. The C++ library is libpqxx.",
                   "Client Interfaces",
                   {"Client Interfaces", "Languages"}),
        make_chunk(
            6, "Café owners use PostgreSQL too. ÉCOLE and École are the same word.", "Users"),
        make_chunk(7,
                   "Write-ahead logging (WAL) ensures durability; checkpoints flush dirty "
                   "buffers, and max_wal_size bounds the log between checkpoints.",
                   "WAL Configuration",
                   {"Reliability", "WAL Configuration"}),
        make_chunk(8,
                   "Replication streams WAL records to standby servers, which replay them.",
                   "High Availability"),
        make_chunk(9,
                   "Autovacuum launches vacuum workers; autovacuum_naptime sets the pause.",
                   "Routine Vacuuming",
                   {"Routine Vacuuming", "The Autovacuum Daemon"}),
        make_chunk(
            10, "Sequential scans read every page of a table; index-only scans do not.", "Scans"),
    };
}

std::vector<std::string> sample_queries() {
    return {"vacuum",
            "how does vacuum reclaim dead tuples",
            "enable_seqscan",
            "seqscan planner",
            "C++ client library",
            "9.6 parallel",
            "cafe école",
            "WAL checkpoints durability",
            "autovacuum naptime",
            "don't",
            "replication standby replay",
            "Scans Scans scans",
            "index scans",
            "scans sequential",
            "index sequential",
            "scans sequential scans",
            "index scans sequential scans",
            "index scans versus sequential scans"};
}

TEST(MemoryBm25Index, RanksLikeXapian) {
    TempDir memory_dir;
    TempDir xapian_dir;
    auto memory = open_memory(memory_dir.str());
    auto xapian = open_bm25_index(xapian_dir.str());
    ASSERT_TRUE(xapian) << xapian.error().detail;
    for (const auto& chunk : sample_corpus()) {
        ASSERT_TRUE(memory->add(chunk));
        ASSERT_TRUE((*xapian)->add(chunk));
    }
    ASSERT_TRUE(memory->commit(1));
    ASSERT_TRUE((*xapian)->commit(1));
    for (const std::string& query : sample_queries()) {
        auto mine = memory->search(query, 10);
        auto theirs = (*xapian)->search(query, 10);
        ASSERT_TRUE(mine && theirs) << query;
        ASSERT_EQ(mine->size(), theirs->size()) << query;
        ASSERT_FALSE(mine->empty()) << query;
        for (std::size_t at = 0; at < mine->size(); ++at) {
            EXPECT_EQ((*mine)[at].chunk_id, (*theirs)[at].chunk_id) << query << " rank " << at;
            EXPECT_NEAR((*mine)[at].score, (*theirs)[at].score, 1e-9 + 1e-6 * (*theirs)[at].score)
                << query << " rank " << at;
        }
    }
}

/// A made-up word for rank `rank` of a Zipf-like vocabulary: letters only, so that stemming
/// and stopwords leave distinct words distinct.
std::string vocabulary_word(std::size_t rank) {
    std::string word = "zq";
    do {
        word += static_cast<char>('a' + rank % 26);
        rank /= 26;
    } while (rank > 0);
    return word;
}

TEST(MemoryBm25Index, PruningByBoundsReturnsExactlyTheUnprunedTopK) {
    TempDir pruned_dir;
    TempDir exhaustive_dir;
    Bm25Options exhaustive_options;
    exhaustive_options.prune_by_bounds = false;
    auto pruned = open_memory(pruned_dir.str());
    auto exhaustive = open_memory(exhaustive_dir.str(), nullptr, exhaustive_options);

    std::mt19937 random(7);
    constexpr std::size_t kVocabulary = 3000;
    // Rank r drawn with weight ~1/(r+1): a few words in most chunks, most words in few.
    std::vector<double> weights;
    for (std::size_t rank = 0; rank < kVocabulary; ++rank) {
        weights.push_back(1.0 / static_cast<double>(rank + 1));
    }
    std::discrete_distribution<std::size_t> pick_word(weights.begin(), weights.end());
    std::uniform_int_distribution<int> pick_length(2, 250);
    auto text_of = [&](int words) {
        std::string text;
        for (int at = 0; at < words; ++at) {
            text += vocabulary_word(pick_word(random)) + (at % 11 == 10 ? ". " : " ");
        }
        return text;
    };
    for (std::int64_t id = 1; id <= 2500; ++id) {
        storage::Metadata metadata;
        if (id % 4 == 0) {
            metadata = {{"team", "ops"}};
        }
        auto chunk = make_chunk(
            id,
            text_of(pick_length(random)),
            id % 5 == 0 ? text_of(3) : "",
            id % 7 == 0 ? std::vector<std::string>{text_of(2)} : std::vector<std::string>{},
            metadata);
        ASSERT_TRUE(pruned->add(chunk));
        ASSERT_TRUE(exhaustive->add(chunk));
    }
    ASSERT_TRUE(pruned->commit(1));
    ASSERT_TRUE(exhaustive->commit(1));
    // Removed and replaced chunks leave dead postings behind, which the bounds must cover too.
    for (std::int64_t id = 3; id <= 2500; id += 9) {
        ASSERT_TRUE(pruned->remove(id));
        ASSERT_TRUE(exhaustive->remove(id));
    }
    for (std::int64_t id = 5; id <= 2500; id += 13) {
        auto chunk = make_chunk(id, text_of(pick_length(random)));
        ASSERT_TRUE(pruned->add(chunk));
        ASSERT_TRUE(exhaustive->add(chunk));
    }
    ASSERT_TRUE(pruned->commit(2));
    ASSERT_TRUE(exhaustive->commit(2));

    const std::uint64_t pruned_before = memory_bm25_pruned_searches();
    std::uniform_int_distribution<int> pick_terms(1, 8);
    std::uniform_int_distribution<std::size_t> pick_any(0, kVocabulary - 1);
    const std::vector<std::size_t> ks = {1, 3, 10, 30, 100};
    const SearchFilter ops_only{"", {{"team", "ops"}}};
    std::size_t searches = 0;
    for (int round = 0; round < 300; ++round) {
        std::string query;
        for (int term = pick_terms(random); term > 0; --term) {
            // Mix common words (Zipf) with rare ones (uniform over the vocabulary).
            query += vocabulary_word(term % 2 == 0 ? pick_word(random) : pick_any(random)) + " ";
        }
        const std::size_t k = ks[static_cast<std::size_t>(round) % ks.size()];
        const SearchFilter filter = round % 3 == 0 ? ops_only : SearchFilter{};
        auto mine = pruned->search(query, k, filter);
        auto reference = exhaustive->search(query, k, filter);
        ASSERT_TRUE(mine && reference) << query;
        ++searches;
        ASSERT_EQ(mine->size(), reference->size()) << query << " k " << k;
        for (std::size_t at = 0; at < mine->size(); ++at) {
            EXPECT_EQ((*mine)[at].chunk_id, (*reference)[at].chunk_id)
                << query << " k " << k << " rank " << at;
            EXPECT_EQ((*mine)[at].score, (*reference)[at].score)
                << query << " k " << k << " rank " << at;
        }
    }
    // The comparison means something only if the pruned path ran for many of the searches.
    EXPECT_GT(memory_bm25_pruned_searches() - pruned_before, searches / 4);
}

TEST(MemoryBm25Index, SnapshotRoundTripKeepsRankingAndFilters) {
    TempDir dir;
    std::vector<Bm25Hit> before;
    std::vector<Bm25Hit> filtered_before;
    SearchFilter filter{"docs/1", {{"team", "ops"}}};
    {
        auto index = open_memory(dir.str());
        auto corpus = sample_corpus();
        corpus[0].metadata = {{"team", "ops"}};  // chunk 1: source docs/1.md
        corpus[3].metadata = {{"team", "ops"}};  // chunk 4: source docs/1.md
        for (const auto& chunk : corpus) {
            ASSERT_TRUE(index->add(chunk));
        }
        ASSERT_TRUE(index->commit(42));
        ASSERT_TRUE(index->remove(8));
        ASSERT_TRUE(index->commit(43));
        before = *index->search("scans vacuum replication", 10);
        filtered_before = *index->search("vacuum version", 10, filter);
        ASSERT_TRUE(index->persist());
    }
    std::string problem;
    auto index = open_memory(dir.str(), &problem);
    EXPECT_TRUE(problem.empty()) << problem;
    EXPECT_EQ(index->applied_seq(), 43);
    EXPECT_EQ(index->size(), 9u);
    auto after = *index->search("scans vacuum replication", 10);
    ASSERT_EQ(after.size(), before.size());
    for (std::size_t at = 0; at < after.size(); ++at) {
        EXPECT_EQ(after[at].chunk_id, before[at].chunk_id);
        EXPECT_DOUBLE_EQ(after[at].score, before[at].score);
    }
    auto filtered_after = *index->search("vacuum version", 10, filter);
    ASSERT_EQ(filtered_after.size(), 2u);
    ASSERT_EQ(filtered_before.size(), 2u);
    EXPECT_EQ(filtered_after[0].chunk_id, filtered_before[0].chunk_id);
    EXPECT_EQ(*index->chunk_ids(), (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7, 9, 10}));
}

TEST(MemoryBm25Index, DamagedOrForeignSnapshotsStartEmpty) {
    TempDir dir;
    {
        auto index = open_memory(dir.str());
        for (const auto& chunk : sample_corpus()) {
            ASSERT_TRUE(index->add(chunk));
        }
        ASSERT_TRUE(index->commit(5));
        ASSERT_TRUE(index->persist());
    }
    fs::path file = dir.path() / "bm25-memory.bin";
    std::string good;
    {
        std::ifstream in(file, std::ios::binary);
        good.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    ASSERT_GT(good.size(), 100u);
    auto expect_empty_with_problem =
        [&](const std::string& bytes, const Bm25Options& options, const std::string& why) {
            std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
            std::string problem;
            auto index = open_memory(dir.str(), &problem, options);
            EXPECT_NE(problem.find(why), std::string::npos) << problem;
            EXPECT_EQ(index->applied_seq(), 0);
            EXPECT_EQ(index->size(), 0u);
        };
    expect_empty_with_problem(good.substr(0, good.size() - 1), {}, "truncated");
    std::string flipped = good;
    flipped[good.size() / 2] = static_cast<char>(flipped[good.size() / 2] ^ 0x20);
    expect_empty_with_problem(flipped, {}, "checksum");
    expect_empty_with_problem("not a snapshot at all, not at all, not at all, not at all",
                              {},
                              "not a ragd BM25 snapshot");
    Bm25Options other;
    other.title_wdf = 5;
    expect_empty_with_problem(good, other, "other indexing options");
    // The intact file still loads.
    std::ofstream(file, std::ios::binary | std::ios::trunc) << good;
    std::string problem;
    auto index = open_memory(dir.str(), &problem);
    EXPECT_TRUE(problem.empty()) << problem;
    EXPECT_EQ(index->size(), 10u);
}

TEST(MemoryBm25Index, CompactionAfterManyReplacementsKeepsAnswers) {
    TempDir dir;
    auto index = open_memory(dir.str());
    constexpr int kChunks = 1500;
    auto text_of = [](int chunk_id, int version) {
        std::string text =
            "version" + std::to_string(version) + " chunk" + std::to_string(chunk_id);
        for (int word = 0; word < 60; ++word) {
            text += " w" + std::to_string((chunk_id * 7 + word * 13 + version) % 500);
        }
        return text;
    };
    std::int64_t seq = 0;
    for (int version = 1; version <= 4; ++version) {
        for (int chunk_id = 1; chunk_id <= kChunks; ++chunk_id) {
            ASSERT_TRUE(index->add(make_chunk(chunk_id, text_of(chunk_id, version))));
        }
        ASSERT_TRUE(index->commit(++seq));
    }
    // Every replaced version left ~60 dead postings per chunk: 270k, enough to compact.
    EXPECT_EQ(index->size(), static_cast<std::size_t>(kChunks));
    EXPECT_TRUE(index->search("version1", 10)->empty());
    EXPECT_TRUE(index->search("version3", 10)->empty());
    EXPECT_EQ(index->search("version4", kChunks + 10)->size(), static_cast<std::size_t>(kChunks));
    auto one = *index->search("chunk777", 5);
    ASSERT_EQ(one.size(), 1u);
    EXPECT_EQ(one[0].chunk_id, 777);
    ASSERT_TRUE(index->remove(777));
    ASSERT_TRUE(index->commit(++seq));
    EXPECT_TRUE(index->search("chunk777", 5)->empty());
    auto ids = *index->chunk_ids();
    ASSERT_EQ(ids.size(), static_cast<std::size_t>(kChunks - 1));
    EXPECT_EQ(ids.front(), 1);
    EXPECT_EQ(ids.back(), kChunks);
    // A snapshot after compaction reloads the same state.
    ASSERT_TRUE(index->persist());
    index.reset();
    auto reopened = open_memory(dir.str());
    EXPECT_EQ(reopened->size(), static_cast<std::size_t>(kChunks - 1));
    EXPECT_EQ(reopened->search("version4", kChunks + 10)->size(),
              static_cast<std::size_t>(kChunks - 1));
}

}  // namespace
}  // namespace ragd::retrieval
