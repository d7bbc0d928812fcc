// The Storage contract (storage.hpp), written once and run on every backend: create, replace and
// unchanged writes, atomic replace with fresh ids, the change log, reads by id, both embedding
// encodings, input validation, paging, readers beside a writer, and what survives a reopen.
// What only one backend does (its error paths, its concurrency model, its schema) is tested in
// sqlite_storage_test.cpp and postgres_storage_test.cpp.
//
// PostgreSQL: one server per test process (postgres_server.hpp), a fresh database per test;
// skipped when the server binaries are not installed.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "postgres_server.hpp"
#include "storage/postgres_storage.hpp"
#include "storage/storage.hpp"
#include "storage_test_support.hpp"

namespace ragd::storage {
namespace {

using testing::make_chunks;
using testing::make_doc;

/// What a test may choose when it opens a store; the rest is the backend's default.
struct OpenOptions {
    EmbeddingEncoding embedding_encoding = EmbeddingEncoding::kInt8;
    std::function<std::int64_t()> now_ms;
};

/// One backend as the contract sees it: a fresh, empty store per test, which can be opened any
/// number of times (at once or one after the other), each open seeing the same data.
class Backend {
public:
    virtual ~Backend() = default;
    /// Makes the empty store. May GTEST_SKIP (backend not installed) or fail the test.
    virtual void create() = 0;
    virtual core::Result<std::unique_ptr<Storage>> open(const OpenOptions& options) = 0;
};

/// `<temp dir>/ragd.sqlite`.
class SqliteBackend final : public Backend {
public:
    void create() override {}
    core::Result<std::unique_ptr<Storage>> open(const OpenOptions& options) override {
        SqliteOptions sqlite;
        sqlite.embedding_encoding = options.embedding_encoding;
        sqlite.now_ms = options.now_ms;
        return open_sqlite_storage(dir_.str(), sqlite);
    }

private:
    testing::TempDir dir_;
};

/// A fresh database on the process's shared server.
class PostgresBackend final : public Backend {
public:
    void create() override { testing::fresh_database(server_, dbname_); }
    core::Result<std::unique_ptr<Storage>> open(const OpenOptions& options) override {
        PostgresOptions postgres;
        postgres.conninfo = server_->conninfo(dbname_);
        postgres.embedding_encoding = options.embedding_encoding;
        postgres.now_ms = options.now_ms;
        return open_postgres_storage(postgres);
    }

private:
    testing::PostgresServer* server_ = nullptr;
    std::string dbname_;
};

std::unique_ptr<Backend> make_backend(const std::string& name) {
    if (name == "sqlite") {
        return std::make_unique<SqliteBackend>();
    }
    if (name == "postgres") {
        return std::make_unique<PostgresBackend>();
    }
    return nullptr;
}

/// storage_ is open on a fresh store whose clock is clock_ms_.
class StorageContractTest : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        backend_ = make_backend(GetParam());
        ASSERT_NE(backend_, nullptr) << "unknown backend " << GetParam();
        backend_->create();
        if (IsSkipped() || HasFatalFailure()) {
            return;
        }
        auto opened = open_with(options());
        ASSERT_TRUE(opened) << opened.error().detail;
        storage_ = std::move(*opened);
    }

    /// The defaults, with the test's clock.
    OpenOptions options() {
        OpenOptions options;
        options.now_ms = [this] {
            return clock_ms_.load();
        };
        return options;
    }

    /// Another Storage on the same store (storage_ stays open).
    core::Result<std::unique_ptr<Storage>> open_with(const OpenOptions& options) {
        return backend_->open(options);
    }

    /// Closes storage_, then opens the same store again in its place.
    void reopen() {
        storage_.reset();
        auto opened = open_with(options());
        ASSERT_TRUE(opened) << opened.error().detail;
        storage_ = std::move(*opened);
    }

    std::unique_ptr<Backend> backend_;
    std::atomic<std::int64_t> clock_ms_{1'000};
    std::unique_ptr<Storage> storage_;
};

TEST_P(StorageContractTest, CreateReplaceAndUnchanged) {
    auto chunks = make_chunks(3, 4);
    auto created = storage_->upsert_document(make_doc("a", "h1"), chunks, "m");
    ASSERT_TRUE(created) << created.error().detail;
    EXPECT_EQ(created->status, UpsertStatus::kCreated);
    EXPECT_EQ(created->chunk_ids.size(), 3U);
    EXPECT_EQ(created->seq, 1);

    const std::int64_t seq_before = *storage_->last_seq();
    auto unchanged = storage_->upsert_document(make_doc("a", "h1"), make_chunks(5, 4), "m");
    ASSERT_TRUE(unchanged);
    EXPECT_EQ(unchanged->status, UpsertStatus::kUnchanged);
    EXPECT_EQ(unchanged->seq, 0);
    EXPECT_EQ(unchanged->chunk_ids, created->chunk_ids);
    EXPECT_EQ(*storage_->last_seq(), seq_before);
    EXPECT_EQ(storage_->chunks_of("a")->size(), 3U);

    clock_ms_ = 2'000;
    auto replaced = storage_->upsert_document(make_doc("a", "h2"), make_chunks(2, 4), "m");
    ASSERT_TRUE(replaced);
    EXPECT_EQ(replaced->status, UpsertStatus::kReplaced);
    EXPECT_EQ(replaced->seq, 2);
    auto doc = storage_->get_document("a");
    ASSERT_TRUE(doc && doc->has_value());
    EXPECT_EQ((*doc)->content_hash, "h2");
    EXPECT_EQ((*doc)->created_at_ms, 1'000);  // kept on replace
    EXPECT_EQ((*doc)->updated_at_ms, 2'000);
    EXPECT_EQ((*doc)->chunk_count, 2);
    EXPECT_EQ(*storage_->content_hash("a"), std::optional<std::string>("h2"));
    EXPECT_EQ(*storage_->content_hash("missing"), std::nullopt);
    EXPECT_FALSE(storage_->get_document("missing")->has_value());
}

// Re-embedding with another model: same content, written anyway, with the new model's vectors
// and a change the indexes (and other replicas) apply.
TEST_P(StorageContractTest, RewriteUnchangedReplacesChunksAndVectors) {
    auto created = storage_->upsert_document(make_doc("a", "h1"), make_chunks(3, 4), "old-model");
    ASSERT_TRUE(created) << created.error().detail;
    storage::DocumentRecord again = make_doc("a", "h1");
    again.rewrite_unchanged = true;
    auto rewritten = storage_->upsert_document(again, make_chunks(3, 8), "new-model");
    ASSERT_TRUE(rewritten) << rewritten.error().detail;
    EXPECT_EQ(rewritten->status, UpsertStatus::kReplaced);
    EXPECT_EQ(rewritten->seq, created->seq + 1);
    EXPECT_EQ(rewritten->removed_chunk_ids, created->chunk_ids);
    auto chunks = storage_->indexable_chunks_of("a", "new-model");
    ASSERT_TRUE(chunks);
    ASSERT_EQ(chunks->size(), 3U);
    EXPECT_EQ(chunks->front().embedding.size(), 8U);
    EXPECT_EQ(*storage_->content_hash("a"), std::optional<std::string>("h1"));
}

TEST_P(StorageContractTest, IntactDatabasePassesBothIntegrityChecks) {
    ASSERT_TRUE(storage_->upsert_document(make_doc("a", "h1"), make_chunks(3, 4), "m"));
    ASSERT_TRUE(storage_->delete_document("a"));
    ASSERT_TRUE(storage_->upsert_document(make_doc("b", "h1"), make_chunks(2, 4), "m"));
    for (bool full : {true, false}) {
        auto problems = storage_->verify_integrity(full);
        ASSERT_TRUE(problems) << problems.error().detail;
        EXPECT_TRUE(problems->empty()) << (*problems)[0];
    }
}

TEST_P(StorageContractTest, ReplaceSwapsChunksAtomicallyWithFreshIds) {
    auto first = storage_->upsert_document(make_doc("a", "h1"), make_chunks(3, 2), "m");
    ASSERT_TRUE(first);
    auto second = storage_->upsert_document(make_doc("a", "h2"), make_chunks(3, 2, 10.0F), "m");
    ASSERT_TRUE(second);
    const std::int64_t max_old =
        *std::max_element(first->chunk_ids.begin(), first->chunk_ids.end());
    for (std::int64_t id : second->chunk_ids) {
        EXPECT_GT(id, max_old);
    }
    auto old_chunks = storage_->get_chunks(first->chunk_ids, "m");
    ASSERT_TRUE(old_chunks);
    EXPECT_TRUE(old_chunks->empty());
    auto stats = storage_->stats();
    ASSERT_TRUE(stats);
    EXPECT_EQ(stats->chunks, 3);
    EXPECT_EQ(stats->embeddings, 3);  // old embeddings cascaded away
    auto current = storage_->chunks_of("a");
    ASSERT_TRUE(current);
    ASSERT_EQ(current->size(), 3U);
    EXPECT_EQ((*current)[0].id, second->chunk_ids[0]);

    // Ids are never reused, even after the highest one is deleted.
    ASSERT_TRUE(*storage_->delete_document("a"));
    auto third = storage_->upsert_document(make_doc("b", "h"), make_chunks(1, 2), "m");
    ASSERT_TRUE(third);
    EXPECT_GT(third->chunk_ids[0], second->chunk_ids.back());
}

TEST_P(StorageContractTest, InvalidInputIsRejectedWithoutWriting) {
    auto empty_id = storage_->upsert_document(make_doc("", "h"), make_chunks(1, 2), "m");
    ASSERT_FALSE(empty_id);
    EXPECT_EQ(empty_id.error().code, core::ErrorCode::kInvalidArgument);

    auto chunks = make_chunks(3, 4);
    chunks[2].embedding.pop_back();
    auto mismatch = storage_->upsert_document(make_doc("a", "h"), chunks, "m");
    ASSERT_FALSE(mismatch);
    EXPECT_EQ(mismatch.error().code, core::ErrorCode::kInvalidArgument);
    EXPECT_NE(mismatch.error().detail.find("3-dim"), std::string::npos) << mismatch.error().detail;

    auto dup = make_chunks(2, 0);
    dup[1].ordinal = 0;
    auto duplicate = storage_->upsert_document(make_doc("a", "h"), dup, "m");
    ASSERT_FALSE(duplicate);
    EXPECT_EQ(duplicate.error().code, core::ErrorCode::kInvalidArgument);

    EXPECT_EQ(storage_->stats()->documents, 0);
    EXPECT_EQ(*storage_->last_seq(), 0);
}

// A group write (upsert_documents): one outcome per document, in order, each exactly what
// upsert_document would have given, including for a document written twice in the group and for
// one that is refused, which leaves the others stored.
TEST_P(StorageContractTest, GroupWriteGivesEachDocumentItsOwnOutcome) {
    ASSERT_TRUE(storage_->upsert_document(make_doc("b", "h1"), make_chunks(2, 4), "m"));
    const DocumentRecord a1 = make_doc("a", "h1");
    const DocumentRecord b1 = make_doc("b", "h1");
    const DocumentRecord invalid = make_doc("", "h1");
    const DocumentRecord c1 = make_doc("c", "h1");
    const DocumentRecord a2 = make_doc("a", "h2");
    auto three = make_chunks(3, 4);
    auto two = make_chunks(2, 4, 7.0F);
    auto one = make_chunks(1, 4, 9.0F);
    const std::vector<DocumentWrite> writes{
        {&a1, three}, {&b1, three}, {&invalid, one}, {&c1, two}, {&a2, one}};
    auto outcomes = storage_->upsert_documents(writes, "m", OnFailure::kGoOn);
    ASSERT_EQ(outcomes.size(), writes.size());
    ASSERT_TRUE(outcomes[0]) << outcomes[0].error().detail;
    EXPECT_EQ(outcomes[0]->status, UpsertStatus::kCreated);
    EXPECT_EQ(outcomes[0]->seq, 2);
    ASSERT_TRUE(outcomes[1]);
    EXPECT_EQ(outcomes[1]->status, UpsertStatus::kUnchanged);
    EXPECT_EQ(outcomes[1]->seq, 0);
    ASSERT_FALSE(outcomes[2]);
    EXPECT_EQ(outcomes[2].error().code, core::ErrorCode::kInvalidArgument);
    ASSERT_TRUE(outcomes[3]);
    EXPECT_EQ(outcomes[3]->status, UpsertStatus::kCreated);
    EXPECT_EQ(outcomes[3]->seq, 3);
    ASSERT_TRUE(outcomes[4]);
    EXPECT_EQ(outcomes[4]->status, UpsertStatus::kReplaced);
    EXPECT_EQ(outcomes[4]->seq, 4);
    EXPECT_EQ(outcomes[4]->removed_chunk_ids, outcomes[0]->chunk_ids);

    auto stats = storage_->stats();
    ASSERT_TRUE(stats);
    EXPECT_EQ(stats->documents, 3);
    EXPECT_EQ(stats->chunks, 2 + 2 + 1);
    EXPECT_EQ(stats->last_seq, 4);
    EXPECT_EQ(*storage_->content_hash("a"), std::optional<std::string>("h2"));
    auto changes = storage_->changes_since(1, 10);
    ASSERT_TRUE(changes);
    ASSERT_EQ(changes->size(), 3U);
    EXPECT_EQ((*changes)[0].document_id, "a");
    EXPECT_EQ((*changes)[1].document_id, "c");
    EXPECT_EQ((*changes)[2].document_id, "a");
    EXPECT_EQ((*changes)[2].removed_chunk_ids, outcomes[0]->chunk_ids);
    EXPECT_TRUE(storage_->upsert_documents({}, "m", OnFailure::kGoOn).empty());
}

// OnFailure::kStop: the documents before the failing one are stored, nothing after it.
TEST_P(StorageContractTest, GroupWriteCanStopAtTheFirstFailure) {
    const DocumentRecord a = make_doc("a", "h1");
    const DocumentRecord invalid = make_doc("", "h1");
    const DocumentRecord c = make_doc("c", "h1");
    auto chunks = make_chunks(2, 4);
    const std::vector<DocumentWrite> writes{{&a, chunks}, {&invalid, chunks}, {&c, chunks}};
    auto outcomes = storage_->upsert_documents(writes, "m", OnFailure::kStop);
    ASSERT_EQ(outcomes.size(), 2U);
    ASSERT_TRUE(outcomes[0]) << outcomes[0].error().detail;
    EXPECT_EQ(outcomes[0]->status, UpsertStatus::kCreated);
    ASSERT_FALSE(outcomes[1]);
    EXPECT_EQ(outcomes[1].error().code, core::ErrorCode::kInvalidArgument);
    EXPECT_TRUE(storage_->get_document("a")->has_value());
    EXPECT_FALSE(storage_->get_document("c")->has_value());
    EXPECT_EQ(*storage_->last_seq(), 1);
}

TEST_P(StorageContractTest, DeleteCascadesAndLogsAChange) {
    auto up = storage_->upsert_document(make_doc("a", "h"), make_chunks(4, 3), "m");
    ASSERT_TRUE(up);
    ASSERT_TRUE(storage_->upsert_document(make_doc("b", "h"), make_chunks(2, 3), "m"));
    auto deleted = storage_->delete_document("a");
    ASSERT_TRUE(deleted);
    EXPECT_TRUE(*deleted);
    auto again = storage_->delete_document("a");
    ASSERT_TRUE(again);
    EXPECT_FALSE(*again);

    auto stats = storage_->stats();
    ASSERT_TRUE(stats);
    EXPECT_EQ(stats->documents, 1);
    EXPECT_EQ(stats->chunks, 2);
    EXPECT_EQ(stats->embeddings, 2);
    EXPECT_EQ(stats->last_seq, 3);  // the second, failed delete logged nothing
    EXPECT_GT(stats->bytes, 0);
    EXPECT_TRUE(storage_->chunks_of("a")->empty());
    EXPECT_TRUE(storage_->get_chunks(up->chunk_ids, "m")->empty());

    auto changes = storage_->changes_since(0, 100);
    ASSERT_TRUE(changes);
    ASSERT_EQ(changes->size(), 3U);
    EXPECT_EQ((*changes)[2].document_id, "a");
    EXPECT_EQ((*changes)[2].kind, ChangeKind::kDelete);
    EXPECT_EQ((*changes)[0].kind, ChangeKind::kUpsert);
}

TEST_P(StorageContractTest, ChangesCarryTheChunkIdsTheyRemoved) {
    auto first = storage_->upsert_document(make_doc("a", "h1"), make_chunks(3, 2), "m");
    ASSERT_TRUE(first);
    EXPECT_TRUE(first->removed_chunk_ids.empty());
    auto unchanged = storage_->upsert_document(make_doc("a", "h1"), make_chunks(3, 2), "m");
    ASSERT_TRUE(unchanged);
    EXPECT_TRUE(unchanged->removed_chunk_ids.empty());
    auto second = storage_->upsert_document(make_doc("a", "h2"), make_chunks(2, 2), "m");
    ASSERT_TRUE(second);
    EXPECT_EQ(second->removed_chunk_ids, first->chunk_ids);
    ASSERT_TRUE(*storage_->delete_document("a"));

    auto changes = storage_->changes_since(0, 10);
    ASSERT_TRUE(changes);
    ASSERT_EQ(changes->size(), 3U);
    EXPECT_TRUE((*changes)[0].removed_chunk_ids.empty());
    EXPECT_EQ((*changes)[1].removed_chunk_ids, first->chunk_ids);
    EXPECT_EQ((*changes)[2].kind, ChangeKind::kDelete);
    EXPECT_EQ((*changes)[2].removed_chunk_ids, second->chunk_ids);
}

TEST_P(StorageContractTest, ChangesSinceIsOrderedAndLimited) {
    for (int idx = 0; idx < 10; ++idx) {
        ASSERT_TRUE(storage_->upsert_document(
            make_doc("d" + std::to_string(idx), "h"), make_chunks(1, 0), ""));
    }
    auto page = storage_->changes_since(3, 4);
    ASSERT_TRUE(page);
    ASSERT_EQ(page->size(), 4U);
    for (std::size_t idx = 0; idx < page->size(); ++idx) {
        EXPECT_EQ((*page)[idx].seq, static_cast<std::int64_t>(4 + idx));
        EXPECT_EQ((*page)[idx].document_id, "d" + std::to_string(3 + idx));
    }
    EXPECT_TRUE(storage_->changes_since(10, 5)->empty());
    EXPECT_EQ(storage_->changes_since(8, std::numeric_limits<std::size_t>::max())->size(), 2U);
    EXPECT_EQ(*storage_->last_seq(), 10);
}

TEST_P(StorageContractTest, GetChunksKeepsRequestOrderAndSkipsMissingIds) {
    auto a = storage_->upsert_document(make_doc("a", "h"), make_chunks(3, 2), "m");
    auto b = storage_->upsert_document(make_doc("b", "h"), make_chunks(3, 2), "m");
    ASSERT_TRUE(a && b);
    std::vector<std::int64_t> ids = {b->chunk_ids[2], 999'999, a->chunk_ids[0], b->chunk_ids[0]};
    auto got = storage_->get_chunks(ids, "m");
    ASSERT_TRUE(got);
    ASSERT_EQ(got->size(), 3U);
    EXPECT_EQ((*got)[0].chunk.id, b->chunk_ids[2]);
    EXPECT_EQ((*got)[0].chunk.document_id, "b");
    EXPECT_EQ((*got)[0].chunk.ordinal, 2U);
    EXPECT_EQ((*got)[1].chunk.id, a->chunk_ids[0]);
    EXPECT_EQ((*got)[1].title, "Title of a");
    EXPECT_EQ((*got)[1].source, "/docs/a.md");
    EXPECT_EQ((*got)[1].collection, "notes");
    EXPECT_EQ((*got)[2].chunk.id, b->chunk_ids[0]);
    EXPECT_TRUE(storage_->get_chunks({}, "m")->empty());
}

TEST_P(StorageContractTest, GetChunksWithoutAModelLoadsEverythingButTheEmbedding) {
    auto up = storage_->upsert_document(make_doc("a", "h"), make_chunks(3, 4), "m");
    ASSERT_TRUE(up);
    auto with = storage_->get_chunks(up->chunk_ids, "m");
    auto without = storage_->get_chunks(up->chunk_ids, "");
    ASSERT_TRUE(with && without);
    ASSERT_EQ(with->size(), 3U);
    ASSERT_EQ(without->size(), 3U);
    for (std::size_t idx = 0; idx < 3; ++idx) {
        const IndexableChunk& full = (*with)[idx];
        const IndexableChunk& passage = (*without)[idx];
        EXPECT_EQ(full.embedding.size(), 4U);
        EXPECT_TRUE(passage.embedding.empty());
        EXPECT_EQ(passage.chunk.id, full.chunk.id);
        EXPECT_EQ(passage.chunk.document_id, "a");
        EXPECT_EQ(passage.chunk.ordinal, full.chunk.ordinal);
        EXPECT_EQ(passage.chunk.text, full.chunk.text);
        EXPECT_EQ(passage.chunk.heading_path, full.chunk.heading_path);
        EXPECT_EQ(passage.chunk.source_begin, full.chunk.source_begin);
        EXPECT_EQ(passage.chunk.source_end, full.chunk.source_end);
        EXPECT_EQ(passage.title, "Title of a");
        EXPECT_EQ(passage.source, "/docs/a.md");
        EXPECT_EQ(passage.collection, "notes");
        EXPECT_EQ(passage.metadata, full.metadata);
        EXPECT_EQ(passage.metadata.size(), 2U);
    }
}

TEST_P(StorageContractTest, GetChunksBatchesManyIds) {
    // 700 ids asked in reverse order. SQLite reads them in batches of 256 (crossing the boundary
    // twice and ending on a ragged batch); PostgreSQL sends them as one array parameter.
    std::vector<std::int64_t> all;
    for (int doc = 0; doc < 7; ++doc) {
        auto up = storage_->upsert_document(
            make_doc("d" + std::to_string(doc), "h"), make_chunks(100, 0), "");
        ASSERT_TRUE(up);
        all.insert(all.end(), up->chunk_ids.begin(), up->chunk_ids.end());
    }
    std::reverse(all.begin(), all.end());
    auto got = storage_->get_chunks(all, "m");
    ASSERT_TRUE(got);
    ASSERT_EQ(got->size(), all.size());
    for (std::size_t idx = 0; idx < all.size(); ++idx) {
        ASSERT_EQ((*got)[idx].chunk.id, all[idx]) << idx;
    }
}

TEST_P(StorageContractTest, Float32RoundTripsExactlyPerModel) {
    OpenOptions options;
    options.embedding_encoding = EmbeddingEncoding::kFloat32;
    auto opened = open_with(options);
    ASSERT_TRUE(opened) << opened.error().detail;
    std::unique_ptr<Storage> storage = std::move(*opened);

    auto chunks = make_chunks(2, 0);
    chunks[0].embedding = {
        0.1F, -0.0F, 1e-38F, 3.4028235e38F, -7.25F, std::numeric_limits<float>::denorm_min()};
    chunks[1].embedding = {1.0F, 2.0F, 3.0F, 4.0F, 5.0F, 6.0F};
    auto up = storage->upsert_document(make_doc("a", "h"), chunks, "model-x");
    ASSERT_TRUE(up);
    auto got = storage->get_chunks(up->chunk_ids, "model-x");
    ASSERT_TRUE(got);
    ASSERT_EQ(got->size(), 2U);
    ASSERT_EQ((*got)[0].embedding.size(), 6U);
    for (std::size_t d = 0; d < 6; ++d) {
        EXPECT_EQ(std::memcmp(&(*got)[0].embedding[d], &chunks[0].embedding[d], sizeof(float)), 0)
            << d;
    }
    EXPECT_EQ((*got)[1].embedding, chunks[1].embedding);

    auto other = storage->get_chunks(up->chunk_ids, "model-y");
    ASSERT_TRUE(other);
    ASSERT_EQ(other->size(), 2U);  // the chunk exists, only its embedding is missing
    EXPECT_TRUE((*other)[0].embedding.empty());

    auto of_doc = storage->indexable_chunks_of("a", "model-x");
    ASSERT_TRUE(of_doc);
    ASSERT_EQ(of_doc->size(), 2U);
    EXPECT_EQ((*of_doc)[1].embedding, chunks[1].embedding);
    EXPECT_TRUE(storage->indexable_chunks_of("a", "nope")->at(0).embedding.empty());
}

// The default: one scale and one byte per dimension, so each component comes back within half
// a quantization step (max|v| / 254) and the blob is a quarter of the float32 one.
TEST_P(StorageContractTest, Int8EmbeddingsReadBackWithinHalfAStep) {
    std::mt19937 rng(11);
    std::normal_distribution<float> normal(0.0F, 1.0F);
    auto chunks = make_chunks(3, 0);
    for (NewChunk& chunk : chunks) {
        for (int d = 0; d < 512; ++d) {
            chunk.embedding.push_back(normal(rng));
        }
    }
    chunks[2].embedding.assign(512, 0.0F);  // an all-zero vector stays all zero
    auto up = storage_->upsert_document(make_doc("a", "h"), chunks, "m");
    ASSERT_TRUE(up) << up.error().detail;
    auto got = storage_->get_chunks(up->chunk_ids, "m");
    ASSERT_TRUE(got);
    ASSERT_EQ(got->size(), 3U);
    for (std::size_t idx = 0; idx < 3; ++idx) {
        const std::vector<float>& want = chunks[idx].embedding;
        const std::vector<float>& have = (*got)[idx].embedding;
        ASSERT_EQ(have.size(), want.size()) << idx;
        float max_abs = 0;
        for (float value : want) {
            max_abs = std::max(max_abs, std::fabs(value));
        }
        for (std::size_t d = 0; d < want.size(); ++d) {
            EXPECT_LE(std::fabs(have[d] - want[d]), max_abs / 254.0F * 1.001F) << idx << "/" << d;
        }
    }
    EXPECT_EQ((*got)[2].embedding, chunks[2].embedding);
}

// A database written with float32 vectors (the encoding before int8 was the default) keeps
// reading exactly after the switch, next to the int8 vectors written since.
TEST_P(StorageContractTest, Float32RowsStayExactAfterSwitchingToInt8) {
    const std::vector<float> exact = {0.125F, -0.3F, 0.7F, 1e-7F};
    std::vector<std::int64_t> ids;
    {
        OpenOptions options;
        options.embedding_encoding = EmbeddingEncoding::kFloat32;
        auto storage = open_with(options);
        ASSERT_TRUE(storage);
        auto chunks = make_chunks(1, 0);
        chunks[0].embedding = exact;
        auto up = (*storage)->upsert_document(make_doc("old", "h"), chunks, "m");
        ASSERT_TRUE(up);
        ids.push_back(up->chunk_ids[0]);
    }
    auto storage = open_with(OpenOptions{});
    ASSERT_TRUE(storage);
    auto chunks = make_chunks(1, 0);
    chunks[0].embedding = {0.5F, -0.25F, 0.0F, 1.0F};
    auto up = (*storage)->upsert_document(make_doc("new", "h"), chunks, "m");
    ASSERT_TRUE(up);
    ids.push_back(up->chunk_ids[0]);
    auto got = (*storage)->get_chunks(ids, "m");
    ASSERT_TRUE(got);
    ASSERT_EQ(got->size(), 2U);
    EXPECT_EQ((*got)[0].embedding, exact);
    // 0.5, -0.25, 0 and 1 are multiples of the step 1/127 only approximately; within half a step.
    ASSERT_EQ((*got)[1].embedding.size(), 4U);
    for (std::size_t d = 0; d < 4; ++d) {
        EXPECT_NEAR((*got)[1].embedding[d], chunks[0].embedding[d], 1.0 / 254) << d;
    }
    std::size_t visited = 0;
    auto scanned = (*storage)->for_each_chunk("m", [&](const IndexableChunk& chunk) {
        EXPECT_EQ(chunk.embedding.size(), 4U);
        ++visited;
    });
    ASSERT_TRUE(scanned);
    EXPECT_EQ(visited, 2U);
}

TEST_P(StorageContractTest, NonFiniteEmbeddingValuesAreRejected) {
    for (float bad : {std::numeric_limits<float>::quiet_NaN(),
                      std::numeric_limits<float>::infinity(),
                      -std::numeric_limits<float>::infinity()}) {
        auto chunks = make_chunks(2, 3);
        chunks[1].embedding[2] = bad;
        auto up = storage_->upsert_document(make_doc("a", "h"), chunks, "m");
        ASSERT_FALSE(up);
        EXPECT_EQ(up.error().code, core::ErrorCode::kInvalidArgument);
        EXPECT_NE(up.error().detail.find("non-finite"), std::string::npos) << up.error().detail;
    }
    EXPECT_EQ(storage_->stats()->documents, 0);  // nothing of the document was written
}

TEST_P(StorageContractTest, JsonFieldsRoundTripUnicodeAndQuotes) {
    DocumentRecord doc = make_doc("ünï \"quoted\" id", "h");
    doc.title = "Tïtle with \"quotes\" and \\ backslash";
    doc.metadata = {{"emoji", "😀 \"q\" \n newline"}, {"key\"q", "v'single'"}, {"日本", "語"}};
    auto chunks = make_chunks(1, 0);
    chunks[0].heading_path = {"Über \"A\"", "日本語 \\ x", ""};
    chunks[0].text = "Text with ünicode — and \"quotes\"\n\tand tabs";
    ASSERT_TRUE(storage_->upsert_document(doc, chunks, ""));
    auto got = storage_->get_document(doc.id);
    ASSERT_TRUE(got && got->has_value());
    EXPECT_EQ((*got)->title, doc.title);
    EXPECT_EQ((*got)->metadata, doc.metadata);
    auto read = storage_->chunks_of(doc.id);
    ASSERT_TRUE(read);
    ASSERT_EQ(read->size(), 1U);
    EXPECT_EQ((*read)[0].heading_path, chunks[0].heading_path);
    EXPECT_EQ((*read)[0].text, chunks[0].text);
    EXPECT_EQ((*read)[0].source_begin, 0U);
    EXPECT_EQ((*read)[0].source_end, 99U);
}

TEST_P(StorageContractTest, ForEachChunkVisitsAllInIdOrder) {
    ASSERT_TRUE(storage_->upsert_document(make_doc("b", "h"), make_chunks(3, 2), "m"));
    ASSERT_TRUE(storage_->upsert_document(make_doc("a", "h"), make_chunks(2, 2), "m"));
    ASSERT_TRUE(storage_->upsert_document(make_doc("b", "h2"), make_chunks(2, 2), "m"));
    std::vector<std::int64_t> seen;
    std::vector<std::string> docs;
    auto r = storage_->for_each_chunk("m", [&](const IndexableChunk& chunk) {
        seen.push_back(chunk.chunk.id);
        docs.push_back(chunk.chunk.document_id);
        EXPECT_EQ(chunk.embedding.size(), 2U);
        EXPECT_EQ(chunk.metadata.size(), 2U);
    });
    ASSERT_TRUE(r) << r.error().detail;
    ASSERT_EQ(seen.size(), 4U);
    EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
    EXPECT_EQ(docs, (std::vector<std::string>{"a", "a", "b", "b"}));
}

TEST_P(StorageContractTest, ListDocumentsPagesById) {
    for (const char* id : {"c", "a", "e", "b", "d"}) {
        ASSERT_TRUE(storage_->upsert_document(make_doc(id, "h"), make_chunks(2, 0), ""));
    }
    auto first = storage_->list_documents(0, 2);
    auto second = storage_->list_documents(2, 2);
    auto third = storage_->list_documents(4, 2);
    ASSERT_TRUE(first && second && third);
    ASSERT_EQ(first->size(), 2U);
    EXPECT_EQ((*first)[0].id, "a");
    EXPECT_EQ((*first)[1].id, "b");
    EXPECT_EQ((*first)[0].chunk_count, 2);
    EXPECT_EQ((*first)[0].metadata, make_doc("a", "h").metadata);
    EXPECT_EQ((*second)[0].id, "c");
    ASSERT_EQ(third->size(), 1U);
    EXPECT_EQ((*third)[0].id, "e");
    EXPECT_TRUE(storage_->list_documents(5, 2)->empty());
}

TEST_P(StorageContractTest, ConcurrentReadersWhileAWriterUpserts) {
    constexpr int kDocs = 150;
    std::atomic<bool> done{false};
    std::atomic<int> reader_errors{0};
    std::atomic<int> reads{0};
    std::thread writer([&] {
        for (int idx = 0; idx < kDocs; ++idx) {
            // Replacing a document repeatedly exercises delete + insert under readers.
            auto r = storage_->upsert_document(
                make_doc("d" + std::to_string(idx % 20), "h" + std::to_string(idx)),
                make_chunks(5, 8),
                "m");
            if (!r) {
                ADD_FAILURE() << r.error().detail;
            }
        }
        done = true;
    });
    std::vector<std::thread> readers;
    for (int t = 0; t < 3; ++t) {
        readers.emplace_back([&, t] {
            while (!done) {
                const std::string id = "d" + std::to_string((reads.load() + t) % 20);
                auto chunks = storage_->indexable_chunks_of(id, "m");
                auto stats = storage_->stats();
                auto changes = storage_->changes_since(0, 50);
                if (!chunks || !stats || !changes) {
                    ++reader_errors;
                } else if (!chunks->empty() && chunks->size() != 5U) {
                    ++reader_errors;  // a half-written replace would show here
                }
                ++reads;
            }
        });
    }
    writer.join();
    for (auto& r : readers) {
        r.join();
    }
    EXPECT_EQ(reader_errors.load(), 0);
    EXPECT_GT(reads.load(), 0);
    EXPECT_EQ(*storage_->last_seq(), kDocs);
    EXPECT_EQ(storage_->stats()->chunks, 20 * 5);
}

TEST_P(StorageContractTest, ConcurrentUpsertsOfOneNewDocumentDoNotCollide) {
    // Two creators must not both see "no such document": the second would fail on the
    // (document_id, ordinal) key or leave both chunk sets behind.
    constexpr int kThreads = 4;
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int idx = 0; idx < 15; ++idx) {
                auto up = storage_->upsert_document(
                    make_doc("same", "h" + std::to_string(t) + "-" + std::to_string(idx)),
                    make_chunks(3, 2),
                    "m");
                if (!up) {
                    ++failures;
                    ADD_FAILURE() << up.error().detail;
                }
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    EXPECT_EQ(failures.load(), 0);
    auto stats = storage_->stats();
    ASSERT_TRUE(stats);
    EXPECT_EQ(stats->documents, 1);
    EXPECT_EQ(stats->chunks, 3);
    EXPECT_EQ(stats->embeddings, 3);
    EXPECT_EQ(stats->last_seq, kThreads * 15);
}

TEST_P(StorageContractTest, ReopenPersists) {
    auto up = storage_->upsert_document(make_doc("a", "h"), make_chunks(2, 3), "m");
    ASSERT_TRUE(up);
    ASSERT_NO_FATAL_FAILURE(reopen());
    auto doc = storage_->get_document("a");
    ASSERT_TRUE(doc && doc->has_value());
    EXPECT_EQ((*doc)->chunk_count, 2);
    auto chunks = storage_->get_chunks(up->chunk_ids, "m");
    ASSERT_TRUE(chunks);
    ASSERT_EQ(chunks->size(), 2U);
    EXPECT_EQ((*chunks)[1].embedding.size(), 3U);
    EXPECT_EQ(*storage_->last_seq(), 1);
}

// Derived indexes record which database they came from (pipeline::Engine, storage.id): the
// identity must stay the same across opens, at once or after a reopen. What it looks like, and
// that it differs between databases, is each backend's own test.
TEST_P(StorageContractTest, IdentityIsStableAcrossOpens) {
    auto first = storage_->identity();
    ASSERT_TRUE(first) << first.error().detail;
    EXPECT_FALSE(first->empty());
    auto again = open_with(options());
    ASSERT_TRUE(again) << again.error().detail;
    EXPECT_EQ(*(*again)->identity(), *first);
    ASSERT_TRUE(storage_->upsert_document(make_doc("a", "h"), make_chunks(1, 2), "m"));
    again->reset();
    ASSERT_NO_FATAL_FAILURE(reopen());
    EXPECT_EQ(*storage_->identity(), *first);
}

INSTANTIATE_TEST_SUITE_P(Backends,
                         StorageContractTest,
                         ::testing::Values("sqlite", "postgres"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                             return info.param;
                         });

}  // namespace
}  // namespace ragd::storage
