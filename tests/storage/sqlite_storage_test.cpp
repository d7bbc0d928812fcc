// What only the SQLite system of record does: its file in the data directory, its identity, and
// its error paths (corrupt file, newer schema, unopenable path, full database). The Storage
// contract it shares with PostgreSQL (atomic replace, cascades, the change log, encodings,
// readers beside a writer under WAL, reopening) is storage_contract_test.cpp.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include "storage/storage.hpp"
#include "storage_test_support.hpp"

namespace ragd::storage {
namespace {

namespace fs = std::filesystem;
using testing::make_chunks;
using testing::make_doc;
using testing::TempDir;

TEST(SqliteStorage, IdentityIsSqlite) {
    // storage.hpp: "sqlite" names a data directory's own database.
    TempDir dir;
    auto storage = open_sqlite_storage(dir.str());
    ASSERT_TRUE(storage) << storage.error().detail;
    auto identity = (*storage)->identity();
    ASSERT_TRUE(identity) << identity.error().detail;
    EXPECT_EQ(*identity, "sqlite");
}

TEST(SqliteStorage, CreatesMissingDataDirectory) {
    TempDir dir;
    const std::string nested = (dir.path() / "x" / "y").string();
    auto storage = open_sqlite_storage(nested);
    ASSERT_TRUE(storage) << storage.error().detail;
    EXPECT_TRUE(fs::exists(fs::path(nested) / "ragd.sqlite"));
}

TEST(SqliteStorage, NonSqliteFileIsCorrupt) {
    TempDir dir;
    {
        std::ofstream out(dir.path() / "ragd.sqlite", std::ios::binary);
        for (int idx = 0; idx < 200; ++idx) {
            out << "this is not a database, just some text that happens to be here\n";
        }
    }
    auto storage = open_sqlite_storage(dir.str());
    ASSERT_FALSE(storage);
    EXPECT_EQ(storage.error().code, core::ErrorCode::kCorrupt);
    EXPECT_NE(storage.error().detail.find("ragd.sqlite"), std::string::npos)
        << storage.error().detail;
}

TEST(SqliteStorage, NewerSchemaIsUnsupported) {
    TempDir dir;
    ASSERT_TRUE(open_sqlite_storage(dir.str()));
    // Bump user_version behind storage's back by patching the header (offset 60, big-endian).
    {
        std::fstream file(dir.path() / "ragd.sqlite",
                          std::ios::in | std::ios::out | std::ios::binary);
        ASSERT_TRUE(file);
        file.seekp(60);
        const char version[4] = {0, 0, 0, 99};
        file.write(version, 4);
    }
    auto storage = open_sqlite_storage(dir.str());
    ASSERT_FALSE(storage);
    EXPECT_EQ(storage.error().code, core::ErrorCode::kUnsupported) << storage.error().detail;
}

TEST(SqliteStorage, UnopenablePathsAreIo) {
    TempDir dir;
    // A data_dir that is a regular file cannot become a directory, root or not.
    {
        std::ofstream out(dir.path() / "file");
        out << "x";
    }
    auto on_file = open_sqlite_storage((dir.path() / "file").string());
    ASSERT_FALSE(on_file);
    EXPECT_EQ(on_file.error().code, core::ErrorCode::kIo);
    EXPECT_NE(on_file.error().detail.find("file"), std::string::npos);

    // ragd.sqlite being a directory: the directory exists, the database cannot be opened.
    fs::create_directories(dir.path() / "d" / "ragd.sqlite");
    auto on_dir = open_sqlite_storage((dir.path() / "d").string());
    ASSERT_FALSE(on_dir);
    EXPECT_EQ(on_dir.error().code, core::ErrorCode::kIo) << on_dir.error().detail;
}

TEST(SqliteStorage, ReadOnlyDirectoryIsIo) {
    TempDir dir;
    fs::permissions(dir.path(),
                    fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                        fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec);
    auto open_fails_with_io = [&dir] {
        auto storage = open_sqlite_storage(dir.str());
        return !storage && storage.error().code == core::ErrorCode::kIo;
    };
    if (::geteuid() != 0) {
        EXPECT_TRUE(open_fails_with_io());
        return;
    }
    // Root ignores directory permissions (and CI runs as root): check as `nobody`, in a child
    // process, so that this process keeps its privileges.
    EXPECT_EXIT(
        {
            if (::setgid(65534) != 0 || ::setuid(65534) != 0) {
                std::_Exit(2);
            }
            std::_Exit(open_fails_with_io() ? 0 : 1);
        },
        ::testing::ExitedWithCode(0),
        "");
}

TEST(SqliteStorage, FullDatabaseFailsWithIoAndWritesNothing) {
    TempDir dir;
    SqliteOptions options;
    options.max_db_bytes = 256 * 1024;
    auto storage = open_sqlite_storage(dir.str(), options);
    ASSERT_TRUE(storage) << storage.error().detail;
    auto& s = **storage;
    core::Result<UpsertOutcome> last = UpsertOutcome{};
    int written = 0;
    for (; written < 200; ++written) {
        last = s.upsert_document(
            make_doc("d" + std::to_string(written), "h"), make_chunks(4, 256), "m");
        if (!last) {
            break;
        }
    }
    ASSERT_FALSE(last) << "the size cap was never hit";
    EXPECT_EQ(last.error().code, core::ErrorCode::kIo) << last.error().detail;
    EXPECT_NE(last.error().detail.find("full"), std::string::npos) << last.error().detail;
    // The failed document left nothing behind, and the earlier ones are intact.
    const std::string failed_id = "d" + std::to_string(written);
    EXPECT_FALSE(s.get_document(failed_id)->has_value());
    EXPECT_TRUE(s.chunks_of(failed_id)->empty());
    auto stats = s.stats();
    ASSERT_TRUE(stats);
    EXPECT_EQ(stats->documents, written);
    EXPECT_EQ(stats->chunks, written * 4);
    EXPECT_EQ(stats->last_seq, written);
    // Deleting frees space; the connection is still usable after the failure.
    ASSERT_TRUE(s.delete_document("d0"));
}

// A document that fails mid-write inside a group because the database is full (SQLite then
// rolls the whole transaction back, and the group is written again one document at a time)
// leaves nothing behind; the group's other documents are stored, before and after it.
TEST(SqliteStorage, FullDatabaseInAGroupWriteFailsOnlyThatDocument) {
    TempDir dir;
    SqliteOptions options;
    options.max_db_bytes = 512 * 1024;
    auto storage = open_sqlite_storage(dir.str(), options);
    ASSERT_TRUE(storage) << storage.error().detail;
    auto& s = **storage;
    const DocumentRecord before = make_doc("before", "h");
    const DocumentRecord huge = make_doc("huge", "h");
    const DocumentRecord after = make_doc("after", "h");
    auto small = make_chunks(2, 16);
    auto big = make_chunks(64, 16);
    for (auto& chunk : big) {
        chunk.text.assign(16 * 1024, 'x');  // 1 MiB in all: over the cap
    }
    const std::vector<DocumentWrite> writes{{&before, small}, {&huge, big}, {&after, small}};
    auto outcomes = s.upsert_documents(writes, "m", OnFailure::kGoOn);
    ASSERT_EQ(outcomes.size(), 3U);
    ASSERT_TRUE(outcomes[0]) << outcomes[0].error().detail;
    ASSERT_FALSE(outcomes[1]);
    EXPECT_EQ(outcomes[1].error().code, core::ErrorCode::kIo) << outcomes[1].error().detail;
    ASSERT_TRUE(outcomes[2]) << outcomes[2].error().detail;
    EXPECT_FALSE(s.get_document("huge")->has_value());
    EXPECT_TRUE(s.chunks_of("huge")->empty());
    EXPECT_EQ(s.chunks_of("before")->size(), 2U);
    EXPECT_EQ(s.chunks_of("after")->size(), 2U);
    auto stats = s.stats();
    ASSERT_TRUE(stats);
    EXPECT_EQ(stats->documents, 2);
    EXPECT_EQ(stats->chunks, 4);
    EXPECT_EQ(stats->last_seq, 2);
    EXPECT_EQ(outcomes[2]->seq, 2);
    auto problems = s.verify_integrity(true);
    ASSERT_TRUE(problems);
    EXPECT_TRUE(problems->empty());
}

// A statement that fails alone (here a trigger the test adds aborts the second chunk of "bad")
// leaves the transaction open: the savepoint takes back the document's row and first chunk, and
// the documents around it commit.
TEST(SqliteStorage, DocumentFailingMidWriteInAGroupIsRolledBackAlone) {
    TempDir dir;
    auto storage = open_sqlite_storage(dir.str());
    ASSERT_TRUE(storage) << storage.error().detail;
    {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open((dir.path() / "ragd.sqlite").c_str(), &db), SQLITE_OK);
        char* message = nullptr;
        const int rc = sqlite3_exec(db,
                                    "CREATE TRIGGER fail_bad BEFORE INSERT ON chunks WHEN "
                                    "NEW.document_id = 'bad' AND NEW.ordinal = 1 BEGIN SELECT "
                                    "RAISE(ABORT, 'refused by the test'); END",
                                    nullptr,
                                    nullptr,
                                    &message);
        EXPECT_EQ(rc, SQLITE_OK) << (message != nullptr ? message : "");
        sqlite3_free(message);
        sqlite3_close(db);
    }
    auto& s = **storage;
    const DocumentRecord before = make_doc("before", "h");
    const DocumentRecord bad = make_doc("bad", "h");
    const DocumentRecord after = make_doc("after", "h");
    auto chunks = make_chunks(3, 8);
    const std::vector<DocumentWrite> writes{{&before, chunks}, {&bad, chunks}, {&after, chunks}};
    auto outcomes = s.upsert_documents(writes, "m", OnFailure::kGoOn);
    ASSERT_EQ(outcomes.size(), 3U);
    ASSERT_TRUE(outcomes[0]) << outcomes[0].error().detail;
    ASSERT_FALSE(outcomes[1]);
    EXPECT_NE(outcomes[1].error().detail.find("refused by the test"), std::string::npos)
        << outcomes[1].error().detail;
    ASSERT_TRUE(outcomes[2]) << outcomes[2].error().detail;
    EXPECT_FALSE(s.get_document("bad")->has_value());
    EXPECT_TRUE(s.chunks_of("bad")->empty());
    auto stats = s.stats();
    ASSERT_TRUE(stats);
    EXPECT_EQ(stats->documents, 2);
    EXPECT_EQ(stats->chunks, 6);
    EXPECT_EQ(stats->embeddings, 6);
    EXPECT_EQ(stats->last_seq, 2);
    EXPECT_EQ(outcomes[0]->seq, 1);
    EXPECT_EQ(outcomes[2]->seq, 2);

    // Stopping at that failure: "before" is written again (unchanged), nothing after "bad".
    const DocumentRecord later = make_doc("later", "h");
    const std::vector<DocumentWrite> stopping{{&before, chunks}, {&bad, chunks}, {&later, chunks}};
    auto stopped = s.upsert_documents(stopping, "m", OnFailure::kStop);
    ASSERT_EQ(stopped.size(), 2U);
    ASSERT_TRUE(stopped[0]);
    EXPECT_EQ(stopped[0]->status, UpsertStatus::kUnchanged);
    EXPECT_FALSE(stopped[1]);
    EXPECT_FALSE(s.get_document("later")->has_value());
    EXPECT_FALSE(s.get_document("bad")->has_value());
}

// Manual throughput check (not run by ctest): 5,000 documents of 5 chunks with 512-dim
// embeddings. Run: sqlite_storage_test --gtest_also_run_disabled_tests --gtest_filter=*Bulk*
void bulk_upsert(bool durable) {
    TempDir dir;
    SqliteOptions options;
    options.durable_commits = durable;
    auto storage = open_sqlite_storage(dir.str(), options);
    ASSERT_TRUE(storage);
    constexpr int kDocs = 5'000;
    auto chunks = make_chunks(5, 512);
    for (auto& chunk : chunks) {
        chunk.text.assign(1'200, 'x');  // ~300 tokens, the default chunk size
    }
    const auto start = std::chrono::steady_clock::now();
    for (int idx = 0; idx < kDocs; ++idx) {
        auto r =
            (*storage)->upsert_document(make_doc("doc-" + std::to_string(idx), "h"), chunks, "m");
        ASSERT_TRUE(r) << r.error().detail;
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("durable_commits=%d: %d docs in %.2f s = %.0f docs/s, db %.1f MiB\n",
                durable,
                kDocs,
                seconds,
                kDocs / seconds,
                static_cast<double>((*storage)->stats()->bytes) / (1 << 20));
}

TEST(SqliteStorage, DISABLED_BulkUpsertThroughputDurable) {
    bulk_upsert(true);
}
TEST(SqliteStorage, DISABLED_BulkUpsertThroughputNormal) {
    bulk_upsert(false);
}

}  // namespace
}  // namespace ragd::storage
