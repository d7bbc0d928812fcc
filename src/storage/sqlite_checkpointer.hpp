// WAL checkpoints on a thread of their own. By default the committing connection checkpoints
// itself once the WAL passes 1,000 pages: it copies the pages back into the database and waits
// on two fsyncs (WAL, then database) before its commit returns. Here a commit that leaves the
// WAL that long only wakes this thread (a wal hook replaces SQLite's autocheckpoint), which
// checkpoints PASSIVE on its own connection while writers go on: a bulk ingest no longer sits
// idle on those fsyncs (~3 % of its time on one core, bench/README.md), nor does an API write
// that happens to cross the threshold. Should the thread fall far behind, a commit past
// kWalPagesInline checkpoints itself as before, so the WAL stays bounded.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stop_token>
#include <thread>

#include "storage/sqlite_connection.hpp"

namespace ragd::storage::sqlite {

class Checkpointer {
public:
    /// WAL pages after a commit that wake the thread: SQLite's own autocheckpoint threshold.
    static constexpr int kWalPages = 1000;
    /// WAL pages after a commit that make the committing connection checkpoint itself.
    static constexpr int kWalPagesInline = 16 * kWalPages;

    /// Starts the thread with `conn`, a connection of its own to the database.
    explicit Checkpointer(std::unique_ptr<Connection> conn);
    /// Stops the thread; the connection closes with it (the last one to close checkpoints the
    /// rest and removes the WAL, as SQLite does).
    ~Checkpointer();
    Checkpointer(const Checkpointer&) = delete;
    Checkpointer& operator=(const Checkpointer&) = delete;

    /// Makes `writer`'s commits wake this thread instead of checkpointing themselves.
    void watch(Connection& writer);
    /// Checkpoints the thread has finished (for tests).
    std::uint64_t checkpoints() const;

private:
    static int on_commit(void* self, sqlite3* db, const char* schema, int wal_pages);
    void request();
    void run(const std::stop_token& stop);

    std::unique_ptr<Connection> conn_;
    mutable std::mutex mutex_;
    std::condition_variable_any wake_;
    bool requested_ = false;         // guarded by mutex_
    std::uint64_t checkpoints_ = 0;  // guarded by mutex_
    std::jthread thread_;            // last: starts once the rest is constructed
};

}  // namespace ragd::storage::sqlite
