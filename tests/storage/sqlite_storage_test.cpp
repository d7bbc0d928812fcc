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
