// The pipeline against real storage and indexes in a temporary data directory.
#include "pipeline/engine.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <stdlib.h>

#include "embed/lexical_embedder.hpp"

namespace ragd::pipeline {
namespace {
namespace fs = std::filesystem;

class EngineTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "ragd-engine-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
        config_.storage.data_dir = dir_;
    }
    void TearDown() override { fs::remove_all(dir_); }

    std::unique_ptr<Engine> open(std::string* notes = nullptr) {
        auto engine = Engine::open(config_, notes);
        EXPECT_TRUE(engine.has_value()) << (engine ? "" : engine.error().detail);
        return engine ? std::move(*engine) : nullptr;
    }

    static IngestRequest doc(std::string id, std::string text, storage::Metadata meta = {}) {
        IngestRequest request;
        request.id = std::move(id);
        request.source = "/corpus/" + request.id + ".md";
        request.content = std::move(text);
        request.format = ingest::DocumentFormat::kMarkdown;
        request.metadata = std::move(meta);
        return request;
    }

    static std::vector<std::string> ids_of(const SearchOutcome& outcome) {
        std::vector<std::string> ids;
        for (const auto& hit : outcome.hits) {
            ids.push_back(hit.chunk.chunk.document_id);
        }
        return ids;
    }

public:
    /// What a helper outside the fixture needs of it.
    struct Fixture {
        const std::string& dir;
        core::Config& config;
    };

protected:
    std::string dir_;
    core::Config config_;
};

constexpr const char* kRaft =
    "# Raft\n\nRaft elects a leader with randomized election timeouts. The leader replicates "
    "its log to followers and commits an entry once a majority stores it.\n";
constexpr const char* kBread =
    "# Sourdough\n\nSourdough bread rises with a starter of wild yeast and lactobacilli. "
    "Bake it in a hot Dutch oven for a crisp crust.\n";
constexpr const char* kTides =
    "# Tides\n\nOcean tides follow the gravitational pull of the moon and the sun; spring "
    "tides happen at new and full moon.\n";

// storage.embedding_encoding reaches storage: float32 keeps the embedder's floats exactly,
// int8 (the default) keeps them to within half a step of max|v| / 127.
TEST_F(EngineTest, EmbeddingEncodingDecidesWhatStorageKeeps) {
    for (const char* encoding : {"float32", "int8"}) {
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        config_.storage.embedding_encoding = encoding;
        auto engine = open();
        ASSERT_TRUE(engine);
        ASSERT_TRUE(engine->ingest().ingest(doc("raft", kRaft)).has_value());
        auto chunks = engine->storage().indexable_chunks_of("raft", engine->embedder().model_id());
        ASSERT_TRUE(chunks.has_value());
        ASSERT_FALSE(chunks->empty());
        const storage::IndexableChunk& chunk = chunks->front();
        const std::string text =
            embed::compose_embedding_text(chunk.title, chunk.chunk.heading_path, chunk.chunk.text);
        const std::string_view views[] = {text};
        auto fresh = engine->embedder().embed(views, embed::EmbedKind::kDocument);
        ASSERT_TRUE(fresh.has_value());
        const std::vector<float>& want = fresh->front();
        ASSERT_EQ(chunk.embedding.size(), want.size());
        float max_abs = 0;
        for (float value : want) {
            max_abs = std::max(max_abs, std::fabs(value));
        }
        std::size_t differ = 0;
        for (std::size_t d = 0; d < want.size(); ++d) {
            EXPECT_LE(std::fabs(chunk.embedding[d] - want[d]), max_abs / 254.0F * 1.001F) << d;
            differ += chunk.embedding[d] != want[d] ? 1 : 0;
        }
        if (std::string(encoding) == "float32") {
            EXPECT_EQ(differ, 0U);
        } else {
            EXPECT_GT(differ, 0U);  // quantized: most components moved a little
        }
    }
}

// After the embedder changes (here its dimensions, which change its model id), the vector
// index is rebuilt and, since storage has no vectors of the new model yet, is empty; ingesting
// the unchanged documents again embeds them with the new model instead of skipping them.
TEST_F(EngineTest, ReingestAfterAnEmbedderChangeEmbedsUnchangedDocumentsAgain) {
    config_.embed.dimensions = 64;
    {
        auto engine = open();
        ASSERT_TRUE(engine);
        ASSERT_TRUE(engine->ingest().ingest(doc("raft", kRaft)).has_value());
        ASSERT_TRUE(engine->ingest().ingest(doc("tides", kTides)).has_value());
    }
    config_.embed.dimensions = 128;
    auto engine = open();
    ASSERT_TRUE(engine);
    EXPECT_EQ(engine->vectors().size(), 0U);
    auto raft = engine->ingest().ingest(doc("raft", kRaft));
    ASSERT_TRUE(raft.has_value()) << raft.error().detail;
    EXPECT_EQ(raft->status, storage::UpsertStatus::kReplaced);
    auto chunks = engine->storage().indexable_chunks_of("raft", engine->embedder().model_id());
    ASSERT_TRUE(chunks.has_value());
    ASSERT_EQ(chunks->size(), raft->chunks);
    for (const auto& chunk : *chunks) {
        EXPECT_EQ(chunk.embedding.size(), 128U);
    }
    EXPECT_EQ(engine->vectors().size(), raft->chunks);
    QueryOptions vector_only;
    vector_only.mode = RetrievalMode::kVector;
    auto found = engine->query().search("leader election", vector_only);
    ASSERT_TRUE(found.has_value()) << found.error().detail;
    ASSERT_FALSE(found->hits.empty());
    EXPECT_EQ(found->hits[0].chunk.chunk.document_id, "raft");
    // Now current: the next ingest of the same content is a no-op again.
    auto again = engine->ingest().ingest(doc("raft", kRaft));
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->status, storage::UpsertStatus::kUnchanged);
}

// A question embedded beforehand (by a remote embedder, on an I/O thread) is used as given.
TEST_F(EngineTest, SearchUsesAGivenQuestionVector) {
    auto engine = open();
    ASSERT_TRUE(engine);
    ASSERT_TRUE(engine->ingest().ingest(doc("raft", kRaft)).has_value());
    ASSERT_TRUE(engine->ingest().ingest(doc("bread", kBread)).has_value());
    const std::string bread_question = "what does sourdough bread rise with";
    const std::string_view views[] = {bread_question};
    auto vector = engine->embedder().embed(views, embed::EmbedKind::kQuery);
    ASSERT_TRUE(vector.has_value());
    QueryOptions options;
    options.mode = RetrievalMode::kVector;
    options.query_vector = vector->front();
    options.embed_ms = 12.5;
    // The text says raft; the vector says bread: the vector decides.
    auto found = engine->query().search("leader election raft", options);
    ASSERT_TRUE(found.has_value()) << found.error().detail;
    ASSERT_FALSE(found->hits.empty());
    EXPECT_EQ(found->hits[0].chunk.chunk.document_id, "bread");
    EXPECT_EQ(found->timings.embed, 12.5);
}

TEST_F(EngineTest, IngestSearchAnswerDelete) {
    auto engine = open();
    ASSERT_TRUE(engine);
    for (auto* text : {kRaft, kBread, kTides}) {
        std::string id = text == kRaft ? "raft" : text == kBread ? "bread" : "tides";
        auto result = engine->ingest().ingest(doc(id, text));
        ASSERT_TRUE(result.has_value()) << result.error().detail;
        EXPECT_EQ(result->status, storage::UpsertStatus::kCreated);
        EXPECT_GE(result->chunks, 1u);
    }
    QueryOptions options;
    options.top_k = 3;
    auto found = engine->query().search("how does the leader election work?", options);
    ASSERT_TRUE(found.has_value()) << found.error().detail;
    ASSERT_FALSE(found->hits.empty());
    EXPECT_EQ(found->hits[0].chunk.chunk.document_id, "raft");
    EXPECT_GT(found->hits[0].vector_rank + found->hits[0].bm25_rank, 0u);

    auto answered = engine->query().answer("What does sourdough bread rise with?", options);
    ASSERT_TRUE(answered.has_value()) << answered.error().detail;
    EXPECT_EQ(answered->generation.generator, "extractive");
    EXPECT_NE(answered->generation.text.find("[1]"), std::string::npos)
        << answered->generation.text;
    EXPECT_EQ(answered->sources[0].chunk.chunk.document_id, "bread");

    auto removed = engine->ingest().remove("bread");
    ASSERT_TRUE(removed.has_value());
    EXPECT_TRUE(*removed);
    auto after = engine->query().search("sourdough starter yeast", options);
    ASSERT_TRUE(after.has_value());
    for (const auto& id : ids_of(*after)) {
        EXPECT_NE(id, "bread");
    }
    auto removed_again = engine->ingest().remove("bread");
    ASSERT_TRUE(removed_again.has_value());
    EXPECT_FALSE(*removed_again);
    auto stats = engine->index_stats();
    auto storage_stats = engine->storage().stats();
    ASSERT_TRUE(storage_stats.has_value());
    EXPECT_EQ(stats.vectors, static_cast<std::size_t>(storage_stats->chunks));
    EXPECT_EQ(stats.bm25_chunks, static_cast<std::size_t>(storage_stats->chunks));
}

TEST_F(EngineTest, UnchangedAndReplaced) {
    auto engine = open();
    ASSERT_TRUE(engine);
    ASSERT_TRUE(engine->ingest().ingest(doc("d", kRaft)).has_value());
    auto again = engine->ingest().ingest(doc("d", kRaft));
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->status, storage::UpsertStatus::kUnchanged);
    auto replaced = engine->ingest().ingest(doc("d", kTides));
    ASSERT_TRUE(replaced.has_value());
    EXPECT_EQ(replaced->status, storage::UpsertStatus::kReplaced);

    QueryOptions options;
    options.mode = RetrievalMode::kBm25;
    auto old_text = engine->query().search("randomized election timeouts", options);
    ASSERT_TRUE(old_text.has_value());
    EXPECT_TRUE(old_text->hits.empty()) << "replaced text must not be found";
    options.mode = RetrievalMode::kVector;
    auto stats = engine->index_stats();
    auto storage_stats = engine->storage().stats();
    ASSERT_TRUE(storage_stats.has_value());
    EXPECT_EQ(stats.vectors, static_cast<std::size_t>(storage_stats->chunks));
}

TEST_F(EngineTest, FiltersApplyToBothRetrievers) {
    auto engine = open();
    ASSERT_TRUE(engine);
    ASSERT_TRUE(engine->ingest().ingest(doc("a", kRaft, {{"tenant", "acme"}})).has_value());
    ASSERT_TRUE(engine->ingest().ingest(doc("b", kBread, {{"tenant", "zeta"}})).has_value());
    for (auto mode : {RetrievalMode::kHybrid, RetrievalMode::kVector, RetrievalMode::kBm25}) {
        QueryOptions options;
        options.mode = mode;
        options.top_k = 5;
        options.filter.metadata = {{"tenant", "zeta"}};
        auto found = engine->query().search("leader election bread", options);
        ASSERT_TRUE(found.has_value());
        for (const auto& id : ids_of(*found)) {
            EXPECT_EQ(id, "b");
        }
        options.filter = {};
        options.filter.source_prefix = "/corpus/a";
        found = engine->query().search("leader election bread", options);
        ASSERT_TRUE(found.has_value());
        ASSERT_FALSE(found->hits.empty());
        for (const auto& id : ids_of(*found)) {
            EXPECT_EQ(id, "a");
        }
    }
}

TEST_F(EngineTest, InvalidQueries) {
    auto engine = open();
    ASSERT_TRUE(engine);
    QueryOptions options;
    EXPECT_FALSE(engine->query().search("   ", options).has_value());
    options.top_k = 0;
    EXPECT_FALSE(engine->query().search("x", options).has_value());
    options.top_k = 1000;
    EXPECT_FALSE(engine->query().search("x", options).has_value());
}

TEST_F(EngineTest, SecondOpenOfTheSameDirectoryIsRefused) {
    auto engine = open();
    ASSERT_TRUE(engine);
    auto second = Engine::open(config_);
    ASSERT_FALSE(second.has_value());
    EXPECT_EQ(second.error().code, core::ErrorCode::kConflict);
    EXPECT_NE(second.error().detail.find("in use by another ragd process"), std::string::npos);
}

TEST_F(EngineTest, IndexesCatchUpWithStorageOnOpen) {
    {
        auto engine = open();
        ASSERT_TRUE(engine);
        // Storage written, indexes not told: what a crash between the two leaves behind.
        ASSERT_TRUE(engine->ingest().ingest(doc("raft", kRaft), false).has_value());
        ASSERT_TRUE(engine->ingest().ingest(doc("tides", kTides), false).has_value());
        EXPECT_EQ(engine->index_stats().bm25_chunks, 0u);
    }
    std::string notes;
    auto engine = open(&notes);
    ASSERT_TRUE(engine);
    EXPECT_NE(notes.find("caught up"), std::string::npos) << notes;
    auto storage_stats = engine->storage().stats();
    ASSERT_TRUE(storage_stats.has_value());
    EXPECT_EQ(engine->index_stats().bm25_chunks, static_cast<std::size_t>(storage_stats->chunks));
    EXPECT_EQ(engine->index_stats().vectors, static_cast<std::size_t>(storage_stats->chunks));
    QueryOptions options;
    auto found = engine->query().search("moon tides", options);
    ASSERT_TRUE(found.has_value());
    ASSERT_FALSE(found->hits.empty());
    EXPECT_EQ(found->hits[0].chunk.chunk.document_id, "tides");
}

TEST_F(EngineTest, MissingAndCorruptIndexesAreRebuilt) {
    std::size_t chunks = 0;
    {
        auto engine = open();
        ASSERT_TRUE(engine);
        for (auto* text : {kRaft, kBread, kTides}) {
            ASSERT_TRUE(engine->ingest().ingest(doc(std::to_string(chunks++), text)).has_value());
        }
    }
    fs::remove_all(fs::path(dir_) / "bm25");
    {
        std::ofstream garbage(fs::path(dir_) / "vectors.hnsw", std::ios::trunc);
        garbage << "not an index";
    }
    std::string notes;
    auto engine = open(&notes);
    ASSERT_TRUE(engine);
    auto storage_stats = engine->storage().stats();
    ASSERT_TRUE(storage_stats.has_value());
    EXPECT_EQ(engine->index_stats().vectors, static_cast<std::size_t>(storage_stats->chunks));
    EXPECT_EQ(engine->index_stats().bm25_chunks, static_cast<std::size_t>(storage_stats->chunks));
    QueryOptions options;
    auto found = engine->query().search("sourdough", options);
    ASSERT_TRUE(found.has_value());
    ASSERT_FALSE(found->hits.empty());
}

TEST_F(EngineTest, IngestPathsReportsBadFilesAndGoesOn) {
    fs::path corpus = fs::path(dir_) / "corpus";
    fs::create_directories(corpus / "sub");
    fs::create_directories(corpus / ".hidden");
    std::ofstream(corpus / "a.md") << kRaft;
    std::ofstream(corpus / "sub" / "b.txt") << "Plain text about tides and the moon.";
    std::ofstream(corpus / "sub" / "c.html") << "<html><title>C</title><p>Bread</p></html>";
    std::ofstream(corpus / "skip.bin") << "binary";
    std::ofstream(corpus / ".hidden" / "d.md") << "hidden";
    {
        std::ofstream bad(corpus / "bad.txt", std::ios::binary);
        bad << std::string("nul\0byte", 8);
    }
    config_.storage.data_dir = (fs::path(dir_) / "data").string();
    auto engine = open();
    ASSERT_TRUE(engine);
    auto report = engine->ingest().ingest_paths({corpus.string(), (corpus / "missing").string()});
    EXPECT_EQ(report.results.size(), 3u);
    ASSERT_EQ(report.problems.size(), 2u);
    EXPECT_NE(report.problems[0].path.find("bad.txt"), std::string::npos);
    EXPECT_NE(report.problems[1].reason.find("no such file"), std::string::npos);
    auto again = engine->ingest().ingest_paths({corpus.string()});
    for (const auto& result : again.results) {
        EXPECT_EQ(result.status, storage::UpsertStatus::kUnchanged);
    }
}

// Enough files for several catch-ups, each running while the next files are stored: when the
// ingest returns, every chunk of every file is in both indexes, and nothing twice. With
// `writers` > 1 the files are written by that many threads at once (what PostgreSQL gets by
// default), which SQLite serializes: the outcome must be the same.
void ingest_many_files(EngineTest::Fixture& fixture, std::size_t writers) {
    fs::path corpus = fs::path(fixture.dir) / "corpus";
    fs::create_directories(corpus);
    constexpr int kFiles = 700;
    auto name_of = [](int file_idx) {
        char name[32];
        std::snprintf(name, sizeof name, "doc%04d.md", file_idx);
        return std::string(name);
    };
    for (int file_idx = 0; file_idx < kFiles; ++file_idx) {
        std::ofstream out(corpus / name_of(file_idx));
        out << "# Note " << file_idx << "\n\nThe marker zq" << file_idx << "x appears here.\n\n";
        for (int section = 0; section < file_idx % 4; ++section) {
            out << "## Part " << section << "\n\nMore about note " << file_idx << ".\n\n";
        }
    }
    {
        std::ofstream bad(corpus / "doc0300-bad.txt", std::ios::binary);
        bad << std::string("nul\0byte", 8);
    }
    fixture.config.storage.data_dir = (fs::path(fixture.dir) / "data").string();
    fixture.config.ingest.write_concurrency = writers;
    auto engine = Engine::open(fixture.config);
    ASSERT_TRUE(engine.has_value()) << engine.error().detail;
    std::size_t progress_calls = 0;  // the callback is serialized: no lock needed here
    std::set<std::thread::id> writer_threads;
    auto report = (*engine)->ingest().ingest_paths({corpus.string()}, [&](const IngestResult&) {
        ++progress_calls;
        writer_threads.insert(std::this_thread::get_id());
    });
    if (writers > 1) {
        EXPECT_GT(writer_threads.size(), 1u);  // the files were written from several threads
    } else {
        EXPECT_EQ(writer_threads.size(), 1u);
    }
    ASSERT_EQ(report.problems.size(), 1u);
    EXPECT_NE(report.problems[0].path.find("doc0300-bad.txt"), std::string::npos);
    ASSERT_EQ(report.results.size(), static_cast<std::size_t>(kFiles));
    EXPECT_EQ(progress_calls, static_cast<std::size_t>(kFiles));
    std::size_t chunks = 0;
    for (std::size_t idx = 0; idx < report.results.size(); ++idx) {
        const auto& result = report.results[idx];
        chunks += result.chunks;
        EXPECT_EQ(result.status, storage::UpsertStatus::kCreated);
        if (writers <= 1) {  // one writer stores files in groups, and reports them in order
            EXPECT_EQ(fs::path(result.source).filename(), name_of(static_cast<int>(idx)));
        }
    }
    EXPECT_EQ((*engine)->vectors().size(), chunks);
    EXPECT_EQ((*engine)->bm25().size(), chunks);
    auto last_seq = (*engine)->storage().last_seq();
    ASSERT_TRUE(last_seq.has_value());
    EXPECT_EQ(*last_seq, kFiles);  // one change per file: none written twice
    EXPECT_EQ((*engine)->maintainer().applied_seq(), *last_seq);
    for (int file_idx : {0, 255, 256, 513, kFiles - 1}) {
        QueryOptions options;
        options.top_k = 1;
        auto found = (*engine)->query().search("zq" + std::to_string(file_idx) + "x", options);
        ASSERT_TRUE(found.has_value());
        ASSERT_EQ(found->hits.size(), 1u);
        EXPECT_EQ(fs::path(found->hits[0].chunk.source).filename(), name_of(file_idx));
    }
}

// Document ids come from a file's canonical path, however the folder walk reached it: through
// a symbolic link to the folder, or a file that is itself a link (its id is its target's). A
// file given twice, into a store that was empty, is stored once; one over the size limit is
// reported with its size.
TEST_F(EngineTest, IngestPathsIdsAreCanonicalAndAFileGivenTwiceIsStoredOnce) {
    fs::path real = fs::path(dir_) / "real";
    fs::create_directories(real / "sub");
    std::ofstream(real / "a.md") << kRaft;
    std::ofstream(real / "sub" / "b.md") << kBread;
    std::ofstream(fs::path(dir_) / "outside.md") << kTides;
    fs::create_symlink(fs::path(dir_) / "outside.md", real / "link.md");
    fs::create_directory_symlink(real, fs::path(dir_) / "alias");
    std::ofstream(real / "big.txt") << std::string(4096, 'x');
    config_.ingest.max_file_bytes = 1024;
    config_.storage.data_dir = (fs::path(dir_) / "data").string();
    auto engine = open();
    ASSERT_TRUE(engine);
    const fs::path alias = fs::path(dir_) / "alias";
    auto report = engine->ingest().ingest_paths({alias.string(), (alias / "a.md").string()});
    ASSERT_EQ(report.problems.size(), 1U);
    EXPECT_NE(report.problems[0].path.find("big.txt"), std::string::npos);
    EXPECT_NE(report.problems[0].reason.find("4096 bytes"), std::string::npos)
        << report.problems[0].reason;
    ASSERT_EQ(report.results.size(), 4U);
    std::map<std::string, IngestResult> by_file;
    for (const auto& result : report.results) {
        by_file[fs::path(result.source).filename().string()] = result;
    }
    const fs::path canonical_real = fs::canonical(real);
    EXPECT_EQ(by_file["a.md"].id, IngestService::document_id_for_path(real / "a.md"));
    EXPECT_EQ(by_file["a.md"].source, (canonical_real / "a.md").string());
    EXPECT_EQ(by_file["b.md"].source, (canonical_real / "sub" / "b.md").string());
    EXPECT_EQ(by_file["outside.md"].id,
              IngestService::document_id_for_path(fs::path(dir_) / "outside.md"));
    EXPECT_EQ(report.results[0].status, storage::UpsertStatus::kCreated);  // alias/a.md
    EXPECT_EQ(report.results[3].id, report.results[0].id);                 // a.md given again
    EXPECT_EQ(report.results[3].status, storage::UpsertStatus::kUnchanged);
    EXPECT_EQ(*engine->storage().last_seq(), 3);
    EXPECT_EQ(report.bytes,
              fs::file_size(real / "a.md") * 2 + fs::file_size(real / "sub" / "b.md") +
                  fs::file_size(fs::path(dir_) / "outside.md"));
}

// ingest_batch: one result per request, in order. A document that cannot be parsed fails
// alone; an unchanged one is reported as such; the others are stored and, after one catch-up,
// searchable.
TEST_F(EngineTest, IngestBatchGivesEachRequestItsResult) {
    auto engine = open();
    ASSERT_TRUE(engine);
    ASSERT_TRUE(engine->ingest().ingest(doc("tides", kTides)));
    std::vector<IngestRequest> batch;
    batch.push_back(doc("raft", kRaft));
    batch.push_back(doc("tides", kTides));
    batch.push_back(doc("broken", std::string("nul\0byte", 8)));
    batch.back().format = ingest::DocumentFormat::kText;
    batch.push_back(doc("bread", kBread));
    auto results = engine->ingest().ingest_batch(std::move(batch));
    ASSERT_EQ(results.size(), 4U);
    ASSERT_TRUE(results[0]) << results[0].error().detail;
    EXPECT_EQ(results[0]->id, "raft");
    EXPECT_EQ(results[0]->status, storage::UpsertStatus::kCreated);
    ASSERT_TRUE(results[1]);
    EXPECT_EQ(results[1]->status, storage::UpsertStatus::kUnchanged);
    EXPECT_FALSE(results[2]);
    ASSERT_TRUE(results[3]) << results[3].error().detail;
    EXPECT_EQ(results[3]->id, "bread");
    EXPECT_GT(results[3]->chunks, 0U);
    EXPECT_FALSE(engine->storage().get_document("broken")->has_value());
    ASSERT_TRUE(engine->maintainer().catch_up());
    for (const char* word : {"Raft", "Sourdough", "tides"}) {
        auto found = engine->query().search(word, QueryOptions{});
        ASSERT_TRUE(found);
        EXPECT_FALSE(found->hits.empty()) << word;
    }
    EXPECT_EQ(*engine->storage().last_seq(), 3);

    // Stopping at the first failure (POST /v1/documents): what came before it is stored, and
    // nothing after it.
    std::vector<IngestRequest> stopping;
    stopping.push_back(doc("cormorant", "# Cormorants\n\nCormorants dry their wings.\n"));
    stopping.push_back(doc("broken2", std::string("nul\0byte", 8)));
    stopping.back().format = ingest::DocumentFormat::kText;
    stopping.push_back(doc("never", "# Never\n\nNever stored.\n"));
    auto stopped = engine->ingest().ingest_batch(std::move(stopping), storage::OnFailure::kStop);
    ASSERT_EQ(stopped.size(), 2U);
    ASSERT_TRUE(stopped[0]) << stopped[0].error().detail;
    EXPECT_FALSE(stopped[1]);
    EXPECT_TRUE(engine->storage().get_document("cormorant")->has_value());
    EXPECT_FALSE(engine->storage().get_document("never")->has_value());
}

// A batch larger than a group is written group by group; stopping at a failure in a later
// group keeps every group before it and what came before the failure in its own.
TEST_F(EngineTest, IngestBatchLargerThanAGroupStopsWhereItFails) {
    auto engine = open();
    ASSERT_TRUE(engine);
    constexpr std::size_t kDocs = 2 * IngestService::kDocumentsPerGroup + 20;
    constexpr std::size_t kBroken = IngestService::kDocumentsPerGroup + 10;
    auto make_batch = [&](const std::string& prefix) {
        std::vector<IngestRequest> batch;
        for (std::size_t idx = 0; idx < kDocs; ++idx) {
            batch.push_back(doc(prefix + std::to_string(idx),
                                "# Note\n\nNote number " + std::to_string(idx) + ".\n"));
        }
        batch[kBroken].content = std::string("nul\0byte", 8);
        batch[kBroken].format = ingest::DocumentFormat::kText;
        return batch;
    };
    auto stopped = engine->ingest().ingest_batch(make_batch("s"), storage::OnFailure::kStop);
    ASSERT_EQ(stopped.size(), kBroken + 1);
    for (std::size_t idx = 0; idx < kBroken; ++idx) {
        ASSERT_TRUE(stopped[idx]) << idx << ": " << stopped[idx].error().detail;
    }
    EXPECT_FALSE(stopped[kBroken]);
    EXPECT_EQ(*engine->storage().last_seq(), static_cast<std::int64_t>(kBroken));
    EXPECT_FALSE(engine->storage().get_document("s" + std::to_string(kBroken + 1))->has_value());

    auto all = engine->ingest().ingest_batch(make_batch("g"), storage::OnFailure::kGoOn);
    ASSERT_EQ(all.size(), kDocs);
    EXPECT_FALSE(all[kBroken]);
    EXPECT_TRUE(all[kDocs - 1]);
    EXPECT_EQ(*engine->storage().last_seq(), static_cast<std::int64_t>(kBroken + kDocs - 1));
}

TEST_F(EngineTest, IngestPathsIndexesEveryBatchWhileStoringTheNext) {
    Fixture fixture{dir_, config_};
    ingest_many_files(fixture, 0);
}

TEST_F(EngineTest, IngestPathsWithSeveralWritersStoresAndIndexesEachFileOnce) {
    Fixture fixture{dir_, config_};
    ingest_many_files(fixture, 4);
}

}  // namespace
}  // namespace ragd::pipeline

namespace ragd::pipeline {
namespace {

TEST_F(EngineTest, ReadOnlyUseWritesNoIndexFiles) {
    {
        auto engine = open();
        ASSERT_TRUE(engine);
        ASSERT_TRUE(engine->ingest().ingest(doc("raft", kRaft)).has_value());
    }
    auto vectors = fs::path(dir_) / "vectors.hnsw";
    ASSERT_TRUE(fs::exists(vectors));
    auto before = fs::last_write_time(vectors);
    {
        auto engine = open();
        ASSERT_TRUE(engine);
        QueryOptions options;
        ASSERT_TRUE(engine->query().search("leader election", options).has_value());
    }
    EXPECT_EQ(fs::last_write_time(vectors), before) << "a search must not rewrite the index";
}

// A replica on shared storage learns of other writers only from the change log: the follower
// applies what was stored without this engine's catch-up (ingest(..., false) writes exactly
// that), within its interval.
TEST_F(EngineTest, FollowerAppliesChangesStoredWithoutCatchUp) {
    config_.storage.follow_interval = std::chrono::milliseconds(20);
    auto engine = open();
    ASSERT_TRUE(engine);
    EXPECT_EQ(engine->follower(), nullptr);
    engine->follow_changes();
    ASSERT_NE(engine->follower(), nullptr);
    ASSERT_TRUE(engine->ingest().ingest(doc("tides", kTides), false).has_value());
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (engine->index_stats().bm25_chunks == 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    auto last = engine->storage().last_seq();
    ASSERT_TRUE(last.has_value());
    EXPECT_EQ(engine->indexed_seq(), *last);
    QueryOptions options;
    auto found = engine->query().search("moon tides", options);
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(ids_of(*found), std::vector<std::string>{"tides"});
    const FollowerStatus status = engine->follower()->status();
    EXPECT_EQ(status.failures_in_a_row, 0u);
    EXPECT_TRUE(status.last_error.empty());
}

TEST_F(EngineTest, FollowingIsOffWithAZeroInterval) {
    config_.storage.follow_interval = std::chrono::milliseconds(0);
    auto engine = open();
    ASSERT_TRUE(engine);
    engine->follow_changes();
    EXPECT_EQ(engine->follower(), nullptr);
}

// storage.id names the database the indexes came from. Indexes built from another one must not
// be caught up from this one (their sequence numbers mean nothing here): they are rebuilt.
TEST_F(EngineTest, IndexesBuiltFromAnotherDatabaseAreRebuilt) {
    {
        auto engine = open();
        ASSERT_TRUE(engine);
        ASSERT_TRUE(engine->ingest().ingest(doc("raft", kRaft)).has_value());
    }
    const fs::path id_file = fs::path(dir_) / "storage.id";
    {
        std::ifstream in(id_file);
        std::string identity;
        std::getline(in, identity);
        EXPECT_EQ(identity, "sqlite");
    }
    std::string notes;
    { auto engine = open(&notes); }
    EXPECT_EQ(notes.find("another database"), std::string::npos) << notes;

    {
        std::ofstream out(id_file, std::ios::trunc);
        out << "postgres:00000000-0000-0000-0000-000000000000\n";
    }
    notes.clear();
    auto engine = open(&notes);
    ASSERT_TRUE(engine);
    EXPECT_NE(notes.find("built from another database"), std::string::npos) << notes;
    EXPECT_NE(notes.find("rebuilt"), std::string::npos) << notes;
    QueryOptions options;
    auto found = engine->query().search("leader election", options);
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(ids_of(*found), std::vector<std::string>{"raft"});
    std::ifstream in(id_file);
    std::string identity;
    std::getline(in, identity);
    EXPECT_EQ(identity, "sqlite");
}

// A data directory from before storage.id existed was SQLite's: its indexes are kept.
TEST_F(EngineTest, DataDirectoryWithoutStorageIdKeepsItsIndexes) {
    {
        auto engine = open();
        ASSERT_TRUE(engine);
        ASSERT_TRUE(engine->ingest().ingest(doc("raft", kRaft)).has_value());
    }
    fs::remove(fs::path(dir_) / "storage.id");
    std::string notes;
    auto engine = open(&notes);
    ASSERT_TRUE(engine);
    EXPECT_EQ(notes, "");
    EXPECT_TRUE(fs::exists(fs::path(dir_) / "storage.id"));
}

}  // namespace
}  // namespace ragd::pipeline
