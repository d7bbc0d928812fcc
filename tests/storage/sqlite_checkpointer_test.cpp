// WAL checkpoints on their own thread (storage/sqlite_checkpointer.hpp): a watched writer's
// commits past the threshold wake the thread, which copies the WAL back into the database.
#include "storage/sqlite_checkpointer.hpp"

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "storage_test_support.hpp"

namespace ragd::storage::sqlite {
namespace {

using storage::testing::TempDir;

std::unique_ptr<Connection> open_connection(const std::string& path) {
    auto conn = Connection::open(path, 5000, /*durable_commits=*/false, 0);
    EXPECT_TRUE(conn) << conn.error().detail;
    return conn ? std::move(*conn) : nullptr;
}

/// `commits` transactions of `rows_per_commit` rows of about a page each.
void write_pages(Connection& writer, int commits, int rows_per_commit) {
    const std::string blob(3000, 'x');  // about one page per row
    for (int commit = 0; commit < commits; ++commit) {
        ASSERT_TRUE(writer.exec("BEGIN IMMEDIATE"));
        for (int row = 0; row < rows_per_commit; ++row) {
            ASSERT_TRUE(writer.exec(("INSERT INTO t(v) VALUES ('" + blob + "')").c_str()));
        }
        ASSERT_TRUE(writer.exec("COMMIT"));
    }
}

TEST(SqliteCheckpointer, CommitsPastTheThresholdAreCheckpointedByTheThread) {
    TempDir dir;
    const std::string path = (dir.path() / "t.sqlite").string();
    auto writer = open_connection(path);
    ASSERT_TRUE(writer);
    ASSERT_TRUE(writer->exec("PRAGMA journal_mode=WAL"));
    ASSERT_TRUE(writer->exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)"));
    Checkpointer checkpointer(open_connection(path));
    checkpointer.watch(*writer);

    // Below the threshold: nothing to do.
    write_pages(*writer, 5, 100);
    EXPECT_EQ(checkpointer.checkpoints(), 0U);
    // Past it: the thread checkpoints, and the database file grows with the copied pages.
    write_pages(*writer, 10, 100);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (checkpointer.checkpoints() == 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_GE(checkpointer.checkpoints(), 1U);
    EXPECT_GT(std::filesystem::file_size(path), 1000U * 4096U);
    auto count = writer->prepare("SELECT count(*) FROM t");
    ASSERT_TRUE(count);
    Cursor rows(*writer, *count);
    auto has = rows.step("counting");
    ASSERT_TRUE(has && *has);
    EXPECT_EQ(rows.int64(0), 1500);
}

}  // namespace
}  // namespace ragd::storage::sqlite
