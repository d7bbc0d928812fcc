// The embedded system of record: Storage over one SQLite file in WAL mode. One document write is
// one transaction, so a crash leaves either the old or the new version, never a mix.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <system_error>
#include <unordered_map>
#include <unordered_set>

#include <boost/json.hpp>

#include "storage/record_codec.hpp"
#include "storage/sqlite_connection.hpp"
#include "storage/storage.hpp"
#include "storage/vector_codec.hpp"

namespace ragd::storage {

namespace {

using sqlite::Connection;
using sqlite::ConnectionPool;
using sqlite::Cursor;
using sqlite::WriteTransaction;

constexpr const char* kFileName = "ragd.sqlite";
/// get_chunks binds at most this many ids per statement (SQLite's default limit is 32766; 256
/// keeps statements small and the set of cached batch sizes short).
constexpr std::size_t kMaxIdsPerBatch = 256;

// Migrations: kMigrations[v] takes a database at user_version v to v + 1. Append, never edit.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE documents (
    id           TEXT PRIMARY KEY,
    collection   TEXT NOT NULL,
    source       TEXT NOT NULL,
    title        TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    metadata     TEXT NOT NULL DEFAULT '{}',
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX documents_by_source ON documents(source);
-- AUTOINCREMENT so a deleted chunk's id is never handed out again: ids are vector index labels.
CREATE TABLE chunks (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id  TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ordinal      INTEGER NOT NULL,
    text         TEXT NOT NULL,
    heading_path TEXT NOT NULL DEFAULT '[]',
    source_begin INTEGER NOT NULL,
    source_end   INTEGER NOT NULL,
    UNIQUE (document_id, ordinal)  -- also the chunks-by-document index
);
CREATE TABLE embeddings (
    chunk_id INTEGER NOT NULL REFERENCES chunks(id) ON DELETE CASCADE,
    model_id TEXT NOT NULL,
    vector   BLOB NOT NULL,  -- little-endian float32
    PRIMARY KEY (chunk_id, model_id)
) WITHOUT ROWID;
CREATE TABLE changes (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('upsert', 'delete')),
    at          INTEGER NOT NULL,
    -- JSON array of the chunk ids this change removed, so index catch-up can drop them
    -- without a chunk -> document mapping of its own.
    removed_chunk_ids TEXT NOT NULL DEFAULT '[]'
);
)sql",
};
static_assert(std::size(kMigrations) == kSqliteSchemaVersion);

// ---- SQL (string literals: their addresses and contents key the per-connection cache) ----
constexpr std::string_view kSelectHash = "SELECT content_hash FROM documents WHERE id = ?1";
constexpr std::string_view kUpsertDocument =
    "INSERT INTO documents (id, collection, source, title, content_hash, metadata, created_at, "
    "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) ON CONFLICT (id) DO UPDATE SET "
    "collection = excluded.collection, source = excluded.source, title = excluded.title, "
    "content_hash = excluded.content_hash, metadata = excluded.metadata, "
    "updated_at = excluded.updated_at";
constexpr std::string_view kDeleteChunksOf = "DELETE FROM chunks WHERE document_id = ?1";
constexpr std::string_view kInsertChunk =
    "INSERT INTO chunks (document_id, ordinal, text, heading_path, source_begin, source_end) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
// The vector blob is int8 or float32 as storage/vector_codec.hpp lays out (the migration's
// "little-endian float32" comment predates int8; migrations are never edited).
constexpr std::string_view kInsertEmbedding =
    "INSERT INTO embeddings (chunk_id, model_id, vector) VALUES (?1, ?2, ?3)";
constexpr std::string_view kInsertChange =
    "INSERT INTO changes (document_id, kind, at, removed_chunk_ids) VALUES (?1, ?2, ?3, ?4)";
constexpr std::string_view kDeleteDocument = "DELETE FROM documents WHERE id = ?1";
constexpr std::string_view kSelectDocument =
    "SELECT d.id, d.collection, d.source, d.title, d.content_hash, d.metadata, d.created_at, "
    "d.updated_at, (SELECT count(*) FROM chunks c WHERE c.document_id = d.id) FROM documents d "
    "WHERE d.id = ?1";
constexpr std::string_view kListDocuments =
    "SELECT d.id, d.collection, d.source, d.title, d.content_hash, d.metadata, d.created_at, "
    "d.updated_at, (SELECT count(*) FROM chunks c WHERE c.document_id = d.id) FROM documents d "
    "ORDER BY d.id LIMIT ?1 OFFSET ?2";
constexpr std::string_view kChunksOf =
    "SELECT id, document_id, ordinal, text, heading_path, source_begin, source_end FROM chunks "
    "WHERE document_id = ?1 ORDER BY ordinal";
constexpr std::string_view kChunkIdsOf =
    "SELECT id FROM chunks WHERE document_id = ?1 ORDER BY ordinal";
// Indexable rows: chunk columns 0-6, then title, source, collection, metadata, vector.
#define RAGD_INDEXABLE_SELECT                                                                 \
    "SELECT c.id, c.document_id, c.ordinal, c.text, c.heading_path, c.source_begin, "         \
    "c.source_end, d.title, d.source, d.collection, d.metadata, e.vector FROM chunks c JOIN " \
    "documents d ON d.id = c.document_id LEFT JOIN embeddings e ON e.chunk_id = c.id AND "    \
    "e.model_id = ?1 "
constexpr std::string_view kIndexableOf =
    RAGD_INDEXABLE_SELECT "WHERE c.document_id = ?2 ORDER BY c.ordinal";
constexpr std::string_view kIndexableAll = RAGD_INDEXABLE_SELECT "ORDER BY c.id";
constexpr std::string_view kChangesSince =
    "SELECT seq, document_id, kind, removed_chunk_ids FROM changes WHERE seq > ?1 ORDER BY seq "
    "LIMIT ?2";
constexpr std::string_view kLastSeq = "SELECT coalesce(max(seq), 0) FROM changes";
// The pragmas' row limit matches kMaxIntegrityProblems (asserted below).
constexpr std::string_view kIntegrityCheck = "PRAGMA integrity_check(100)";
constexpr std::string_view kQuickCheck = "PRAGMA quick_check(100)";
constexpr std::string_view kForeignKeyCheck = "PRAGMA foreign_key_check";
static_assert(kMaxIntegrityProblems == 100);
constexpr std::string_view kCounts =
    "SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM chunks), "
    "(SELECT count(*) FROM embeddings), (SELECT coalesce(max(seq), 0) FROM changes)";

// ---- value encodings ----

std::string encode_ids(const std::vector<std::int64_t>& ids) {
    std::string json = "[";
    for (std::size_t idx = 0; idx < ids.size(); ++idx) {
        if (idx > 0) {
            json.push_back(',');
        }
        json += std::to_string(ids[idx]);
    }
    json.push_back(']');
    return json;
}

core::Result<std::vector<std::int64_t>> decode_ids(std::string_view json, std::int64_t seq) {
    boost::system::error_code ec;
    boost::json::value value = boost::json::parse(json, ec);
    if (ec || !value.is_array()) {
        return core::fail(
            core::ErrorCode::kCorrupt,
            "removed_chunk_ids of change " + std::to_string(seq) + " is not a JSON array");
    }
    std::vector<std::int64_t> ids;
    ids.reserve(value.as_array().size());
    for (const auto& v : value.as_array()) {
        if (!v.is_int64()) {
            return core::fail(
                core::ErrorCode::kCorrupt,
                "removed_chunk_ids of change " + std::to_string(seq) + " holds a non-integer");
        }
        ids.push_back(v.as_int64());
    }
    return ids;
}

core::Result<DocumentRecord> read_document(const Cursor& row) {
    DocumentRecord doc;
    doc.id = row.text(0);
    doc.collection = row.text(1);
    doc.source = row.text(2);
    doc.title = row.text(3);
    doc.content_hash = row.text(4);
    auto metadata = decode_metadata(row.text(5), doc.id);
    if (!metadata) {
        return metadata.error();
    }
    doc.metadata = std::move(*metadata);
    doc.created_at_ms = row.int64(6);
    doc.updated_at_ms = row.int64(7);
    doc.chunk_count = row.int64(8);
    return doc;
}

core::Result<ChunkRecord> read_chunk(const Cursor& row) {
    ChunkRecord chunk;
    chunk.id = row.int64(0);
    chunk.document_id = row.text(1);
    chunk.ordinal = static_cast<std::uint32_t>(row.int64(2));
    chunk.text = row.text(3);
    auto headings = decode_strings(row.text(4), chunk.id);
    if (!headings) {
        return headings.error();
    }
    chunk.heading_path = std::move(*headings);
    chunk.source_begin = static_cast<std::uint64_t>(row.int64(5));
    chunk.source_end = static_cast<std::uint64_t>(row.int64(6));
    return chunk;
}

/// Reads indexable rows; remembers the last document's parsed metadata because rows of one
/// document usually arrive together and parsing JSON per chunk would dominate a rebuild.
class IndexableReader {
public:
    core::Result<IndexableChunk> read(const Cursor& row) {
        IndexableChunk out;
        auto chunk = read_chunk(row);
        if (!chunk) {
            return chunk.error();
        }
        out.chunk = std::move(*chunk);
        out.title = row.text(7);
        out.source = row.text(8);
        out.collection = row.text(9);
        if (!has_last_ || last_document_id_ != out.chunk.document_id) {
            auto metadata = decode_metadata(row.text(10), out.chunk.document_id);
            if (!metadata) {
                return metadata.error();
            }
            last_metadata_ = std::move(*metadata);
            last_document_id_ = out.chunk.document_id;
            has_last_ = true;
        }
        out.metadata = last_metadata_;
        if (!row.is_null(11)) {
            out.embedding = decode_embedding(row.blob(11));
        }
        return out;
    }

private:
    bool has_last_ = false;
    std::string last_document_id_;
    Metadata last_metadata_;
};

/// Same columns as RAGD_INDEXABLE_SELECT with a NULL vector: a query loading its passages asks
/// for no embedding, and leaving the embeddings table out saves an index lookup per row.
#define RAGD_PASSAGE_SELECT                                                               \
    "SELECT c.id, c.document_id, c.ordinal, c.text, c.heading_path, c.source_begin, "     \
    "c.source_end, d.title, d.source, d.collection, d.metadata, NULL FROM chunks c JOIN " \
    "documents d ON d.id = c.document_id "

/// SQL for an id batch of exactly `count` placeholders (?2..?count+1; ?1 is the model id, and
/// is absent when `with_embedding` is false).
std::string batch_sql(std::size_t count, bool with_embedding) {
    std::string sql = with_embedding ? RAGD_INDEXABLE_SELECT "WHERE c.id IN ("
                                     : RAGD_PASSAGE_SELECT "WHERE c.id IN (";
    for (std::size_t idx = 0; idx < count; ++idx) {
        sql += (idx == 0 ? "?" : ",?") + std::to_string(idx + 2);
    }
    sql += ")";
    return sql;
}

/// Batch sizes are rounded up to a power of two so each connection caches at most nine shapes.
std::size_t batch_shape(std::size_t count) {
    return std::min(kMaxIdsPerBatch, std::bit_ceil(count));
}

class SqliteStorage final : public Storage {
public:
    SqliteStorage(std::string path, const SqliteOptions& options)
        : batch_sql_(),
          pool_(std::move(path),
                options.busy_timeout_ms,
                options.durable_commits,
                options.max_db_bytes),
          now_ms_(options.now_ms ? options.now_ms : std::function<std::int64_t()>(system_now_ms)),
          embedding_encoding_(options.embedding_encoding) {
        for (std::size_t shape = 1; shape <= kMaxIdsPerBatch; shape *= 2) {
            batch_sql_.emplace(shape, batch_sql(shape, true));
            passage_sql_.emplace(shape, batch_sql(shape, false));
        }
    }

    ConnectionPool& pool() { return pool_; }

private:
    /// The writes of one document inside the caller's transaction.
    core::Result<UpsertOutcome> write_document(Connection& c,
                                               const DocumentRecord& doc,
                                               std::span<const NewChunk> chunks,
                                               const std::string& model_id) {
        // Checked inside the write lock so two writers cannot both decide "changed".
        auto existing = query_hash(c, doc.id);
        if (!existing) {
            return existing.error();
        }
        if (existing->has_value() && **existing == doc.content_hash && !doc.rewrite_unchanged) {
            auto ids = query_chunk_ids(c, doc.id);
            if (!ids) {
                return ids.error();
            }
            UpsertOutcome unchanged;
            unchanged.status = UpsertStatus::kUnchanged;
            unchanged.chunk_ids = std::move(*ids);
            return unchanged;
        }
        const std::int64_t now = now_ms_();
        UpsertOutcome outcome;
        outcome.status = existing->has_value() ? UpsertStatus::kReplaced : UpsertStatus::kCreated;
        if (auto r = write_document_row(c, doc, now); !r) {
            return r.error();
        }
        if (existing->has_value()) {
            auto old_ids = query_chunk_ids(c, doc.id);
            if (!old_ids) {
                return old_ids.error();
            }
            outcome.removed_chunk_ids = std::move(*old_ids);
            if (auto r = run(c, kDeleteChunksOf, doc.id, "deleting old chunks of '" + doc.id + "'");
                !r) {
                return r.error();
            }
        }
        outcome.chunk_ids.reserve(chunks.size());
        for (const NewChunk& chunk : chunks) {
            auto id = insert_chunk(c, doc.id, chunk, model_id, embedding_encoding_);
            if (!id) {
                return id.error();
            }
            outcome.chunk_ids.push_back(*id);
        }
        auto seq = log_change(c, doc.id, "upsert", now, outcome.removed_chunk_ids);
        if (!seq) {
            return seq.error();
        }
        outcome.seq = *seq;
        return outcome;
    }

    /// upsert_documents in one transaction. false when that transaction was lost or did not
    /// commit (nothing of the group is stored then), and the group must be written one by one.
    bool write_group(std::span<const DocumentWrite> writes,
                     const std::string& model_id,
                     OnFailure on_failure,
                     std::vector<core::Result<UpsertOutcome>>& outcomes) {
        auto conn = pool_.acquire();
        if (!conn) {
            return false;
        }
        Connection& c = **conn;
        WriteTransaction txn(c);
        if (!txn.begin()) {
            return false;
        }
        for (const DocumentWrite& write : writes) {
            if (auto valid = validate_upsert(*write.doc, write.chunks, model_id); !valid) {
                outcomes.emplace_back(valid.error());
                if (on_failure == OnFailure::kStop) {
                    break;
                }
                continue;
            }
            if (!c.exec("SAVEPOINT document")) {
                return false;
            }
            auto outcome = write_document(c, *write.doc, write.chunks, model_id);
            if (!outcome && sqlite3_get_autocommit(c.handle()) != 0) {
                return false;  // SQLite rolled the whole transaction back
            }
            if (!outcome && !c.exec("ROLLBACK TO document")) {
                return false;
            }
            if (!c.exec("RELEASE document")) {
                return false;
            }
            const bool failed = !outcome;
            outcomes.push_back(std::move(outcome));
            if (failed && on_failure == OnFailure::kStop) {
                break;
            }
        }
        return static_cast<bool>(txn.commit());
    }

public:
    core::Result<UpsertOutcome> upsert_document(const DocumentRecord& doc,
                                                std::span<const NewChunk> chunks,
                                                const std::string& model_id) override {
        if (auto r = validate_upsert(doc, chunks, model_id); !r) {
            return r.error();
        }
        auto conn = pool_.acquire();
        if (!conn) {
            return conn.error();
        }
        Connection& c = **conn;
        WriteTransaction txn(c);
        if (auto r = txn.begin(); !r) {
            return r.error();
        }
        auto outcome = write_document(c, doc, chunks, model_id);
        if (!outcome) {
            return outcome.error();
        }
        if (auto r = txn.commit(); !r) {
            return r.error();
        }
        return outcome;
    }

    // One transaction for the whole group, a savepoint per document: a document that fails is
    // rolled back alone. If the transaction itself is lost (SQLite rolls a whole transaction
    // back on some errors, e.g. SQLITE_FULL) or cannot commit, each document is written again
    // in a transaction of its own, so every outcome is what upsert_document would have given.
    std::vector<core::Result<UpsertOutcome>> upsert_documents(std::span<const DocumentWrite> writes,
                                                              const std::string& model_id,
                                                              OnFailure on_failure) override {
        if (writes.size() <= 1) {
            return upsert_one_by_one(*this, writes, model_id, on_failure);
        }
        std::vector<core::Result<UpsertOutcome>> outcomes;
        outcomes.reserve(writes.size());
        if (!write_group(writes, model_id, on_failure, outcomes)) {
            return upsert_one_by_one(*this, writes, model_id, on_failure);
        }
        return outcomes;
    }

    core::Result<bool> delete_document(const std::string& id) override {
        auto conn = pool_.acquire();
        if (!conn) {
            return conn.error();
        }
        Connection& c = **conn;
        WriteTransaction txn(c);
        if (auto r = txn.begin(); !r) {
            return r.error();
        }
        auto removed = query_chunk_ids(c, id);
        if (!removed) {
            return removed.error();
        }
        if (auto r = run(c, kDeleteDocument, id, "deleting document '" + id + "'"); !r) {
            return r.error();
        }
        if (sqlite3_changes(c.handle()) == 0) {
            return false;  // txn rolls back the empty transaction
        }
        if (auto seq = log_change(c, id, "delete", now_ms_(), *removed); !seq) {
            return seq.error();
        }
        if (auto r = txn.commit(); !r) {
            return r.error();
        }
        return true;
    }

    core::Result<std::optional<DocumentRecord>> get_document(const std::string& id) override {
        auto conn = pool_.acquire();
        if (!conn) {
            return conn.error();
        }
        auto stmt = (*conn)->prepare(kSelectDocument);
        if (!stmt) {
            return stmt.error();
        }
        Cursor row(**conn, *stmt);
        row.bind(1, id);
        auto has = row.step("reading document '" + id + "'");
        if (!has) {
            return has.error();
        }
        if (!*has) {
            return std::optional<DocumentRecord>{};
        }
        auto doc = read_document(row);
        if (!doc) {
            return doc.error();
        }
        return std::optional<DocumentRecord>(std::move(*doc));
    }

    core::Result<std::optional<std::string>> content_hash(const std::string& id) override {
        auto conn = pool_.acquire();
        if (!conn) {
            return conn.error();
        }
        return query_hash(**conn, id);
    }

    core::Result<std::vector<ChunkRecord>> chunks_of(const std::string& document_id) override {
        auto conn = pool_.acquire();
        if (!conn) {
            return conn.error();
        }
        auto stmt = (*conn)->prepare(kChunksOf);
        if (!stmt) {
            return stmt.error();
        }
        Cursor row(**conn, *stmt);
        row.bind(1, document_id);
        std::vector<ChunkRecord> out;
        const std::string what = "reading chunks of '" + document_id + "'";
        for (;;) {
            auto has = row.step(what);
            if (!has) {
                return has.error();
            }
            if (!*has) {
                break;
            }
            auto chunk = read_chunk(row);
            if (!chunk) {
                return chunk.error();
            }
            out.push_back(std::move(*chunk));
        }
        return out;
    }

    core::Result<std::vector<IndexableChunk>> get_chunks(std::span<const std::int64_t> ids,
                                                         const std::string& model_id) override {
        if (ids.empty()) {
            return std::vector<IndexableChunk>{};
        }
        auto conn = pool_.acquire();
        if (!conn) {
            return conn.error();
        }
        std::unordered_map<std::int64_t, IndexableChunk> found;
        found.reserve(ids.size());
        IndexableReader reader;
        for (std::size_t begin = 0; begin < ids.size(); begin += kMaxIdsPerBatch) {
            const auto batch = ids.subspan(begin, std::min(kMaxIdsPerBatch, ids.size() - begin));
            const bool with_embedding = !model_id.empty();
            const std::string& sql =
                (with_embedding ? batch_sql_ : passage_sql_).at(batch_shape(batch.size()));
            auto stmt = (*conn)->prepare(sql);
            if (!stmt) {
                return stmt.error();
            }
            Cursor row(**conn, *stmt);
            if (with_embedding) {
                row.bind(1, model_id);
            }
            const std::size_t shape = batch_shape(batch.size());
            for (std::size_t idx = 0; idx < shape; ++idx) {
                // Padding repeats the last id: IN () ignores duplicates.
                row.bind(static_cast<int>(idx + 2), batch[std::min(idx, batch.size() - 1)]);
            }
            for (;;) {
                auto has = row.step("reading chunks by id");
                if (!has) {
                    return has.error();
                }
                if (!*has) {
                    break;
                }
                auto chunk = reader.read(row);
                if (!chunk) {
                    return chunk.error();
                }
                const std::int64_t id = chunk->chunk.id;
                found.emplace(id, std::move(*chunk));
            }
        }
        return in_requested_order(ids, found);
    }

    core::Result<std::vector<IndexableChunk>> indexable_chunks_of(
        const std::string& document_id, const std::string& model_id) override {
        auto conn = pool_.acquire();
        if (!conn) {
            return conn.error();
        }
        auto stmt = (*conn)->prepare(kIndexableOf);
        if (!stmt) {
            return stmt.error();
        }
        Cursor row(**conn, *stmt);
        row.bind(1, model_id);
        row.bind(2, document_id);
        std::vector<IndexableChunk> out;
        IndexableReader reader;
        const std::string what = "reading chunks of '" + document_id + "'";
        for (;;) {
            auto has = row.step(what);
            if (!has) {
                return has.error();
            }
            if (!*has) {
                break;
            }
            auto chunk = reader.read(row);
            if (!chunk) {
                return chunk.error();
            }
            out.push_back(std::move(*chunk));
        }
        return out;
    }

    core::Result<void> for_each_chunk(
        const std::string& model_id,
        const std::function<void(const IndexableChunk&)>& visit) override {
        auto conn = pool_.acquire();
        if (!conn) {
            return conn.error();
        }
        auto stmt = (*conn)->prepare(kIndexableAll);
        if (!stmt) {
            return stmt.error();
        }
        // One statement is one read snapshot: the visitor sees a consistent state while writers
        // carry on in the WAL. Rows are decoded one at a time, never all held in memory.
        Cursor row(**conn, *stmt);
        row.bind(1, model_id);
        IndexableReader reader;
        for (;;) {
            auto has = row.step("scanning all chunks");
            if (!has) {
                return has.error();
            }
            if (!*has) {
                break;
            }
            auto chunk = reader.read(row);
            if (!chunk) {
                return chunk.error();
            }
            visit(*chunk);
        }
        return {};
    }

    core::Result<std::vector<Change>> changes_since(std::int64_t after,
                                                    std::size_t limit) override {
        auto conn = pool_.acquire();
        if (!conn) {
            return conn.error();
        }
        auto stmt = (*conn)->prepare(kChangesSince);
        if (!stmt) {
            return stmt.error();
        }
        Cursor row(**conn, *stmt);
        row.bind(1, after);
        row.bind(2,
                 static_cast<std::int64_t>(
                     std::min<std::size_t>(limit, std::numeric_limits<std::int64_t>::max())));
        std::vector<Change> out;
        for (;;) {
            auto has = row.step("reading changes");
            if (!has) {
                return has.error();
            }
            if (!*has) {
                break;
            }
            Change change;
            change.seq = row.int64(0);
            change.document_id = row.text(1);
            change.kind = row.text(2) == "delete" ? ChangeKind::kDelete : ChangeKind::kUpsert;
            auto removed = decode_ids(row.text(3), change.seq);
            if (!removed) {
                return removed.error();
            }
            change.removed_chunk_ids = std::move(*removed);
            out.push_back(std::move(change));
        }
        return out;
    }

    // The database lives inside the data directory with the indexes, so it cannot be swapped
    // for another behind their back except by hand (restores are caught by their sequence).
    core::Result<std::string> identity() override { return std::string("sqlite"); }

    core::Result<std::int64_t> last_seq() override {
        auto conn = pool_.acquire();
        if (!conn) {
            return conn.error();
        }
        auto stmt = (*conn)->prepare(kLastSeq);
        if (!stmt) {
            return stmt.error();
        }
        Cursor row(**conn, *stmt);
        auto has = row.step("reading the last change sequence");
        if (!has) {
            return has.error();
        }
        return *has ? row.int64(0) : 0;
    }

    core::Result<StorageStats> stats() override {
        auto conn = pool_.acquire();
        if (!conn) {
            return conn.error();
        }
        auto stmt = (*conn)->prepare(kCounts);
        if (!stmt) {
            return stmt.error();
        }
        StorageStats stats;
        {
            Cursor row(**conn, *stmt);
            auto has = row.step("counting rows");
            if (!has) {
                return has.error();
            }
            stats.documents = row.int64(0);
            stats.chunks = row.int64(1);
            stats.embeddings = row.int64(2);
            stats.last_seq = row.int64(3);
        }
        for (const char* suffix : {"", "-wal"}) {
            std::error_code ec;
            const auto bytes = std::filesystem::file_size(pool_.path() + suffix, ec);
            if (!ec) {
                stats.bytes += static_cast<std::int64_t>(bytes);
            }
        }
        return stats;
    }

    core::Result<std::vector<std::string>> verify_integrity(bool full) override {
        auto conn = pool_.acquire();
        if (!conn) {
            return conn.error();
        }
        std::vector<std::string> problems;
        // Damage bad enough that the check itself stops with SQLITE_CORRUPT is a finding too.
        auto record_corrupt = [&](const core::Error& error) {
            if (error.code != core::ErrorCode::kCorrupt) {
                return false;
            }
            problems.push_back(error.detail);
            return true;
        };
        {
            auto stmt = (*conn)->prepare(full ? kIntegrityCheck : kQuickCheck);
            if (!stmt) {
                return stmt.error();
            }
            Cursor row(**conn, *stmt);
            for (;;) {
                auto has = row.step(full ? "running integrity_check" : "running quick_check");
                if (!has) {
                    if (record_corrupt(has.error())) {
                        return problems;
                    }
                    return has.error();
                }
                if (!*has) {
                    break;
                }
                if (row.text(0) != "ok") {
                    problems.emplace_back(row.text(0));
                }
            }
        }
        auto stmt = (*conn)->prepare(kForeignKeyCheck);
        if (!stmt) {
            return stmt.error();
        }
        Cursor row(**conn, *stmt);
        while (problems.size() < kMaxIntegrityProblems) {
            auto has = row.step("running foreign_key_check");
            if (!has) {
                if (record_corrupt(has.error())) {
                    return problems;
                }
                return has.error();
            }
            if (!*has) {
                break;
            }
            // Columns: table, rowid, parent table, foreign key index.
            problems.push_back(std::string(row.text(0)) + " row " + std::to_string(row.int64(1)) +
                               " refers to a missing " + std::string(row.text(2)) + " row");
        }
        return problems;
    }

    core::Result<std::vector<DocumentRecord>> list_documents(std::size_t offset,
                                                             std::size_t limit) override {
        auto conn = pool_.acquire();
        if (!conn) {
            return conn.error();
        }
        auto stmt = (*conn)->prepare(kListDocuments);
        if (!stmt) {
            return stmt.error();
        }
        constexpr auto kMax = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
        Cursor row(**conn, *stmt);
        row.bind(1, static_cast<std::int64_t>(std::min(limit, kMax)));
        row.bind(2, static_cast<std::int64_t>(std::min(offset, kMax)));
        std::vector<DocumentRecord> out;
        for (;;) {
            auto has = row.step("listing documents");
            if (!has) {
                return has.error();
            }
            if (!*has) {
                break;
            }
            auto doc = read_document(row);
            if (!doc) {
                return doc.error();
            }
            out.push_back(std::move(*doc));
        }
        return out;
    }

private:
    static core::Result<void> run(Connection& c,
                                  std::string_view sql,
                                  std::string_view arg,
                                  const std::string& what) {
        auto stmt = c.prepare(sql);
        if (!stmt) {
            return stmt.error();
        }
        Cursor cur(c, *stmt);
        cur.bind(1, arg);
        if (auto r = cur.step(what); !r) {
            return r.error();
        }
        return {};
    }

    static core::Result<std::optional<std::string>> query_hash(Connection& c,
                                                               const std::string& id) {
        auto stmt = c.prepare(kSelectHash);
        if (!stmt) {
            return stmt.error();
        }
        Cursor row(c, *stmt);
        row.bind(1, id);
        auto has = row.step("reading the content hash of '" + id + "'");
        if (!has) {
            return has.error();
        }
        if (!*has) {
            return std::optional<std::string>{};
        }
        return std::optional<std::string>(std::string(row.text(0)));
    }

    static core::Result<std::vector<std::int64_t>> query_chunk_ids(Connection& c,
                                                                   const std::string& id) {
        auto stmt = c.prepare(kChunkIdsOf);
        if (!stmt) {
            return stmt.error();
        }
        Cursor row(c, *stmt);
        row.bind(1, id);
        std::vector<std::int64_t> ids;
        for (;;) {
            auto has = row.step("reading chunk ids of '" + id + "'");
            if (!has) {
                return has.error();
            }
            if (!*has) {
                break;
            }
            ids.push_back(row.int64(0));
        }
        return ids;
    }

    static core::Result<void> write_document_row(Connection& c,
                                                 const DocumentRecord& doc,
                                                 std::int64_t now) {
        auto stmt = c.prepare(kUpsertDocument);
        if (!stmt) {
            return stmt.error();
        }
        const std::string metadata = encode_metadata(doc.metadata);
        Cursor cur(c, *stmt);
        cur.bind(1, doc.id);
        cur.bind(2, doc.collection);
        cur.bind(3, doc.source);
        cur.bind(4, doc.title);
        cur.bind(5, doc.content_hash);
        cur.bind(6, metadata);
        cur.bind(7, now);
        if (auto r = cur.step("writing document '" + doc.id + "'"); !r) {
            return r.error();
        }
        return {};
    }

    static core::Result<std::int64_t> insert_chunk(Connection& c,
                                                   const std::string& document_id,
                                                   const NewChunk& chunk,
                                                   const std::string& model_id,
                                                   EmbeddingEncoding encoding) {
        auto stmt = c.prepare(kInsertChunk);
        if (!stmt) {
            return stmt.error();
        }
        const std::string headings = encode_strings(chunk.heading_path);
        std::int64_t id = 0;
        {
            Cursor cur(c, *stmt);
            cur.bind(1, document_id);
            cur.bind(2, static_cast<std::int64_t>(chunk.ordinal));
            cur.bind(3, chunk.text);
            cur.bind(4, headings);
            cur.bind(5, static_cast<std::int64_t>(chunk.source_begin));
            cur.bind(6, static_cast<std::int64_t>(chunk.source_end));
            if (auto r = cur.step("writing chunk " + std::to_string(chunk.ordinal) + " of '" +
                                  document_id + "'");
                !r) {
                return r.error();
            }
            id = sqlite3_last_insert_rowid(c.handle());
        }
        if (chunk.embedding.empty()) {
            return id;
        }
        auto emb = c.prepare(kInsertEmbedding);
        if (!emb) {
            return emb.error();
        }
        const std::string vector = encode_embedding(chunk.embedding, encoding);
        Cursor cur(c, *emb);
        cur.bind(1, id);
        cur.bind(2, model_id);
        cur.bind_blob(3, vector.data(), vector.size());
        if (auto r = cur.step("writing the embedding of chunk " + std::to_string(chunk.ordinal) +
                              " of '" + document_id + "'");
            !r) {
            return r.error();
        }
        return id;
    }

    static core::Result<std::int64_t> log_change(Connection& c,
                                                 const std::string& document_id,
                                                 std::string_view kind,
                                                 std::int64_t now,
                                                 const std::vector<std::int64_t>& removed) {
        auto stmt = c.prepare(kInsertChange);
        if (!stmt) {
            return stmt.error();
        }
        Cursor cur(c, *stmt);
        cur.bind(1, document_id);
        cur.bind(2, kind);
        cur.bind(3, now);
        const std::string removed_json = encode_ids(removed);
        cur.bind(4, removed_json);
        if (auto r = cur.step("logging a change of '" + document_id + "'"); !r) {
            return r.error();
        }
        return sqlite3_last_insert_rowid(c.handle());
    }

    /// Immutable after construction, so connections may key their caches by these strings;
    /// declared before pool_ so it outlives every cached statement.
    std::unordered_map<std::size_t, std::string> batch_sql_;    ///< by shape, with embeddings
    std::unordered_map<std::size_t, std::string> passage_sql_;  ///< by shape, without
    ConnectionPool pool_;
    std::function<std::int64_t()> now_ms_;
    EmbeddingEncoding embedding_encoding_;
};

core::Result<void> migrate(Connection& c) {
    WriteTransaction txn(c);
    if (auto r = txn.begin(); !r) {
        return r.error();
    }
    int version = 0;
    {
        auto stmt = c.prepare("PRAGMA user_version");
        if (!stmt) {
            return stmt.error();
        }
        Cursor row(c, *stmt);
        auto has = row.step("reading the schema version");
        if (!has) {
            return has.error();
        }
        version = static_cast<int>(row.int64(0));
    }
    if (version > kSqliteSchemaVersion) {
        return core::fail(core::ErrorCode::kUnsupported,
                          "database '" + c.path() + "' has schema version " +
                              std::to_string(version) + ", newer than this ragd supports (" +
                              std::to_string(kSqliteSchemaVersion) + ")");
    }
    if (version == kSqliteSchemaVersion) {
        return {};
    }
    for (int step = version; step < kSqliteSchemaVersion; ++step) {
        if (auto r = c.exec(kMigrations[step]); !r) {
            return r.error();
        }
    }
    const std::string set_version = "PRAGMA user_version=" + std::to_string(kSqliteSchemaVersion);
    if (auto r = c.exec(set_version.c_str()); !r) {
        return r.error();
    }
    return txn.commit();
}

}  // namespace

core::Result<std::unique_ptr<Storage>> open_sqlite_storage(const std::string& data_dir) {
    return open_sqlite_storage(data_dir, SqliteOptions{});
}

core::Result<std::unique_ptr<Storage>> open_sqlite_storage(const std::string& data_dir,
                                                           const SqliteOptions& options) {
    std::error_code ec;
    std::filesystem::create_directories(data_dir, ec);
    if (ec) {
        return core::fail(core::ErrorCode::kIo,
                          "cannot create data directory '" + data_dir + "': " + ec.message());
    }
    const std::string path = (std::filesystem::path(data_dir) / kFileName).string();
    auto conn = Connection::open(
        path, options.busy_timeout_ms, options.durable_commits, options.max_db_bytes);
    if (!conn) {
        return conn.error();
    }
    // journal_mode is persistent in the file, so setting it once here covers every connection.
    {
        auto stmt = (*conn)->prepare("PRAGMA journal_mode=WAL");
        if (!stmt) {
            return stmt.error();
        }
        Cursor row(**conn, *stmt);
        auto has = row.step("switching to WAL mode");
        if (!has) {
            return has.error();
        }
        if (!*has || row.text(0) != "wal") {
            return core::fail(core::ErrorCode::kIo,
                              "database '" + path + "' could not be switched to WAL mode");
        }
    }
    if (auto r = migrate(**conn); !r) {
        return r.error();
    }
    auto storage = std::make_unique<SqliteStorage>(path, options);
    storage->pool().release(std::move(*conn));
    if (auto r = storage->pool().checkpoint_in_background(); !r) {
        return r.error();
    }
    return std::unique_ptr<Storage>(std::move(storage));
}

}  // namespace ragd::storage
