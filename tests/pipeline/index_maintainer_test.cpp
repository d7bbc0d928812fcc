// The index maintainer's bulk paths: a catch-up large enough to feed the two indexes from two
// threads, chunks offered by the writer that stored them (used only when they are still what
// the change being applied stored), and when empty indexes are rebuilt by a scan of storage
// rather than by replaying the change log. Both indexes must end up equal to storage.
#include "pipeline/index_maintainer.hpp"

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <stdlib.h>

#include "pipeline/engine.hpp"
#include "retrieval/memory_bm25_index.hpp"
#include "retrieval/vector_index.hpp"

namespace ragd::pipeline {
namespace {
namespace fs = std::filesystem;

class IndexMaintainerTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "ragd-maintainer-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
        config_.storage.data_dir = dir_;
        config_.storage.durable_commits = false;
    }
    void TearDown() override { fs::remove_all(dir_); }

    std::unique_ptr<Engine> open() {
        auto engine = Engine::open(config_);
        EXPECT_TRUE(engine.has_value()) << (engine ? "" : engine.error().detail);
        return engine ? std::move(*engine) : nullptr;
    }

    /// Document `doc_idx`: a short first chunk with a word of its own, then enough text for a
    /// few more chunks.
    static IngestRequest numbered_doc(std::size_t doc_idx) {
        IngestRequest request;
        request.id = "doc-" + std::to_string(doc_idx);
        request.source = "/corpus/" + request.id + ".md";
        request.format = ingest::DocumentFormat::kMarkdown;
        std::string text = "# Document " + std::to_string(doc_idx) + "\n\nMarker word zq" +
                           std::to_string(doc_idx) + "x.\n\n";
        for (int section = 0; section < 3; ++section) {
            text += "## Part " + std::to_string(section) + "\n\n";
            for (int sentence = 0; sentence < 40; ++sentence) {
                text += "Sentence " + std::to_string(sentence) + " of part " +
                        std::to_string(section) + " talks about replication and storage. ";
            }
            text += "\n\n";
        }
        request.content = std::move(text);
        return request;
    }

    /// Both indexes hold exactly storage's chunk ids and reflect its last change.
    static void expect_indexes_match_storage(Engine& engine) {
        std::vector<std::int64_t> stored;
        auto scanned = engine.storage().for_each_chunk(
            engine.embedder().model_id(),
            [&](const storage::IndexableChunk& chunk) { stored.push_back(chunk.chunk.id); });
        ASSERT_TRUE(scanned.has_value());
        ASSERT_FALSE(stored.empty());
        EXPECT_EQ(engine.vectors().chunk_ids(), stored);
        auto bm25_ids = engine.bm25().chunk_ids();
        ASSERT_TRUE(bm25_ids.has_value());
        EXPECT_EQ(*bm25_ids, stored);
        auto last = engine.storage().last_seq();
        ASSERT_TRUE(last.has_value());
        EXPECT_EQ(engine.indexed_seq(), *last);
    }

    static std::string top_bm25_document(Engine& engine, const std::string& query) {
        QueryOptions options;
        options.mode = RetrievalMode::kBm25;
        auto found = engine.query().search(query, options);
        EXPECT_TRUE(found.has_value());
        return found && !found->hits.empty() ? found->hits[0].chunk.chunk.document_id : "";
    }

    std::string dir_;
    core::Config config_;
};

TEST_F(IndexMaintainerTest, LargeCatchUpIndexesEveryChunkInBothIndexes) {
    auto engine = open();
    ASSERT_TRUE(engine);
    constexpr std::size_t kDocuments = 120;
    std::size_t chunks = 0;
    for (std::size_t doc_idx = 0; doc_idx < kDocuments; ++doc_idx) {
        auto result = engine->ingest().ingest(numbered_doc(doc_idx), false);
        ASSERT_TRUE(result.has_value()) << result.error().detail;
        chunks += result->chunks;
    }
    // A replacement and a delete in the same batch.
    auto replaced = numbered_doc(3);
    replaced.content += "Appended zqreplacedx.\n";
    ASSERT_TRUE(engine->ingest().ingest(std::move(replaced), false).has_value());
    ASSERT_TRUE(engine->storage().delete_document("doc-7").has_value());
    ASSERT_GE(chunks, 512u);  // several groups, each on the two-thread path

    auto report = engine->maintainer().catch_up();
    ASSERT_TRUE(report.has_value()) << report.error().detail;
    expect_indexes_match_storage(*engine);
    EXPECT_EQ(top_bm25_document(*engine, "zq42x"), "doc-42");
    EXPECT_EQ(top_bm25_document(*engine, "zqreplacedx"), "doc-3");
    EXPECT_NE(top_bm25_document(*engine, "zq7x"), "doc-7");

    QueryOptions options;
    options.mode = RetrievalMode::kVector;
    options.top_k = 3;
    auto found = engine->query().search("document 42 zq42x", options);
    ASSERT_TRUE(found.has_value());
    bool in_top = false;
    for (const auto& hit : found->hits) {
        in_top = in_top || hit.chunk.chunk.document_id == "doc-42";
    }
    EXPECT_TRUE(in_top);
}

TEST_F(IndexMaintainerTest, OfferedChunksAreIndexedInsteadOfReadingStorage) {
    auto engine = open();
    ASSERT_TRUE(engine);
    auto result = engine->ingest().ingest(numbered_doc(1), false);
    ASSERT_TRUE(result.has_value());
    auto last = engine->storage().last_seq();
    ASSERT_TRUE(last.has_value());
    // Replace the writer's offer with chunks of the same ids but a different word: the
    // catch-up must take them as they are, which shows it did not read storage.
    auto stored = engine->storage().indexable_chunks_of("doc-1", engine->embedder().model_id());
    ASSERT_TRUE(stored.has_value());
    ASSERT_FALSE(stored->empty());
    (*stored)[0].chunk.text = "Offered wording zqofferedx.";
    engine->maintainer().offer(*last + 1, "doc-1", {});  // a later offer displaces the writer's
    engine->maintainer().offer(*last + 2, "doc-1", *stored);
    EXPECT_EQ(top_bm25_document(*engine, "zqofferedx"), "");
    // Offers for a later change than the one being applied are not used...
    ASSERT_TRUE(engine->maintainer().catch_up().has_value());
    EXPECT_EQ(top_bm25_document(*engine, "zqofferedx"), "");
    EXPECT_EQ(top_bm25_document(*engine, "zq1x"), "doc-1");

    // ...while one for the change being applied is.
    auto second = engine->ingest().ingest(numbered_doc(2), false);
    ASSERT_TRUE(second.has_value());
    last = engine->storage().last_seq();
    ASSERT_TRUE(last.has_value());
    stored = engine->storage().indexable_chunks_of("doc-2", engine->embedder().model_id());
    ASSERT_TRUE(stored.has_value());
    (*stored)[0].chunk.text = "Offered wording zqofferedx.";
    engine->maintainer().offer(*last, "doc-2", *stored);  // same seq: replaces nothing
    ASSERT_TRUE(engine->maintainer().catch_up().has_value());
    // The writer's own offer (same seq, made first) is the one used: the marker of doc-2 is
    // indexed, the substitute text is not.
    EXPECT_EQ(top_bm25_document(*engine, "zq2x"), "doc-2");
    EXPECT_EQ(top_bm25_document(*engine, "zqofferedx"), "");
    expect_indexes_match_storage(*engine);
}

TEST_F(IndexMaintainerTest, AnOfferForTheAppliedChangeIsUsed) {
    auto engine = open();
    ASSERT_TRUE(engine);
    // Store through storage directly, so that no writer offer exists; then offer substitutes.
    auto request = numbered_doc(5);
    ASSERT_TRUE(engine->ingest().ingest(request, false).has_value());
    ASSERT_TRUE(engine->maintainer().catch_up().has_value());
    request.content += "More text.\n";
    storage::DocumentRecord doc;
    doc.id = request.id;
    doc.source = request.source;
    doc.title = "Document 5";
    doc.content_hash = "changed";
    std::vector<storage::NewChunk> chunks(1);
    chunks[0].text = "Stored wording zqstoredx.";
    chunks[0].embedding.assign(engine->embedder().dimensions(), 0.0f);
    chunks[0].embedding[0] = 1.0f;
    auto outcome = engine->storage().upsert_document(doc, chunks, engine->embedder().model_id());
    ASSERT_TRUE(outcome.has_value());
    auto indexable = engine->storage().indexable_chunks_of("doc-5", engine->embedder().model_id());
    ASSERT_TRUE(indexable.has_value());
    ASSERT_EQ(indexable->size(), 1u);
    (*indexable)[0].chunk.text = "Offered wording zqofferedx.";
    engine->maintainer().offer(outcome->seq, "doc-5", *indexable);
    ASSERT_TRUE(engine->maintainer().catch_up().has_value());
    EXPECT_EQ(top_bm25_document(*engine, "zqofferedx"), "doc-5");
    EXPECT_EQ(top_bm25_document(*engine, "zqstoredx"), "");
    EXPECT_EQ(engine->index_stats().bm25_chunks, 1u);
    EXPECT_EQ(engine->index_stats().vectors, 1u);
}

TEST_F(IndexMaintainerTest, AFreshDataDirectoryCatchesUpFromTheChangeLog) {
    // The engine's own catch-up at open saw storage empty: the first catch-up after an ingest
    // replays the log (with the writers' offers) instead of scanning storage back.
    auto engine = open();
    ASSERT_TRUE(engine);
    for (std::size_t doc_idx = 0; doc_idx < 20; ++doc_idx) {
        ASSERT_TRUE(engine->ingest().ingest(numbered_doc(doc_idx), false).has_value());
    }
    ASSERT_TRUE(engine->storage().delete_document("doc-4").has_value());
    auto report = engine->maintainer().catch_up();
    ASSERT_TRUE(report.has_value()) << report.error().detail;
    EXPECT_FALSE(report->rebuilt_vectors);
    EXPECT_FALSE(report->rebuilt_bm25);
    EXPECT_EQ(report->from_seq, 0);
    EXPECT_EQ(report->changes, 21u);
    expect_indexes_match_storage(*engine);
    EXPECT_EQ(top_bm25_document(*engine, "zq12x"), "doc-12");
    EXPECT_NE(top_bm25_document(*engine, "zq4x"), "doc-4");
}

TEST_F(IndexMaintainerTest, EmptyIndexesOverExistingDataAreRebuiltFromStorage) {
    auto engine = open();
    ASSERT_TRUE(engine);
    for (std::size_t doc_idx = 0; doc_idx < 5; ++doc_idx) {
        ASSERT_TRUE(engine->ingest().ingest(numbered_doc(doc_idx), false).has_value());
    }
    ASSERT_TRUE(engine->maintainer().catch_up().has_value());
    // Indexes that were lost (here: new, empty ones) under a database with history.
    const std::string lost = dir_ + "/lost-indexes";
    retrieval::VectorIndexOptions vector_options;
    vector_options.dimensions = engine->embedder().dimensions();
    auto vectors = retrieval::open_vector_index(lost, vector_options);
    ASSERT_TRUE(vectors.has_value()) << vectors.error().detail;
    auto bm25 = retrieval::open_memory_bm25_index(lost, retrieval::Bm25Options{}, nullptr);
    ASSERT_TRUE(bm25.has_value()) << bm25.error().detail;
    IndexMaintainer maintainer(engine->storage(), **vectors, **bm25, engine->embedder().model_id());
    auto report = maintainer.catch_up();
    ASSERT_TRUE(report.has_value()) << report.error().detail;
    EXPECT_TRUE(report->rebuilt_vectors);
    EXPECT_TRUE(report->rebuilt_bm25);
    EXPECT_EQ((*vectors)->chunk_ids(), engine->vectors().chunk_ids());
    EXPECT_EQ(*(*bm25)->chunk_ids(), *engine->bm25().chunk_ids());
    EXPECT_EQ(maintainer.applied_seq(), *engine->storage().last_seq());
}

}  // namespace
}  // namespace ragd::pipeline
