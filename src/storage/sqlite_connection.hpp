// Thin RAII over sqlite3: a connection with a prepared-statement cache, a statement cursor,
// a transaction guard, a connection pool, and the one place SQLite result codes become Errors.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <sqlite3.h>

#include "core/error.hpp"

namespace ragd::storage::sqlite {

class Checkpointer;

/// Maps a failed SQLite call to an Error: full disk and I/O → kIo, corruption → kCorrupt naming
/// `path`, busy → kUnavailable, constraint → kInvalidArgument, the rest → kInternal.
core::Error make_error(sqlite3* db, int rc, std::string_view what, const std::string& path);

/// One sqlite3 handle, used by one thread at a time (the pool hands it out per call).
class Connection {
public:
    /// Opens `path` and applies the per-connection pragmas.
    static core::Result<std::unique_ptr<Connection>> open(const std::string& path,
                                                          int busy_timeout_ms,
                                                          bool durable_commits,
                                                          std::int64_t max_db_bytes);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    sqlite3* handle() const { return db_; }
    const std::string& path() const { return path_; }

    /// The cached prepared statement for `sql`. `sql` must outlive the connection (a literal or a
    /// string owned by the caller for as long); it is the cache key.
    core::Result<sqlite3_stmt*> prepare(std::string_view sql);
    /// Runs statements without results (DDL, BEGIN, PRAGMA with no row).
    core::Result<void> exec(const char* sql);
    /// Builds an error for the last failure on this connection.
    core::Error error(int rc, std::string_view what) const {
        return make_error(db_, rc, what, path_);
    }

private:
    Connection(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

    sqlite3* db_;
    std::string path_;
    std::unordered_map<std::string_view, sqlite3_stmt*> statements_;
};

/// A cached statement in use: binds, steps, reads columns, and resets on destruction so the
/// statement does not keep a read snapshot open (which would stall WAL checkpoints).
class Cursor {
public:
    Cursor(Connection& conn, sqlite3_stmt* stmt) : conn_(&conn), stmt_(stmt) {}
    ~Cursor();
    Cursor(const Cursor&) = delete;
    Cursor& operator=(const Cursor&) = delete;

    void bind(int idx, std::int64_t value) { sqlite3_bind_int64(stmt_, idx, value); }
    void bind(int idx, std::string_view text) {
        sqlite3_bind_text(stmt_, idx, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
    }
    void bind_blob(int idx, const void* data, std::size_t bytes) {
        sqlite3_bind_blob(stmt_, idx, data, static_cast<int>(bytes), SQLITE_STATIC);
    }
    /// true: a row is available; false: done. Errors carry `what` in their detail.
    core::Result<bool> step(std::string_view what);

    std::int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
    std::string_view text(int col) const;
    std::string_view blob(int col) const;
    bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

private:
    Connection* conn_;
    sqlite3_stmt* stmt_;
};

/// BEGIN IMMEDIATE on construction; rolls back on destruction unless commit() succeeded.
/// Checks sqlite3_get_autocommit before rolling back: SQLite already rolled back on some
/// errors (SQLITE_FULL during COMMIT, for one) and a second ROLLBACK would itself fail.
class WriteTransaction {
public:
    explicit WriteTransaction(Connection& conn) : conn_(&conn) {}
    ~WriteTransaction();
    WriteTransaction(const WriteTransaction&) = delete;
    WriteTransaction& operator=(const WriteTransaction&) = delete;

    core::Result<void> begin();
    core::Result<void> commit();

private:
    Connection* conn_;
    bool open_ = false;
};

/// Connections handed out per call and returned afterwards; new ones are opened on demand, so
/// each concurrent caller has its own handle and WAL lets readers run beside the writer.
class ConnectionPool {
public:
    ConnectionPool(std::string path,
                   int busy_timeout_ms,
                   bool durable_commits,
                   std::int64_t max_db_bytes);
    ~ConnectionPool();
    ConnectionPool(const ConnectionPool&) = delete;
    ConnectionPool& operator=(const ConnectionPool&) = delete;

    class Lease {
    public:
        Lease(ConnectionPool* pool, std::unique_ptr<Connection> conn)
            : pool_(pool), conn_(std::move(conn)) {}
        Lease(Lease&&) = default;
        Lease& operator=(Lease&&) = delete;
        ~Lease() {
            if (conn_) {
                pool_->release(std::move(conn_));
            }
        }
        Connection& operator*() const { return *conn_; }
        Connection* operator->() const { return conn_.get(); }

    private:
        ConnectionPool* pool_;
        std::unique_ptr<Connection> conn_;
    };

    core::Result<Lease> acquire();
    /// Seeds the pool with an already-open connection (the one that ran the migrations).
    void release(std::unique_ptr<Connection> conn);
    const std::string& path() const { return path_; }
    /// From now on, WAL checkpoints run on a thread of their own (sqlite_checkpointer.hpp)
    /// rather than in the committing connection. Call once, before the pool is shared.
    core::Result<void> checkpoint_in_background();

private:
    /// Idle connections kept open; more may exist while many threads are inside calls.
    static constexpr std::size_t kMaxIdle = 8;

    std::string path_;
    int busy_timeout_ms_;
    bool durable_commits_;
    std::int64_t max_db_bytes_;
    // Before idle_: the connections it watches close first, its own last.
    std::unique_ptr<Checkpointer> checkpointer_;
    std::mutex mutex_;
    std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mutex_ (only touched inside
                                                     // acquire/release, next to the lock)
};

}  // namespace ragd::storage::sqlite
