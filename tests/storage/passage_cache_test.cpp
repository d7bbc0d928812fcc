// The passage cache in front of SQLite: it answers what the database would, serves repeated
// loads from memory (shown by deleting rows behind its back), forgets replaced and deleted
// chunks, stays within its budget, and holds up under concurrent loads and replacements.
#include "storage/passage_cache.hpp"

#include <atomic>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

#include "storage/storage.hpp"

namespace ragd::storage {
namespace {

namespace fs = std::filesystem;

constexpr char kModel[] = "test-model";

/// Real storage whose get_chunks fails while `fail_loads` is set: the database going away
/// under a running query.
class FlakyStorage final : public Storage {
public:
    explicit FlakyStorage(std::unique_ptr<Storage> real) : real_(std::move(real)) {}
    std::atomic<bool> fail_loads{false};

    core::Result<std::vector<IndexableChunk>> get_chunks(std::span<const std::int64_t> ids,
                                                         const std::string& model_id) override {
        if (fail_loads.load()) {
            return core::fail(core::ErrorCode::kIo, "disk I/O error (test)");
        }
        return real_->get_chunks(ids, model_id);
    }
    core::Result<UpsertOutcome> upsert_document(const DocumentRecord& doc,
                                                std::span<const NewChunk> chunks,
                                                const std::string& model_id) override {
        return real_->upsert_document(doc, chunks, model_id);
    }
    std::vector<core::Result<UpsertOutcome>> upsert_documents(std::span<const DocumentWrite> writes,
                                                              const std::string& model_id,
                                                              OnFailure on_failure) override {
        return real_->upsert_documents(writes, model_id, on_failure);
    }
    core::Result<bool> delete_document(const std::string& id) override {
        return real_->delete_document(id);
    }
    core::Result<std::optional<DocumentRecord>> get_document(const std::string& id) override {
        return real_->get_document(id);
    }
    core::Result<std::optional<std::string>> content_hash(const std::string& id) override {
        return real_->content_hash(id);
    }
    core::Result<std::vector<ChunkRecord>> chunks_of(const std::string& document_id) override {
        return real_->chunks_of(document_id);
    }
    core::Result<std::vector<IndexableChunk>> indexable_chunks_of(
        const std::string& document_id, const std::string& model_id) override {
        return real_->indexable_chunks_of(document_id, model_id);
    }
    core::Result<void> for_each_chunk(
        const std::string& model_id,
        const std::function<void(const IndexableChunk&)>& visit) override {
        return real_->for_each_chunk(model_id, visit);
    }
    core::Result<std::vector<Change>> changes_since(std::int64_t after,
                                                    std::size_t limit) override {
        return real_->changes_since(after, limit);
    }
    core::Result<std::int64_t> last_seq() override { return real_->last_seq(); }
    core::Result<StorageStats> stats() override { return real_->stats(); }
    core::Result<std::vector<DocumentRecord>> list_documents(std::size_t offset,
                                                             std::size_t limit) override {
        return real_->list_documents(offset, limit);
    }
    core::Result<std::vector<std::string>> verify_integrity(bool full) override {
        return real_->verify_integrity(full);
    }
    core::Result<std::string> identity() override { return real_->identity(); }

private:
    std::unique_ptr<Storage> real_;
};

class PassageCacheTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::random_device rd;
        dir_ = fs::temp_directory_path() /
               ("ragd-passage-cache-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
        fs::create_directories(dir_);
    }
    void TearDown() override {
        cached_.reset();
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }

    PassageCachingStorage& open(std::size_t max_bytes = std::size_t{1} << 20) {
        SqliteOptions options;
        options.durable_commits = false;
        auto inner = open_sqlite_storage(dir_.string(), options);
        EXPECT_TRUE(inner.has_value());
        cached_ = std::make_unique<PassageCachingStorage>(std::move(*inner), max_bytes);
        return *cached_;
    }

    static DocumentRecord doc(const std::string& id, const std::string& version) {
        DocumentRecord record;
        record.id = id;
        record.collection = "notes";
        record.source = "/docs/" + id + ".md";
        record.title = "Title of " + id;
        record.content_hash = id + "@" + version;
        record.metadata = {{"lang", "en"}, {"version", version}};
        return record;
    }

    static std::vector<NewChunk> chunks(const std::string& id,
                                        const std::string& version,
                                        std::size_t count,
                                        std::size_t text_bytes = 40) {
        std::vector<NewChunk> out;
        for (std::size_t idx = 0; idx < count; ++idx) {
            NewChunk chunk;
            chunk.ordinal = static_cast<std::uint32_t>(idx);
            chunk.text = id + " " + version + " chunk " + std::to_string(idx) + " ";
            chunk.text.resize(std::max(chunk.text.size(), text_bytes), 'x');
            chunk.heading_path = {"Intro", "Part " + std::to_string(idx)};
            chunk.source_begin = idx * 100;
            chunk.source_end = idx * 100 + 99;
            chunk.embedding = {1.0F, static_cast<float>(idx), 0.5F, 0.25F};
            out.push_back(std::move(chunk));
        }
        return out;
    }

    std::vector<std::int64_t> put(Storage& storage,
                                  const std::string& id,
                                  const std::string& version,
                                  std::size_t count,
                                  std::size_t text_bytes = 40) {
        auto outcome = storage.upsert_document(
            doc(id, version), chunks(id, version, count, text_bytes), kModel);
        EXPECT_TRUE(outcome.has_value());
        return outcome ? outcome->chunk_ids : std::vector<std::int64_t>{};
    }

    static std::vector<IndexableChunk> load(Storage& storage,
                                            const std::vector<std::int64_t>& ids,
                                            const std::string& model_id = "") {
        auto loaded = storage.get_chunks(ids, model_id);
        EXPECT_TRUE(loaded.has_value());
        return loaded ? std::move(*loaded) : std::vector<IndexableChunk>{};
    }

    static void expect_same(const std::vector<IndexableChunk>& got,
                            const std::vector<IndexableChunk>& want) {
        ASSERT_EQ(got.size(), want.size());
        for (std::size_t idx = 0; idx < got.size(); ++idx) {
            SCOPED_TRACE("passage " + std::to_string(idx));
            EXPECT_EQ(got[idx].chunk.id, want[idx].chunk.id);
            EXPECT_EQ(got[idx].chunk.document_id, want[idx].chunk.document_id);
            EXPECT_EQ(got[idx].chunk.ordinal, want[idx].chunk.ordinal);
            EXPECT_EQ(got[idx].chunk.text, want[idx].chunk.text);
            EXPECT_EQ(got[idx].chunk.heading_path, want[idx].chunk.heading_path);
            EXPECT_EQ(got[idx].chunk.source_begin, want[idx].chunk.source_begin);
            EXPECT_EQ(got[idx].chunk.source_end, want[idx].chunk.source_end);
            EXPECT_EQ(got[idx].title, want[idx].title);
            EXPECT_EQ(got[idx].source, want[idx].source);
            EXPECT_EQ(got[idx].collection, want[idx].collection);
            EXPECT_EQ(got[idx].metadata, want[idx].metadata);
            EXPECT_EQ(got[idx].embedding, want[idx].embedding);
        }
    }

    fs::path dir_;
    std::unique_ptr<PassageCachingStorage> cached_;
};

TEST_F(PassageCacheTest, AnswersWhatTheDatabaseAnswersInTheOrderAsked) {
    PassageCachingStorage& storage = open();
    const auto a = put(storage, "a", "1", 3);
    const auto b = put(storage, "b", "1", 2);
    // Cached, uncached, missing and repeated ids together, before and after they are cached.
    load(storage, {a[1], b[0]});
    const std::vector<std::int64_t> ids = {b[1], a[1], 999999, a[0], b[0], a[1]};
    const auto want = load(storage.inner(), ids);
    ASSERT_EQ(want.size(), 5U);  // the missing id is left out, the repeat kept
    expect_same(load(storage, ids), want);
    expect_same(load(storage, ids), want);
    EXPECT_TRUE(load(storage, {}).empty());
}

TEST_F(PassageCacheTest, ServesRepeatedLoadsFromMemoryUntilTheChangeIsRead) {
    PassageCachingStorage& storage = open();
    const auto ids = put(storage, "a", "1", 3);
    const auto first = load(storage, ids);
    ASSERT_EQ(first.size(), 3U);
    EXPECT_EQ(storage.passage_stats().misses, 3U);
    EXPECT_EQ(storage.passage_stats().hits, 0U);

    // Deleted behind the cache's back: only memory can still answer.
    auto deleted = storage.inner().delete_document("a");
    ASSERT_TRUE(deleted.has_value() && *deleted);
    ASSERT_TRUE(load(storage.inner(), ids).empty());
    expect_same(load(storage, ids), first);
    EXPECT_EQ(storage.passage_stats().hits, 3U);
    EXPECT_EQ(storage.passage_stats().entries, 3U);

    // The index catch-up reads the change, which lists the removed chunks: they are forgotten.
    auto changes = storage.changes_since(0, 100);
    ASSERT_TRUE(changes.has_value());
    EXPECT_TRUE(load(storage, ids).empty());
    EXPECT_EQ(storage.passage_stats().entries, 0U);
    EXPECT_EQ(storage.passage_stats().bytes, 0U);
}

TEST_F(PassageCacheTest, ReplacingADocumentForgetsItsOldChunksAtOnce) {
    PassageCachingStorage& storage = open();
    const auto old_ids = put(storage, "a", "1", 3);
    ASSERT_EQ(load(storage, old_ids).size(), 3U);
    const auto new_ids = put(storage, "a", "2", 2);
    EXPECT_TRUE(load(storage, old_ids).empty());
    const auto fresh = load(storage, new_ids);
    ASSERT_EQ(fresh.size(), 2U);
    EXPECT_EQ(fresh[0].metadata, (Metadata{{"lang", "en"}, {"version", "2"}}));
    EXPECT_EQ(storage.passage_stats().entries, 2U);
}

TEST_F(PassageCacheTest, EmbeddingsAlwaysComeFromStorage) {
    PassageCachingStorage& storage = open();
    const auto ids = put(storage, "a", "1", 2);
    load(storage, ids);  // cached without embeddings
    const auto with_vectors = load(storage, ids, kModel);
    ASSERT_EQ(with_vectors.size(), 2U);
    EXPECT_EQ(with_vectors[1].embedding.size(), 4U);
    expect_same(with_vectors, load(storage.inner(), ids, kModel));
    EXPECT_TRUE(load(storage, ids).front().embedding.empty());
    EXPECT_EQ(storage.passage_stats().misses, 2U);
    EXPECT_EQ(storage.passage_stats().hits, 2U);
}

TEST_F(PassageCacheTest, StaysWithinItsBudgetAndStillAnswersEverything) {
    // 16 shards of 2 KiB each: about three 400-byte passages per shard.
    constexpr std::size_t kBudget = 16 * 2048;
    PassageCachingStorage& storage = open(kBudget);
    std::vector<std::int64_t> all;
    for (int doc_idx = 0; doc_idx < 40; ++doc_idx) {
        const auto ids = put(storage, "d" + std::to_string(doc_idx), "1", 4, 400);
        all.insert(all.end(), ids.begin(), ids.end());
    }
    const auto want = load(storage.inner(), all);
    ASSERT_EQ(want.size(), 160U);
    for (int round = 0; round < 3; ++round) {
        expect_same(load(storage, all), want);
        const PassageCacheStats stats = storage.passage_stats();
        EXPECT_LE(stats.bytes, kBudget);
        EXPECT_GT(stats.entries, 0U);
        EXPECT_LT(stats.entries, 160U);
    }
    // The most recently loaded passage is still held.
    const auto hits_before = storage.passage_stats().hits;
    load(storage, {all.back()});
    EXPECT_EQ(storage.passage_stats().hits, hits_before + 1);
}

TEST_F(PassageCacheTest, APassageLargerThanAShardIsServedButNotKept) {
    PassageCachingStorage& storage = open(16 * 1024);  // 1 KiB per shard
    const auto ids = put(storage, "big", "1", 1, 4000);
    ASSERT_EQ(load(storage, ids).size(), 1U);
    ASSERT_EQ(load(storage, ids).size(), 1U);
    EXPECT_EQ(storage.passage_stats().entries, 0U);
    EXPECT_EQ(storage.passage_stats().misses, 2U);
}

TEST_F(PassageCacheTest, AZeroBudgetKeepsNothing) {
    PassageCachingStorage& storage = open(0);
    const auto ids = put(storage, "a", "1", 2);
    ASSERT_EQ(load(storage, ids).size(), 2U);
    ASSERT_EQ(load(storage, ids).size(), 2U);
    EXPECT_EQ(storage.passage_stats().entries, 0U);
}

TEST_F(PassageCacheTest, AFailedLoadIsReportedAndCachesNothing) {
    SqliteOptions options;
    options.durable_commits = false;
    auto real = open_sqlite_storage(dir_.string(), options);
    ASSERT_TRUE(real.has_value());
    auto flaky_owned = std::make_unique<FlakyStorage>(std::move(*real));
    FlakyStorage& flaky = *flaky_owned;
    PassageCachingStorage storage(std::move(flaky_owned), std::size_t{1} << 20);
    const auto ids = put(storage, "a", "1", 3);
    ASSERT_EQ(load(storage, {ids[0]}).size(), 1U);

    // One passage held, two to read: the read fails, and so does the whole load.
    flaky.fail_loads = true;
    auto failed = storage.get_chunks(ids, "");
    ASSERT_FALSE(failed.has_value());
    EXPECT_EQ(failed.error().code, core::ErrorCode::kIo);
    EXPECT_EQ(storage.passage_stats().entries, 1U);
    // What memory holds is still served without the storage.
    ASSERT_EQ(load(storage, {ids[0]}).size(), 1U);

    flaky.fail_loads = false;
    EXPECT_EQ(load(storage, ids).size(), 3U);
    EXPECT_EQ(storage.passage_stats().entries, 3U);
}

TEST_F(PassageCacheTest, ConcurrentLoadsSeeOnlyCurrentOrJustReplacedPassages) {
    PassageCachingStorage& storage = open(64 * 1024);
    constexpr int kDocs = 8;
    std::vector<std::vector<std::int64_t>> ids(kDocs);
    for (int doc_idx = 0; doc_idx < kDocs; ++doc_idx) {
        ids[doc_idx] = put(storage, "d" + std::to_string(doc_idx), "0", 3);
    }
    std::atomic<bool> done{false};
    std::atomic<int> mismatches{0};
    std::vector<std::thread> readers;
    for (int reader = 0; reader < 3; ++reader) {
        readers.emplace_back([&, reader] {
            std::mt19937 rng(static_cast<unsigned>(reader));
            while (!done.load()) {
                // Any id ever handed out: a passage that comes back must be that chunk's own.
                std::vector<std::int64_t> ask;
                for (int pick = 0; pick < 5; ++pick) {
                    ask.push_back(static_cast<std::int64_t>(rng() % 200) + 1);
                }
                auto loaded = storage.get_chunks(ask, "");
                if (!loaded) {
                    mismatches.fetch_add(1);
                    continue;
                }
                for (const IndexableChunk& passage : *loaded) {
                    const std::string version = passage.metadata.back().second;
                    const std::string prefix = passage.chunk.document_id + " " + version +
                                               " chunk " + std::to_string(passage.chunk.ordinal) +
                                               " ";
                    if (passage.chunk.text.rfind(prefix, 0) != 0) {
                        mismatches.fetch_add(1);
                    }
                }
            }
        });
    }
    for (int version = 1; version <= 20; ++version) {
        for (int doc_idx = 0; doc_idx < kDocs; ++doc_idx) {
            put(storage, "d" + std::to_string(doc_idx), std::to_string(version), 3);
        }
        ASSERT_TRUE(storage.changes_since(0, 1000).has_value());
    }
    done = true;
    for (auto& reader : readers) {
        reader.join();
    }
    EXPECT_EQ(mismatches.load(), 0);
    EXPECT_LE(storage.passage_stats().bytes, std::size_t{64} * 1024);
}

}  // namespace
}  // namespace ragd::storage
