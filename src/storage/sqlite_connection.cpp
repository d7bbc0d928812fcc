// SQLite plumbing for storage/: opening and configuring connections, the statement cache, and
// mapping result codes to ragd errors so callers see kIo / kCorrupt rather than raw numbers.
#include "storage/sqlite_connection.hpp"

#include <algorithm>
#include <mutex>
#include <string>

#include "storage/sqlite_checkpointer.hpp"

namespace ragd::storage::sqlite {

namespace {

constexpr std::int64_t kPageBytes = 4096;   // SQLite's default page size on Linux
constexpr int kStatementJournalBytes = -1;  // never spill to a file

}  // namespace

core::Error make_error(sqlite3* db, int rc, std::string_view what, const std::string& path) {
    const int primary = rc & 0xff;
    std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    std::string detail = std::string(what) + ": " + message + " (sqlite code " +
                         std::to_string(rc) + ", database '" + path + "')";
    switch (primary) {
        case SQLITE_FULL:
            return core::fail(core::ErrorCode::kIo,
                              std::string(what) + ": database or disk is full, nothing was " +
                                  "written (database '" + path + "')");
        case SQLITE_IOERR:
        case SQLITE_CANTOPEN:
        case SQLITE_READONLY:
        case SQLITE_PERM:
        case SQLITE_NOLFS:
            return core::fail(core::ErrorCode::kIo, std::move(detail));
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
            return core::fail(core::ErrorCode::kCorrupt,
                              "database file '" + path + "' is corrupt or not a SQLite database (" +
                                  std::string(what) + ": " + message + ")");
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
            return core::fail(core::ErrorCode::kUnavailable, std::move(detail));
        case SQLITE_CONSTRAINT:
            return core::fail(core::ErrorCode::kInvalidArgument, std::move(detail));
        default:
            return core::fail(core::ErrorCode::kInternal, std::move(detail));
    }
}

core::Result<std::unique_ptr<Connection>> Connection::open(const std::string& path,
                                                           int busy_timeout_ms,
                                                           bool durable_commits,
                                                           std::int64_t max_db_bytes) {
    // A write's statement journals (what SQLite keeps to undo one statement, or a savepoint, of
    // a longer transaction) stay in memory instead of spilling to a temporary file past 64 KiB:
    // that file was two-thirds of a bulk ingest's pwrite calls, and ~5 % of its time
    // (bench/README.md). A journal holds the pages one statement or savepoint changes, so it
    // is bounded by the largest document written. Process-wide, and only possible before SQLite
    // initializes: if something else used SQLite first, the default stays, which is slower.
    static std::once_flag configured;
    std::call_once(configured,
                   [] { sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, kStatementJournalBytes); });
    sqlite3* db = nullptr;
    // NOMUTEX: the pool guarantees one thread per connection at a time.
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
    if (rc != SQLITE_OK) {
        core::Error error = make_error(db, rc, "opening the database", path);
        sqlite3_close_v2(db);  // a handle is returned even on failure
        return error;
    }
    sqlite3_extended_result_codes(db, 1);
    std::unique_ptr<Connection> conn(new Connection(db, path));
    sqlite3_busy_timeout(db, busy_timeout_ms);
    // The first statement reads the header, so a file that is not a database fails here.
    if (auto r = conn->exec("PRAGMA foreign_keys=ON"); !r) {
        return r.error();
    }
    // FULL costs one WAL fsync per commit, i.e. per document (a document is one transaction).
    // Measured on the dev VM, 5,000 documents x 5 chunks x 512-dim: FULL 129 docs/s, NORMAL
    // 744 docs/s. NORMAL can lose the last commits on power loss (never consistency), so FULL
    // stays the default for API writes and a bulk loader may opt out via durable_commits.
    if (auto r =
            conn->exec(durable_commits ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
        !r) {
        return r.error();
    }
    // Reads through a memory map instead of one pread() per page: loading the top-k chunks of
    // a query was ~5 % of an uncached query's CPU in pread syscalls (bench/README.md). The
    // map is read-only (writes still go through write()); past 256 MiB SQLite reads as before.
    if (auto r = conn->exec("PRAGMA mmap_size=268435456"); !r) {
        return r.error();
    }
    if (max_db_bytes > 0) {
        const std::int64_t pages = std::max<std::int64_t>(1, max_db_bytes / kPageBytes);
        const std::string pragma = "PRAGMA max_page_count=" + std::to_string(pages);
        if (auto r = conn->exec(pragma.c_str()); !r) {
            return r.error();
        }
    }
    return conn;
}

Connection::~Connection() {
    for (auto& [sql, stmt] : statements_) {
        sqlite3_finalize(stmt);
    }
    sqlite3_close_v2(db_);
}

core::Result<sqlite3_stmt*> Connection::prepare(std::string_view sql) {
    if (auto it = statements_.find(sql); it != statements_.end()) {
        return it->second;
    }
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(
        db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
        return error(rc, "preparing a statement");
    }
    statements_.emplace(sql, stmt);
    return stmt;
}

core::Result<void> Connection::exec(const char* sql) {
    // sqlite3_exec steps every statement and discards rows, which suits pragmas that echo a value.
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) {
        return error(rc, std::string("running '") + sql + "'");
    }
    return {};
}

Cursor::~Cursor() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

core::Result<bool> Cursor::step(std::string_view what) {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) {
        return true;
    }
    if (rc == SQLITE_DONE) {
        return false;
    }
    return conn_->error(rc, what);
}

std::string_view Cursor::text(int col) const {
    const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    const int bytes = sqlite3_column_bytes(stmt_, col);
    return data == nullptr ? std::string_view{}
                           : std::string_view(data, static_cast<std::size_t>(bytes));
}

std::string_view Cursor::blob(int col) const {
    const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
    const int bytes = sqlite3_column_bytes(stmt_, col);
    return data == nullptr ? std::string_view{}
                           : std::string_view(data, static_cast<std::size_t>(bytes));
}

core::Result<void> WriteTransaction::begin() {
    if (auto r = conn_->exec("BEGIN IMMEDIATE"); !r) {
        return r.error();
    }
    open_ = true;
    return {};
}

core::Result<void> WriteTransaction::commit() {
    const int rc = sqlite3_exec(conn_->handle(), "COMMIT", nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) {
        return conn_->error(rc, "committing the transaction");
    }
    open_ = false;
    return {};
}

WriteTransaction::~WriteTransaction() {
    if (open_ && sqlite3_get_autocommit(conn_->handle()) == 0) {
        sqlite3_exec(conn_->handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
}

core::Result<ConnectionPool::Lease> ConnectionPool::acquire() {
    {
        std::lock_guard lock(mutex_);
        if (!idle_.empty()) {
            std::unique_ptr<Connection> conn = std::move(idle_.back());
            idle_.pop_back();
            return Lease(this, std::move(conn));
        }
    }
    // Opened outside the lock: opening touches the file system and may wait on busy_timeout.
    auto conn = Connection::open(path_, busy_timeout_ms_, durable_commits_, max_db_bytes_);
    if (!conn) {
        return conn.error();
    }
    if (checkpointer_) {
        checkpointer_->watch(**conn);
    }
    return Lease(this, std::move(*conn));
}

ConnectionPool::ConnectionPool(std::string path,
                               int busy_timeout_ms,
                               bool durable_commits,
                               std::int64_t max_db_bytes)
    : path_(std::move(path)),
      busy_timeout_ms_(busy_timeout_ms),
      durable_commits_(durable_commits),
      max_db_bytes_(max_db_bytes) {}

ConnectionPool::~ConnectionPool() = default;

core::Result<void> ConnectionPool::checkpoint_in_background() {
    auto conn = Connection::open(path_, busy_timeout_ms_, durable_commits_, max_db_bytes_);
    if (!conn) {
        return conn.error();
    }
    checkpointer_ = std::make_unique<Checkpointer>(std::move(*conn));
    std::lock_guard lock(mutex_);
    for (auto& idle : idle_) {
        checkpointer_->watch(*idle);
    }
    return {};
}

void ConnectionPool::release(std::unique_ptr<Connection> conn) {
    {
        std::lock_guard lock(mutex_);
        if (idle_.size() < kMaxIdle) {
            idle_.push_back(std::move(conn));
            return;
        }
    }
    // Past kMaxIdle conn closes here, outside the lock (closing may checkpoint the WAL), so the
    // pool shrinks back after a burst of concurrency.
}

}  // namespace ragd::storage::sqlite
