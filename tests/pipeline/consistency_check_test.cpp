// ConsistencyChecker against a real engine in a temporary data directory: each test breaks one
// thing the way a crash, a bug or a disk would, and checks it is reported and (where an index
// rebuild can) repaired.
#include "pipeline/consistency_check.hpp"

#include <filesystem>

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include "pipeline/engine.hpp"

namespace ragd::pipeline {
namespace {
namespace fs = std::filesystem;

constexpr const char* kRaft =
    "# Raft\n\nRaft elects a leader with randomized election timeouts. The leader replicates "
    "its log to followers and commits an entry once a majority stores it.\n";
constexpr const char* kBread =
    "# Sourdough\n\nSourdough bread rises with a starter of wild yeast and lactobacilli. "
    "Bake it in a hot Dutch oven for a crisp crust.\n";
constexpr const char* kTides =
    "# Tides\n\nOcean tides follow the gravitational pull of the moon and the sun; spring "
    "tides happen at new and full moon.\n";

class ConsistencyCheckTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "ragd-check-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
        config_.storage.data_dir = dir_;
    }
    void TearDown() override { fs::remove_all(dir_); }

    std::unique_ptr<Engine> open(bool catch_up = true) {
        EngineOpenOptions options;
        options.catch_up = catch_up;
        auto engine = Engine::open(config_, nullptr, options);
        EXPECT_TRUE(engine.has_value()) << (engine ? "" : engine.error().detail);
        return engine ? std::move(*engine) : nullptr;
    }

    static IngestRequest doc(std::string id, std::string text) {
        IngestRequest request;
        request.id = std::move(id);
        request.source = "/corpus/" + request.id + ".md";
        request.content = std::move(text);
        request.format = ingest::DocumentFormat::kMarkdown;
        return request;
    }

    /// Three documents, indexed: the consistent starting point of most tests.
    void ingest_three(Engine& engine) {
        ASSERT_TRUE(engine.ingest().ingest(doc("raft", kRaft)).has_value());
        ASSERT_TRUE(engine.ingest().ingest(doc("bread", kBread)).has_value());
        ASSERT_TRUE(engine.ingest().ingest(doc("tides", kTides)).has_value());
    }

    static ConsistencyReport check(Engine& engine, CheckOptions options = {}) {
        auto report = ConsistencyChecker(engine, options).check();
        EXPECT_TRUE(report.has_value()) << (report ? "" : report.error().detail);
        return report ? *report : ConsistencyReport{};
    }

    static RepairOutcome repair(Engine& engine) {
        auto outcome = ConsistencyChecker(engine).repair(engine.maintainer());
        EXPECT_TRUE(outcome.has_value()) << (outcome ? "" : outcome.error().detail);
        return outcome ? *outcome : RepairOutcome{};
    }

    static std::vector<std::int64_t> chunk_ids(Engine& engine, const std::string& id) {
        std::vector<std::int64_t> ids;
        auto chunks = engine.storage().chunks_of(id);
        EXPECT_TRUE(chunks.has_value());
        for (const auto& chunk : *chunks) {
            ids.push_back(chunk.id);
        }
        return ids;
    }

    /// Runs SQL on the closed database with a connection of the test's own.
    void run_sql(const std::string& sql) {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open((fs::path(dir_) / "ragd.sqlite").c_str(), &db), SQLITE_OK);
        char* message = nullptr;
        int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
        EXPECT_EQ(rc, SQLITE_OK) << (message != nullptr ? message : "");
        sqlite3_free(message);
        sqlite3_close(db);
    }

    std::string dir_;
    core::Config config_;
};

TEST_F(ConsistencyCheckTest, FreshIngestIsConsistent) {
    auto engine = open();
    ASSERT_TRUE(engine);
    ingest_three(*engine);
    auto report = check(*engine);
    EXPECT_TRUE(report.consistent()) << format_report(report);
    EXPECT_EQ(report.documents, 3);
    EXPECT_GE(report.chunks, 3);
    EXPECT_EQ(report.storage_seq, 3);
    EXPECT_EQ(report.integrity_check, "integrity_check");
    EXPECT_EQ(report.vectors.entries, static_cast<std::size_t>(report.chunks));
    EXPECT_EQ(report.bm25.entries, static_cast<std::size_t>(report.chunks));
    EXPECT_EQ(report.vectors.applied_seq, 3);
    EXPECT_EQ(report.model_id, engine->embedder().model_id());
    EXPECT_NE(format_report(report).find("result: consistent"), std::string::npos);

    auto quick = check(*engine, CheckOptions{.full_integrity = false});
    EXPECT_TRUE(quick.consistent());
    EXPECT_EQ(quick.integrity_check, "quick_check");

    // Repairing a consistent directory does nothing.
    auto outcome = repair(*engine);
    EXPECT_TRUE(outcome.repaired());
    EXPECT_TRUE(outcome.actions.empty());
}

TEST_F(ConsistencyCheckTest, EmptyDirectoryIsConsistent) {
    auto engine = open();
    ASSERT_TRUE(engine);
    auto report = check(*engine);
    EXPECT_TRUE(report.consistent()) << format_report(report);
    EXPECT_EQ(report.chunks, 0);
}

TEST_F(ConsistencyCheckTest, LaggingIndexesAreReportedAndCaughtUp) {
    {
        auto engine = open();
        ASSERT_TRUE(engine);
        ingest_three(*engine);
        // Stored but not indexed: what a crash between the two leaves behind.
        ASSERT_TRUE(engine->ingest().ingest(doc("late", "# Late\n\nLighthouses.\n"), false));
    }
    auto engine = open(/*catch_up=*/false);
    ASSERT_TRUE(engine);
    auto late = chunk_ids(*engine, "late");
    ASSERT_EQ(late.size(), 1u);
    auto report = check(*engine);
    EXPECT_FALSE(report.consistent());
    EXPECT_TRUE(report.storage_consistent());
    for (const IndexCheck* index : {&report.vectors, &report.bm25}) {
        EXPECT_EQ(index->lag, 1) << index->name;
        EXPECT_EQ(index->missing.count, 1u) << index->name;
        EXPECT_EQ(index->missing.first, late) << index->name;
        EXPECT_EQ(index->extra.count, 0u) << index->name;
    }
    EXPECT_NE(format_report(report).find("1 changes behind storage"), std::string::npos)
        << format_report(report);

    auto outcome = repair(*engine);
    EXPECT_TRUE(outcome.repaired()) << format_report(outcome.after);
    ASSERT_EQ(outcome.actions.size(), 1u);
    EXPECT_NE(outcome.actions[0].find("caught the indexes up"), std::string::npos)
        << outcome.actions[0];
    EXPECT_EQ(outcome.after.vectors.applied_seq, 4);
}

TEST_F(ConsistencyCheckTest, DivergedIndexesAreRebuilt) {
    auto engine = open();
    ASSERT_TRUE(engine);
    ingest_three(*engine);
    auto raft = chunk_ids(*engine, "raft");
    ASSERT_FALSE(raft.empty());
    // Indexes at storage's sequence but holding other ids: only a comparison of the id sets
    // can tell, since catch-up trusts the applied sequence.
    auto& vectors = const_cast<retrieval::VectorIndex&>(engine->vectors());
    auto& bm25 = const_cast<retrieval::Bm25Index&>(engine->bm25());
    std::vector<float> unit(engine->embedder().dimensions(), 0.0f);
    unit[0] = 1.0f;
    ASSERT_TRUE(vectors.add(900001, unit));
    vectors.remove(raft[0]);
    storage::IndexableChunk ghost;
    ghost.chunk.id = 900002;
    ghost.chunk.text = "a chunk no document has";
    ASSERT_TRUE(bm25.add(ghost));
    ASSERT_TRUE(bm25.commit(bm25.applied_seq()));

    auto report = check(*engine);
    EXPECT_FALSE(report.consistent());
    EXPECT_EQ(report.vectors.lag, 0);
    EXPECT_EQ(report.vectors.missing.first, std::vector<std::int64_t>{raft[0]});
    EXPECT_EQ(report.vectors.extra.first, std::vector<std::int64_t>{900001});
    EXPECT_EQ(report.bm25.missing.count, 0u);
    EXPECT_EQ(report.bm25.extra.first, std::vector<std::int64_t>{900002});

    auto json = report_to_json(report);
    EXPECT_FALSE(json.at("consistent").as_bool());
    EXPECT_EQ(json.at("indexes").at("vectors").at("extra").at("count").as_uint64(), 1u);
    EXPECT_EQ(json.at("indexes").at("bm25").at("extra").at("ids").as_array().at(0).as_int64(),
              900002);

    auto outcome = repair(*engine);
    EXPECT_TRUE(outcome.repaired()) << format_report(outcome.after);
    ASSERT_EQ(outcome.actions.size(), 1u);
    EXPECT_NE(outcome.actions[0].find("rebuilt vectors and bm25"), std::string::npos)
        << outcome.actions[0];
    EXPECT_EQ(outcome.after.vectors.entries, static_cast<std::size_t>(outcome.after.chunks));
    // The rebuilt indexes were saved: a fresh open (no catch-up) still finds them consistent.
    engine.reset();
    engine = open(/*catch_up=*/false);
    ASSERT_TRUE(engine);
    EXPECT_TRUE(check(*engine).consistent());
}

TEST_F(ConsistencyCheckTest, OneRebuiltIndexDoesNotTouchTheOther) {
    auto engine = open();
    ASSERT_TRUE(engine);
    ingest_three(*engine);
    auto& bm25 = const_cast<retrieval::Bm25Index&>(engine->bm25());
    auto raft = chunk_ids(*engine, "raft");
    ASSERT_TRUE(bm25.remove(raft[0]));
    ASSERT_TRUE(bm25.commit(bm25.applied_seq()));
    auto outcome = repair(*engine);
    EXPECT_TRUE(outcome.repaired()) << format_report(outcome.after);
    ASSERT_EQ(outcome.actions.size(), 1u);
    EXPECT_NE(outcome.actions[0].find("rebuilt bm25 from storage"), std::string::npos)
        << outcome.actions[0];
}

TEST_F(ConsistencyCheckTest, IndexAheadOfStorageIsRebuilt) {
    {
        auto engine = open();
        ASSERT_TRUE(engine);
        ingest_three(*engine);
        auto& vectors = const_cast<retrieval::VectorIndex&>(engine->vectors());
        vectors.set_applied_seq(10);  // as if storage were restored from an older backup
        ASSERT_TRUE(engine->maintainer().flush());
    }
    auto engine = open(/*catch_up=*/false);
    ASSERT_TRUE(engine);
    auto report = check(*engine);
    EXPECT_EQ(report.vectors.lag, -7);
    EXPECT_FALSE(report.consistent());
    EXPECT_NE(format_report(report).find("ahead of storage by 7"), std::string::npos);
    auto outcome = repair(*engine);
    EXPECT_TRUE(outcome.repaired()) << format_report(outcome.after);
    EXPECT_EQ(outcome.after.vectors.applied_seq, 3);
}

TEST_F(ConsistencyCheckTest, MissingVectorFilesAreReportedThenRebuilt) {
    {
        auto engine = open();
        ASSERT_TRUE(engine);
        ingest_three(*engine);
    }
    fs::remove(fs::path(dir_) / "vectors.hnsw");
    fs::remove(fs::path(dir_) / "vectors.meta");
    auto engine = open(/*catch_up=*/false);
    ASSERT_TRUE(engine);
    auto report = check(*engine);
    EXPECT_EQ(report.vectors.entries, 0u);
    EXPECT_EQ(report.vectors.lag, 3);
    EXPECT_EQ(report.vectors.missing.count, static_cast<std::size_t>(report.chunks));
    EXPECT_TRUE(report.bm25.consistent());
    auto outcome = repair(*engine);
    EXPECT_TRUE(outcome.repaired()) << format_report(outcome.after);
}

TEST_F(ConsistencyCheckTest, ListsAreCappedButCountsAreNot) {
    auto engine = open();
    ASSERT_TRUE(engine);
    ingest_three(*engine);
    auto& bm25 = const_cast<retrieval::Bm25Index&>(engine->bm25());
    for (std::int64_t id = 800001; id <= 800005; ++id) {
        storage::IndexableChunk ghost;
        ghost.chunk.id = id;
        ghost.chunk.text = "ghost";
        ASSERT_TRUE(bm25.add(ghost));
    }
    ASSERT_TRUE(bm25.commit(bm25.applied_seq()));
    auto report = check(*engine, CheckOptions{.max_listed_ids = 2});
    EXPECT_EQ(report.bm25.extra.count, 5u);
    EXPECT_EQ(report.bm25.extra.first, (std::vector<std::int64_t>{800001, 800002}));
    EXPECT_NE(format_report(report).find("800001, 800002, ..."), std::string::npos);
}

TEST_F(ConsistencyCheckTest, MissingAndWrongSizedEmbeddingsAreStorageProblems) {
    auto engine = open();
    ASSERT_TRUE(engine);
    ingest_three(*engine);
    const std::string model = engine->embedder().model_id();
    storage::DocumentRecord bare;
    bare.id = "bare";
    bare.content_hash = "00";
    storage::NewChunk unembedded;
    unembedded.text = "a chunk stored without its vector";
    ASSERT_TRUE(engine->storage().upsert_document(bare, {&unembedded, 1}, model));
    ASSERT_TRUE(engine->maintainer().catch_up());
    auto bare_ids = chunk_ids(*engine, "bare");

    auto report = check(*engine);
    EXPECT_FALSE(report.consistent());
    EXPECT_FALSE(report.storage_consistent());
    EXPECT_EQ(report.without_embedding.first, bare_ids);
    // The vector index rightly lacks it (nothing to index), so only storage is at fault.
    EXPECT_TRUE(report.indexes_consistent()) << format_report(report);
    auto outcome = repair(*engine);
    EXPECT_FALSE(outcome.repaired());
    ASSERT_FALSE(outcome.actions.empty());
    EXPECT_NE(outcome.actions.back().find("re-ingest"), std::string::npos);

    storage::DocumentRecord odd;
    odd.id = "odd";
    odd.content_hash = "01";
    storage::NewChunk short_vector;
    short_vector.text = "a chunk with a three-float vector";
    short_vector.embedding = {1.0f, 0.0f, 0.0f};
    ASSERT_TRUE(engine->storage().upsert_document(odd, {&short_vector, 1}, model));
    report = check(*engine);
    EXPECT_EQ(report.wrong_dimensions.count, 1u);
    EXPECT_NE(format_report(report).find("dimensions long"), std::string::npos);
    outcome = repair(*engine);
    EXPECT_FALSE(outcome.repaired());
    ASSERT_EQ(outcome.actions.size(), 1u);
    EXPECT_NE(outcome.actions[0].find("embed.dimensions"), std::string::npos);
}

TEST_F(ConsistencyCheckTest, DamagedDatabaseIsReportedAndNotRebuiltFrom) {
    {
        auto engine = open();
        ASSERT_TRUE(engine);
        ingest_three(*engine);
    }
    // An index whose declared column no longer matches its entries (integrity_check finds
    // the rows missing from it), and an embedding whose chunk does not exist
    // (foreign_key_check).
    run_sql(
        "PRAGMA writable_schema=ON;"
        "UPDATE sqlite_schema SET sql = 'CREATE INDEX documents_by_source ON documents(title)' "
        "WHERE name = 'documents_by_source';"
        "PRAGMA writable_schema=OFF;"
        "PRAGMA foreign_keys=OFF;"
        "INSERT INTO embeddings (chunk_id, model_id, vector) VALUES (777777, 'x', x'00');");
    auto engine = open(/*catch_up=*/false);
    ASSERT_TRUE(engine);
    auto report = check(*engine);
    EXPECT_FALSE(report.consistent());
    ASSERT_GE(report.integrity_problems.size(), 2u);
    bool index_problem = false;
    bool foreign_key_problem = false;
    for (const auto& problem : report.integrity_problems) {
        index_problem |= problem.find("documents_by_source") != std::string::npos;
        foreign_key_problem |= problem.find("embeddings row") != std::string::npos;
    }
    EXPECT_TRUE(index_problem) << format_report(report);
    EXPECT_TRUE(foreign_key_problem) << format_report(report);
    auto json = report_to_json(report);
    EXPECT_FALSE(json.at("storage").at("consistent").as_bool());

    auto outcome = repair(*engine);
    EXPECT_FALSE(outcome.repaired());
    ASSERT_EQ(outcome.actions.size(), 1u);
    EXPECT_NE(outcome.actions[0].find("backup"), std::string::npos);
}

}  // namespace
}  // namespace ragd::pipeline
