// The shared system of record: Storage over libpq, for several ragd replicas writing to one
// PostgreSQL. Same semantics as the SQLite backend (sqlite_storage.cpp); the differences are in
// how writers are serialized (advisory locks, below) and in the connection pool.
//
// Every query is a prepared statement with binary parameters and binary results (prepared once
// per connection, so the server parses and plans it once): values never touch the
// SQL text, text is sent with its length (so a NUL byte is rejected by the server instead of
// silently truncating the value), and bytea needs no escaping.
#include "storage/postgres_storage.hpp"

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <libpq-events.h>
#include <libpq-fe.h>
#include <poll.h>

#include "storage/record_codec.hpp"

namespace ragd::storage {

namespace {

// ---- locks ----
//
// Advisory lock keys ("ragd" in the high half). They are per database, so two ragd deployments
// in different databases of one server do not contend.
//
// kChangeSeqLock is what makes the change sequence gap-safe for tailers. A tailer reads
// changes_since(last_applied) and then moves last_applied to the largest seq it saw. If seq
// values came from a plain sequence, transaction A could draw 7, transaction B draw 8 and commit
// first, and a tailer reading in between would see 8, move past 7, and never see A's change.
// So every write transaction takes kChangeSeqLock right before it assigns seq = max(seq) + 1 and
// holds it until commit (xact locks are released only after the commit is visible): seqs are
// assigned in commit order and a tailer never sees a larger seq before a smaller one commits.
// The lock is taken as late as possible, after the document's rows are written, so writers of
// different documents only serialize for the last insert and the commit.
constexpr std::int64_t kSchemaLock = 0x7261676400000001;
constexpr std::int64_t kChangeSeqLock = 0x7261676400000002;
constexpr std::int64_t kDocumentLockClass = 0x72616764;
// Two writers of one document are serialized by a lock on (class, hashtext(id)) taken first in
// the transaction: the content-hash check and the replace must see the same document state, and
// a row lock cannot cover a document that does not exist yet. The two-int4 key space does not
// overlap the bigint one above; a hash collision only costs some waiting.

// Migrations: kMigrations[v] takes a database at schema version v to v + 1. Append, never edit.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE ragd_documents (
    id           TEXT PRIMARY KEY,
    collection   TEXT NOT NULL,
    source       TEXT NOT NULL,
    title        TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    metadata     JSONB NOT NULL DEFAULT '{}',
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX ragd_documents_by_source ON ragd_documents (source);
-- An identity sequence never hands an id out twice, even after rollbacks: ids are vector labels.
CREATE TABLE ragd_chunks (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    document_id  TEXT NOT NULL REFERENCES ragd_documents (id) ON DELETE CASCADE,
    ordinal      BIGINT NOT NULL,
    text         TEXT NOT NULL,
    heading_path JSONB NOT NULL DEFAULT '[]',
    source_begin BIGINT NOT NULL,
    source_end   BIGINT NOT NULL,
    UNIQUE (document_id, ordinal)
);
CREATE TABLE ragd_embeddings (
    chunk_id BIGINT NOT NULL REFERENCES ragd_chunks (id) ON DELETE CASCADE,
    model_id TEXT NOT NULL,
    vector   BYTEA NOT NULL,  -- int8 or float32 as storage/vector_codec.hpp lays it out
    PRIMARY KEY (chunk_id, model_id)
);
-- seq is assigned as max + 1 under an advisory lock (see kChangeSeqLock), not by a sequence.
CREATE TABLE ragd_changes (
    seq               BIGINT PRIMARY KEY,
    document_id       TEXT NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('upsert', 'delete')),
    at                BIGINT NOT NULL,
    removed_chunk_ids BIGINT[] NOT NULL DEFAULT '{}'
);
)sql",
};
static_assert(std::size(kMigrations) == kPostgresSchemaVersion);

// ---- SQL ----
constexpr const char* kCreateMeta =
    "CREATE TABLE IF NOT EXISTS ragd_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)";
constexpr const char* kCreateDatabaseId =
    "INSERT INTO ragd_meta (key, value) VALUES ('database_id', gen_random_uuid()::text) "
    "ON CONFLICT (key) DO NOTHING";
constexpr const char* kSelectDatabaseId = "SELECT value FROM ragd_meta WHERE key = 'database_id'";
constexpr const char* kSelectVersion = "SELECT value FROM ragd_meta WHERE key = 'schema_version'";
constexpr const char* kWriteVersion =
    "INSERT INTO ragd_meta (key, value) VALUES ('schema_version', $1) ON CONFLICT (key) DO "
    "UPDATE SET value = excluded.value";
constexpr const char* kLockDocument = "SELECT pg_advisory_xact_lock($1::integer, hashtext($2))";
// The hash plus the current chunk ids, one row per chunk (one row with a NULL id when none).
constexpr const char* kDocumentForWrite =
    "SELECT d.content_hash, c.id FROM ragd_documents d LEFT JOIN ragd_chunks c ON "
    "c.document_id = d.id WHERE d.id = $1 ORDER BY c.ordinal";
// The old chunks go in the same statement (their embeddings cascade).
constexpr const char* kUpsertDocument =
    "WITH dropped AS (DELETE FROM ragd_chunks WHERE document_id = $1) "
    "INSERT INTO ragd_documents (id, collection, source, title, content_hash, metadata, "
    "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $7) ON CONFLICT (id) DO "
    "UPDATE SET collection = excluded.collection, source = excluded.source, title = "
    "excluded.title, content_hash = excluded.content_hash, metadata = excluded.metadata, "
    "updated_at = excluded.updated_at";
// All chunks and their embeddings in one round trip: parallel arrays, one element per chunk
// (a NULL vector for a chunk without an embedding).
constexpr const char* kInsertChunks =
    "WITH input AS (SELECT * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[], "
    "$6::bigint[], $7::bytea[]) WITH ORDINALITY AS u(ord, body, headings, begin_at, end_at, vec, "
    "pos)), "
    "inserted AS (INSERT INTO ragd_chunks (document_id, ordinal, text, heading_path, "
    "source_begin, source_end) SELECT $1, ord, body, headings::jsonb, begin_at, end_at FROM "
    "input ORDER BY pos RETURNING id, ordinal), "
    "embedded AS (INSERT INTO ragd_embeddings (chunk_id, model_id, vector) SELECT inserted.id, "
    "$8, input.vec FROM inserted JOIN input ON input.ord = inserted.ordinal WHERE input.vec IS "
    "NOT NULL) "
    "SELECT id, ordinal FROM inserted";
constexpr const char* kLock = "SELECT pg_advisory_xact_lock($1)";
// max(seq) is read by a statement that starts after kChangeSeqLock was granted, so its snapshot
// includes the previous holder's commit.
constexpr const char* kInsertChange =
    "INSERT INTO ragd_changes (seq, document_id, kind, at, removed_chunk_ids) SELECT "
    "coalesce(max(seq), 0) + 1, $1, $2, $3, $4::bigint[] FROM ragd_changes RETURNING seq";
constexpr const char* kDeleteDocument = "DELETE FROM ragd_documents WHERE id = $1";
constexpr const char* kSelectHash = "SELECT content_hash FROM ragd_documents WHERE id = $1";
#define RAGD_DOCUMENT_SELECT                                                                       \
    "SELECT d.id, d.collection, d.source, d.title, d.content_hash, d.metadata::text, "             \
    "d.created_at, d.updated_at, (SELECT count(*) FROM ragd_chunks c WHERE c.document_id = d.id) " \
    "FROM ragd_documents d "
constexpr const char* kSelectDocument = RAGD_DOCUMENT_SELECT "WHERE d.id = $1";
constexpr const char* kListDocuments = RAGD_DOCUMENT_SELECT "ORDER BY d.id LIMIT $1 OFFSET $2";
constexpr const char* kChunksOf =
    "SELECT id, document_id, ordinal, text, heading_path::text, source_begin, source_end FROM "
    "ragd_chunks WHERE document_id = $1 ORDER BY ordinal";
// Indexable rows: chunk columns 0-6, then title, source, collection, metadata, vector.
#define RAGD_INDEXABLE_COLUMNS                                                              \
    "SELECT c.id, c.document_id, c.ordinal, c.text, c.heading_path::text, c.source_begin, " \
    "c.source_end, d.title, d.source, d.collection, d.metadata::text, "
#define RAGD_INDEXABLE_SELECT                                                              \
    RAGD_INDEXABLE_COLUMNS                                                                 \
    "e.vector FROM ragd_chunks c JOIN ragd_documents d ON d.id = c.document_id LEFT JOIN " \
    "ragd_embeddings e ON e.chunk_id = c.id AND e.model_id = $1 "
constexpr const char* kIndexableOf =
    RAGD_INDEXABLE_SELECT "WHERE c.document_id = $2 ORDER BY c.ordinal";
constexpr const char* kIndexableByIds = RAGD_INDEXABLE_SELECT "WHERE c.id = ANY($2::bigint[])";
// A query's passages need no embedding: leaving the table out saves a lookup per row.
constexpr const char* kPassagesByIds = RAGD_INDEXABLE_COLUMNS
    "NULL::bytea FROM ragd_chunks c JOIN ragd_documents d ON d.id = c.document_id WHERE c.id = "
    "ANY($1::bigint[])";
// Keyset pagination inside one REPEATABLE READ transaction: batches of one snapshot.
constexpr const char* kIndexablePage =
    RAGD_INDEXABLE_SELECT "WHERE c.id > $2 ORDER BY c.id LIMIT $3";
constexpr std::int64_t kScanBatchRows = 1000;
constexpr const char* kChangesSince =
    "SELECT seq, document_id, kind, array_to_string(removed_chunk_ids, ',') FROM ragd_changes "
    "WHERE seq > $1 ORDER BY seq LIMIT $2";
constexpr const char* kLastSeq = "SELECT coalesce(max(seq), 0) FROM ragd_changes";
constexpr const char* kStats =
    "SELECT (SELECT count(*) FROM ragd_documents), (SELECT count(*) FROM ragd_chunks), "
    "(SELECT count(*) FROM ragd_embeddings), (SELECT coalesce(max(seq), 0) FROM ragd_changes), "
    "(SELECT sum(pg_total_relation_size(t))::bigint FROM unnest(ARRAY['ragd_meta', "
    "'ragd_documents', 'ragd_chunks', 'ragd_embeddings', 'ragd_changes']::regclass[]) AS t)";
// verify_integrity. PostgreSQL checksums its own pages (when enabled) and has no cheap
// integrity_check; amcheck would need CREATE EXTENSION rights. So this checks what ragd relies
// on that the server does not enforce by itself, or that a restore with triggers disabled
// (pg_restore --disable-triggers, session_replication_role = replica) can break:
//   quick: chunks whose document is gone, embeddings whose chunk is gone, and a chunk id
//          sequence behind max(id) (new chunks would reuse ids that indexes still hold).
//   full:  also metadata that is not a JSON object, heading paths that are not JSON arrays,
//          and embedding blobs whose length fits neither encoding of vector_codec.hpp (int8
//          starts with the 4-byte marker 0x7ff08a01, little-endian; float32 is 4 bytes a value).
// Seq gaps in ragd_changes are not problems: a rolled-back seq is never reused by a tailer.
#define RAGD_QUICK_CHECKS                                                                       \
    "SELECT 'chunk ' || c.id || ' refers to a missing document ''' || c.document_id || '''' "   \
    "FROM ragd_chunks c WHERE NOT EXISTS (SELECT 1 FROM ragd_documents d WHERE d.id = "         \
    "c.document_id) "                                                                           \
    "UNION ALL SELECT 'embedding of chunk ' || e.chunk_id || ' for model ''' || e.model_id || " \
    "''' refers to a missing chunk' FROM ragd_embeddings e WHERE NOT EXISTS (SELECT 1 FROM "    \
    "ragd_chunks c WHERE c.id = e.chunk_id) "                                                   \
    "UNION ALL SELECT 'the chunk id sequence is at ' || s.last || ' but chunk ' || s.top || "   \
    "' exists: new chunks would reuse ids' FROM (SELECT coalesce(pg_sequence_last_value("       \
    "pg_get_serial_sequence('ragd_chunks', 'id')::regclass), 0) AS last, (SELECT max(id) FROM " \
    "ragd_chunks) AS top) s WHERE s.top > s.last "
constexpr const char* kQuickCheck = RAGD_QUICK_CHECKS "LIMIT $1";
constexpr const char* kFullCheck = RAGD_QUICK_CHECKS
    "UNION ALL SELECT 'metadata of document ''' || id || ''' is not a JSON object' FROM "
    "ragd_documents WHERE jsonb_typeof(metadata) <> 'object' "
    "UNION ALL SELECT 'heading_path of chunk ' || id || ' is not a JSON array' FROM ragd_chunks "
    "WHERE jsonb_typeof(heading_path) <> 'array' "
    "UNION ALL SELECT 'embedding of chunk ' || chunk_id || ' for model ''' || model_id || ''' is "
    "' || length(vector) || ' bytes, neither an int8 nor a float32 vector' FROM ragd_embeddings "
    "WHERE CASE WHEN substring(vector FROM 1 FOR 4) = '\\x018af07f'::bytea THEN length(vector) "
    "< 8 ELSE length(vector) % 4 <> 0 END "
    "LIMIT $1";

// ---- binary wire values ----

constexpr Oid kInt8Oid = 20;
constexpr Oid kTextOid = 25;
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8ArrayOid = 1016;
constexpr Oid kTextArrayOid = 1009;
constexpr Oid kByteaArrayOid = 1001;

void put_be32(std::string& out, std::uint32_t value) {
    for (int shift = 24; shift >= 0; shift -= 8) {
        out.push_back(static_cast<char>((value >> shift) & 0xff));
    }
}

std::string be64(std::int64_t value) {
    const auto bits = static_cast<std::uint64_t>(value);
    std::string out;
    put_be32(out, static_cast<std::uint32_t>(bits >> 32));
    put_be32(out, static_cast<std::uint32_t>(bits));
    return out;
}

/// A one-dimensional array in PostgreSQL's binary array format (array_recv).
class ArrayBuilder {
public:
    explicit ArrayBuilder(Oid element_type) : element_type_(element_type) {}

    void add(std::string_view bytes) {
        put_be32(body_, static_cast<std::uint32_t>(bytes.size()));
        body_.append(bytes);
        ++count_;
    }
    void add_null() {
        put_be32(body_, 0xffffffffU);  // length -1
        has_null_ = true;
        ++count_;
    }
    std::string finish() const {
        std::string out;
        put_be32(out, count_ == 0 ? 0 : 1);  // dimensions
        put_be32(out, has_null_ ? 1 : 0);
        put_be32(out, element_type_);
        if (count_ > 0) {
            put_be32(out, count_);
            put_be32(out, 1);  // lower bound
        }
        return out + body_;
    }

private:
    Oid element_type_;
    std::uint32_t count_ = 0;
    bool has_null_ = false;
    std::string body_;
};

/// Parameters of one statement, all in binary format.
class Params {
public:
    Params& text(std::string_view value) { return add(kTextOid, std::string(value)); }
    Params& int64(std::int64_t value) { return add(kInt8Oid, be64(value)); }
    Params& add(Oid type, std::string bytes) {
        types_.push_back(type);
        values_.push_back(std::move(bytes));
        return *this;
    }

    int size() const { return static_cast<int>(values_.size()); }
    const Oid* types() const { return types_.data(); }
    std::vector<const char*> pointers() const {
        std::vector<const char*> out;
        for (const auto& value : values_) {
            out.push_back(value.data());
        }
        return out;
    }
    std::vector<int> lengths() const {
        std::vector<int> out;
        for (const auto& value : values_) {
            out.push_back(static_cast<int>(value.size()));
        }
        return out;
    }

private:
    std::vector<Oid> types_;
    std::vector<std::string> values_;
};

std::string int64_array(std::span<const std::int64_t> values) {
    ArrayBuilder array(kInt8Oid);
    for (const std::int64_t value : values) {
        array.add(be64(value));
    }
    return array.finish();
}

using ResultPtr = std::unique_ptr<PGresult, decltype(&PQclear)>;

/// Binary result rows. Column types are fixed by the SQL above (bigint, text, bytea).
class Rows {
public:
    explicit Rows(ResultPtr result) : result_(std::move(result)) {}

    int size() const { return PQntuples(result_.get()); }
    bool is_null(int row, int col) const { return PQgetisnull(result_.get(), row, col) != 0; }
    std::string_view bytes(int row, int col) const {
        return {PQgetvalue(result_.get(), row, col),
                static_cast<std::size_t>(PQgetlength(result_.get(), row, col))};
    }
    std::string text(int row, int col) const { return std::string(bytes(row, col)); }
    std::int64_t int64(int row, int col) const {
        const std::string_view raw = bytes(row, col);
        std::uint64_t bits = 0;
        for (const char byte : raw) {
            bits = (bits << 8) | static_cast<unsigned char>(byte);
        }
        if (raw.size() == 4) {
            return static_cast<std::int32_t>(static_cast<std::uint32_t>(bits));
        }
        return static_cast<std::int64_t>(bits);
    }

private:
    ResultPtr result_;
};

// ---- errors ----

std::string trimmed(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
        text.pop_back();
    }
    return text;
}

core::ErrorCode code_for_sqlstate(std::string_view state) {
    using core::ErrorCode;
    const std::string_view cls = state.substr(0, 2);
    if (cls == "08" || state == "57P01" || state == "57P02" || state == "57P03") {
        return ErrorCode::kUnavailable;  // connection lost, server shutting down or starting
    }
    if (state == "57014") {
        return ErrorCode::kTimeout;  // statement_timeout or cancel
    }
    if (cls == "22") {
        return ErrorCode::kInvalidArgument;  // data exceptions: bad UTF-8, NUL bytes, ranges
    }
    if (cls == "23" || cls == "40") {
        return ErrorCode::kConflict;  // constraint violations, serialization failures
    }
    if (cls == "53" || cls == "58") {
        return ErrorCode::kIo;  // disk full, out of memory, I/O errors on the server
    }
    if (state == "XX001" || state == "XX002") {
        return ErrorCode::kCorrupt;
    }
    return ErrorCode::kInternal;  // e.g. 42P01: a table is missing, which is not a user error
}

/// The error of a failed statement; `conn` tells a lost connection from an SQL error.
core::Error statement_error(PGconn* conn, const PGresult* result, const std::string& what) {
    const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
    if (PQstatus(conn) == CONNECTION_BAD || state == nullptr) {
        return core::fail(
            core::ErrorCode::kUnavailable,
            "PostgreSQL connection lost while " + what + ": " + trimmed(PQerrorMessage(conn)));
    }
    const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
    return core::fail(code_for_sqlstate(state),
                      "PostgreSQL failed " + what + ": " +
                          (primary ? std::string(primary) : trimmed(PQresultErrorMessage(result))) +
                          " (SQLSTATE " + state + ")");
}

// ---- prepared statements ----
//
// Planning ragd's statements cost the server about as much as running most of them (the
// unnest insert of a document's chunks, the change log insert). Every statement is one of the
// constant strings above, so each is prepared once per connection, named after its address,
// and the set of names a connection has prepared is attached to it (libpq instance data): a
// connection that is discarded takes its set along, and a new one starts empty.

using PreparedSet = std::unordered_set<const char*>;

int prepared_set_event(PGEventId event, void* info, void* /*pass_through*/) {
    if (event == PGEVT_CONNDESTROY) {
        auto* destroyed = static_cast<PGEventConnDestroy*>(info);
        delete static_cast<PreparedSet*>(PQinstanceData(destroyed->conn, prepared_set_event));
    }
    return 1;
}

std::string statement_name(const char* sql) {
    return "ragd_" + std::to_string(reinterpret_cast<std::uintptr_t>(sql));
}

/// Prepares `sql` on `conn` unless it already is (one round trip, the first time only).
core::Result<void> ensure_prepared(PGconn* conn,
                                   const char* sql,
                                   const Params& params,
                                   const std::string& what) {
    auto* prepared = static_cast<PreparedSet*>(PQinstanceData(conn, prepared_set_event));
    if (prepared == nullptr) {
        if (PQregisterEventProc(conn, prepared_set_event, "ragd prepared statements", nullptr) !=
            1) {
            return statement_error(conn, nullptr, "registering prepared statements");
        }
        prepared = new PreparedSet();
        PQsetInstanceData(conn, prepared_set_event, prepared);
    }
    if (prepared->contains(sql)) {
        return {};
    }
    ResultPtr result(
        PQprepare(conn, statement_name(sql).c_str(), sql, params.size(), params.types()), &PQclear);
    if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
        return statement_error(conn, result.get(), what);
    }
    prepared->insert(sql);
    return {};
}

core::Result<Rows> exec(PGconn* conn,
                        const char* sql,
                        const Params& params,
                        const std::string& what) {
    if (auto ready = ensure_prepared(conn, sql, params, what); !ready) {
        return ready.error();
    }
    const auto values = params.pointers();
    const auto lengths = params.lengths();
    const std::vector<int> formats(values.size(), 1);
    ResultPtr result(PQexecPrepared(conn,
                                    statement_name(sql).c_str(),
                                    params.size(),
                                    values.data(),
                                    lengths.data(),
                                    formats.data(),
                                    1),
                     &PQclear);
    const ExecStatusType status = PQresultStatus(result.get());
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
        return statement_error(conn, result.get(), what);
    }
    return Rows(std::move(result));
}

/// Statements sent together and answered together: one round trip (instead of one each) for a
/// sequence in which no statement's parameters depend on an earlier one's result. On this
/// 2-vCPU machine a round trip costs more than most of ragd's statements. The server still runs
/// them one after another, each with its own snapshot (READ COMMITTED), so "take a lock, then
/// read" keeps its meaning (kChangeSeqLock relies on it). After a failing statement the server
/// skips the rest up to the sync point; run() returns the first error.
class Pipeline {
public:
    Pipeline& add(const char* sql, Params params, std::string what) {
        statements_.push_back(Statement{sql, std::move(params), std::move(what)});
        return *this;
    }

    /// Rows of every statement, in order. On failure the connection may be mid-transaction
    /// (the lease rolls it back) or broken (the pool discards it).
    core::Result<std::vector<Rows>> run(PGconn* conn) const {
        for (const Statement& statement : statements_) {
            if (auto ready = ensure_prepared(conn, statement.sql, statement.params, statement.what);
                !ready) {
                return ready.error();
            }
        }
        if (PQenterPipelineMode(conn) != 1) {
            return statement_error(conn, nullptr, "starting a pipeline");
        }
        std::optional<core::Error> failure;
        for (const Statement& statement : statements_) {
            const auto values = statement.params.pointers();
            const auto lengths = statement.params.lengths();
            const std::vector<int> formats(values.size(), 1);
            if (PQsendQueryPrepared(conn,
                                    statement_name(statement.sql).c_str(),
                                    statement.params.size(),
                                    values.data(),
                                    lengths.data(),
                                    formats.data(),
                                    1) != 1) {
                // Nothing was queued past this point, and what was may never be answered: the
                // connection is not reusable, so leave it as it is for the pool to discard.
                return statement_error(conn, nullptr, statement.what);
            }
        }
        if (PQpipelineSync(conn) != 1) {
            return statement_error(conn, nullptr, "sending a pipeline");
        }
        std::vector<Rows> rows;
        rows.reserve(statements_.size());
        for (const Statement& statement : statements_) {
            ResultPtr result(PQgetResult(conn), &PQclear);
            if (!result) {  // the connection broke: no more results will come
                return failure ? *failure : statement_error(conn, nullptr, statement.what);
            }
            const ExecStatusType status = PQresultStatus(result.get());
            if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
                rows.emplace_back(std::move(result));
            } else if (status != PGRES_PIPELINE_ABORTED && !failure) {
                failure = statement_error(conn, result.get(), statement.what);
            }
            // Each statement's results end with a null result.
            if (ResultPtr end(PQgetResult(conn), &PQclear); end) {
                return statement_error(conn, nullptr, statement.what);
            }
        }
        ResultPtr sync(PQgetResult(conn), &PQclear);
        if (!sync || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC ||
            PQexitPipelineMode(conn) != 1) {
            return failure ? *failure : statement_error(conn, nullptr, "ending a pipeline");
        }
        if (failure) {
            return *failure;
        }
        return rows;
    }

private:
    struct Statement {
        const char* sql;
        Params params;
        std::string what;
    };
    std::vector<Statement> statements_;
};

/// A statement without parameters (transaction control, migrations: may hold several).
core::Result<void> exec_simple(PGconn* conn, const char* sql, const std::string& what) {
    ResultPtr result(PQexec(conn, sql), &PQclear);
    const ExecStatusType status = PQresultStatus(result.get());
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
        return statement_error(conn, result.get(), what);
    }
    return {};
}

// ---- connections ----

/// What open_postgres_storage and the pool need to (re)connect, and to describe the server in
/// messages without the password.
struct ConnectTarget {
    std::vector<std::string> keywords;
    std::vector<std::string> values;
    std::string description;  ///< "host=... port=... dbname=... user=..."
    std::string password;     ///< only to scrub it from libpq's messages
};

core::Result<ConnectTarget> parse_target(const PostgresOptions& options) {
    if (options.conninfo.empty()) {
        return core::fail(core::ErrorCode::kInvalidArgument,
                          "PostgreSQL conninfo is empty (want e.g. \"host=db dbname=ragd\" or "
                          "postgresql://user@db/ragd)");
    }
    char* parse_error = nullptr;
    PQconninfoOption* parsed = PQconninfoParse(options.conninfo.c_str(), &parse_error);
    if (parsed == nullptr) {
        // libpq's message quotes the string, which may hold a password: leave it out.
        PQfreemem(parse_error);
        return core::fail(core::ErrorCode::kInvalidArgument,
                          "PostgreSQL conninfo is neither a valid key=value connection string "
                          "nor a postgresql:// URL (not shown: it may contain a password)");
    }
    ConnectTarget target;
    for (const PQconninfoOption* option = parsed; option->keyword != nullptr; ++option) {
        if (option->val == nullptr) {
            continue;
        }
        const std::string_view keyword = option->keyword;
        if (keyword == "password") {
            target.password = option->val;
        } else if (keyword == "host" || keyword == "hostaddr" || keyword == "port" ||
                   keyword == "dbname" || keyword == "user") {
            target.description +=
                (target.description.empty() ? "" : " ") + std::string(keyword) + "=" + option->val;
        }
    }
    PQconninfoFree(parsed);
    if (target.description.empty()) {
        target.description = "libpq defaults";
    }
    // Later keywords override the expanded conninfo: the explicit timeout and UTF-8 (every
    // string ragd stores is UTF-8) win; the ones before it are only defaults. Calls block a
    // compute thread, so a server that vanished without closing the connection (a partition, a
    // dead host) must fail them within seconds, not after the kernel's two-hour keepalive:
    // unacknowledged sends give up after tcp_user_timeout, an idle connection is probed.
    target.keywords = {"application_name",
                       "keepalives",
                       "keepalives_idle",
                       "keepalives_interval",
                       "keepalives_count",
                       "tcp_user_timeout",
                       "dbname",
                       "connect_timeout",
                       "client_encoding"};
    target.values = {"ragd",
                     "1",
                     "15",
                     "5",
                     "3",
                     "20000",
                     options.conninfo,
                     std::to_string(std::max(1, options.connect_timeout_s)),
                     "UTF8"};
    return target;
}

std::string scrub(std::string message, const std::string& password) {
    if (password.empty()) {
        return message;
    }
    for (auto at = message.find(password); at != std::string::npos;
         at = message.find(password, at)) {
        message.replace(at, password.size(), "********");
    }
    return message;
}

void ignore_notice(void* /*arg*/, const char* /*message*/) {}

core::Result<PGconn*> connect(const ConnectTarget& target) {
    std::vector<const char*> keywords;
    std::vector<const char*> values;
    for (std::size_t idx = 0; idx < target.keywords.size(); ++idx) {
        keywords.push_back(target.keywords[idx].c_str());
        values.push_back(target.values[idx].c_str());
    }
    keywords.push_back(nullptr);
    values.push_back(nullptr);
    PGconn* conn = PQconnectdbParams(keywords.data(), values.data(), /*expand_dbname=*/1);
    if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) {
        std::string reason = conn ? trimmed(PQerrorMessage(conn)) : "out of memory";
        PQfinish(conn);
        std::replace(reason.begin(), reason.end(), '\n', ' ');
        return core::fail(core::ErrorCode::kUnavailable,
                          "cannot connect to PostgreSQL (" + target.description +
                              "): " + scrub(std::move(reason), target.password));
    }
    // CREATE ... IF NOT EXISTS and friends send notices; libpq would print them on stderr.
    PQsetNoticeProcessor(conn, ignore_notice, nullptr);
    return conn;
}

class ConnectionPool;

/// A borrowed connection, returned to the pool on destruction.
class Lease {
public:
    Lease(ConnectionPool* pool, PGconn* conn) : pool_(pool), conn_(conn) {}
    Lease(Lease&& other) noexcept
        : pool_(other.pool_), conn_(std::exchange(other.conn_, nullptr)) {}
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    ~Lease();

    PGconn* get() const { return conn_; }

private:
    ConnectionPool* pool_;
    PGconn* conn_;
};

/// Up to max_connections connections, opened on demand. A connection that broke is discarded
/// on return, and with it every idle one (after a server restart they are all dead), so the next
/// borrow reconnects: a restarted server heals without restarting ragd.
class ConnectionPool {
public:
    ConnectionPool(ConnectTarget target, std::size_t max_connections)
        : target_(std::move(target)), max_connections_(std::max<std::size_t>(1, max_connections)) {}
    ~ConnectionPool() {
        for (PGconn* conn : idle_) {
            PQfinish(conn);
        }
    }
    ConnectionPool(const ConnectionPool&) = delete;
    ConnectionPool& operator=(const ConnectionPool&) = delete;

    std::size_t max_connections() const { return max_connections_; }

    core::Result<Lease> acquire() {
        std::unique_lock lock(mutex_);
        for (;;) {
            while (!idle_.empty()) {
                PGconn* conn = idle_.back();
                idle_.pop_back();
                if (idle_and_intact(conn)) {
                    return Lease(this, conn);
                }
                PQfinish(conn);
                --open_;
            }
            if (open_ < max_connections_) {
                ++open_;
                lock.unlock();
                auto conn = connect(target_);
                if (!conn) {
                    lock.lock();
                    --open_;
                    available_.notify_one();
                    return conn.error();
                }
                return Lease(this, *conn);
            }
            available_.wait(lock);
        }
    }

    /// Adopts a connection opened outside the pool (open_postgres_storage's first one).
    void adopt(PGconn* conn) {
        std::lock_guard lock(mutex_);
        ++open_;
        idle_.push_back(conn);
    }

    void release(PGconn* conn) {
        // A method that returned early inside a transaction leaves it to be rolled back here.
        if (PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) != PQTRANS_IDLE) {
            ResultPtr(PQexec(conn, "ROLLBACK"), &PQclear);
        }
        const bool healthy =
            PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) == PQTRANS_IDLE;
        std::vector<PGconn*> discard;
        {
            std::lock_guard lock(mutex_);
            if (healthy) {
                idle_.push_back(conn);
            } else {
                discard.push_back(conn);
                discard.insert(discard.end(), idle_.begin(), idle_.end());
                idle_.clear();
                open_ -= discard.size();
            }
        }
        available_.notify_all();
        for (PGconn* dead : discard) {
            PQfinish(dead);
        }
    }

private:
    /// An idle connection has nothing to read; if its socket is readable the server closed it
    /// (shutdown, restart, idle timeout), and using it would fail a caller for nothing.
    static bool idle_and_intact(PGconn* conn) {
        if (PQstatus(conn) != CONNECTION_OK || PQsocket(conn) < 0) {
            return false;
        }
        pollfd fd{PQsocket(conn), POLLIN, 0};
        return ::poll(&fd, 1, 0) == 0;
    }

    const ConnectTarget target_;
    const std::size_t max_connections_;
    std::mutex mutex_;
    std::condition_variable available_;
    std::vector<PGconn*> idle_;
    std::size_t open_ = 0;  ///< idle plus borrowed
};

Lease::~Lease() {
    if (conn_ != nullptr) {
        pool_->release(conn_);
    }
}

// ---- rows to records ----

core::Result<DocumentRecord> read_document(const Rows& rows, int row) {
    DocumentRecord doc;
    doc.id = rows.text(row, 0);
    doc.collection = rows.text(row, 1);
    doc.source = rows.text(row, 2);
    doc.title = rows.text(row, 3);
    doc.content_hash = rows.text(row, 4);
    auto metadata = decode_metadata(rows.bytes(row, 5), doc.id);
    if (!metadata) {
        return metadata.error();
    }
    doc.metadata = std::move(*metadata);
    doc.created_at_ms = rows.int64(row, 6);
    doc.updated_at_ms = rows.int64(row, 7);
    doc.chunk_count = rows.int64(row, 8);
    return doc;
}

core::Result<ChunkRecord> read_chunk(const Rows& rows, int row) {
    ChunkRecord chunk;
    chunk.id = rows.int64(row, 0);
    chunk.document_id = rows.text(row, 1);
    chunk.ordinal = static_cast<std::uint32_t>(rows.int64(row, 2));
    chunk.text = rows.text(row, 3);
    auto headings = decode_strings(rows.bytes(row, 4), chunk.id);
    if (!headings) {
        return headings.error();
    }
    chunk.heading_path = std::move(*headings);
    chunk.source_begin = static_cast<std::uint64_t>(rows.int64(row, 5));
    chunk.source_end = static_cast<std::uint64_t>(rows.int64(row, 6));
    return chunk;
}

/// Reads indexable rows; remembers the last document's parsed metadata because rows of one
/// document usually arrive together and parsing JSON per chunk would dominate a rebuild.
class IndexableReader {
public:
    core::Result<IndexableChunk> read(const Rows& rows, int row) {
        IndexableChunk out;
        auto chunk = read_chunk(rows, row);
        if (!chunk) {
            return chunk.error();
        }
        out.chunk = std::move(*chunk);
        out.title = rows.text(row, 7);
        out.source = rows.text(row, 8);
        out.collection = rows.text(row, 9);
        if (!last_document_id_ || *last_document_id_ != out.chunk.document_id) {
            auto metadata = decode_metadata(rows.bytes(row, 10), out.chunk.document_id);
            if (!metadata) {
                return metadata.error();
            }
            last_metadata_ = std::move(*metadata);
            last_document_id_ = out.chunk.document_id;
        }
        out.metadata = last_metadata_;
        if (!rows.is_null(row, 11)) {
            out.embedding = decode_embedding(rows.bytes(row, 11));
        }
        return out;
    }

private:
    std::optional<std::string> last_document_id_;
    Metadata last_metadata_;
};

core::Result<std::vector<std::int64_t>> parse_ids(std::string_view csv, std::int64_t seq) {
    std::vector<std::int64_t> ids;
    while (!csv.empty()) {
        const std::size_t comma = std::min(csv.find(','), csv.size());
        std::int64_t id = 0;
        const auto [end, ec] = std::from_chars(csv.data(), csv.data() + comma, id);
        if (ec != std::errc() || end != csv.data() + comma) {
            return core::fail(
                core::ErrorCode::kCorrupt,
                "removed_chunk_ids of change " + std::to_string(seq) + " holds a non-integer");
        }
        ids.push_back(id);
        csv.remove_prefix(std::min(comma + 1, csv.size()));
    }
    return ids;
}

std::size_t clamp_to_int64(std::size_t value) {
    return std::min<std::size_t>(value, std::numeric_limits<std::int64_t>::max());
}

class PostgresStorage final : public Storage {
public:
    PostgresStorage(ConnectTarget target, const PostgresOptions& options)
        : pool_(std::move(target), options.max_connections),
          now_ms_(options.now_ms ? options.now_ms : std::function<std::int64_t()>(system_now_ms)),
          embedding_encoding_(options.embedding_encoding) {}

    ConnectionPool& pool() { return pool_; }
    void set_identity(std::string identity) { identity_ = std::move(identity); }
    core::Result<std::string> identity() override { return identity_; }
    /// One connection stays free for the reads of the index catch-up that runs beside a bulk
    /// ingest. At most 4: with ~3 ms round trips 4 writers took the pgdocs ingest from 11 s to
    /// 4.0 s and 7 to 3.2 s, but with the server on the same 2 cores 7 writers cost 20-50 %
    /// more time than one (lock waits, twice the server CPU) and 4 cost ~13 % (bench/README.md).
    std::size_t useful_write_concurrency() const override {
        constexpr std::size_t kMostWriters = 4;
        return std::clamp<std::size_t>(pool_.max_connections() - 1, 1, kMostWriters);
    }

    core::Result<UpsertOutcome> upsert_document(const DocumentRecord& doc,
                                                std::span<const NewChunk> chunks,
                                                const std::string& model_id) override {
        if (auto r = validate_upsert(doc, chunks, model_id); !r) {
            return r.error();
        }
        auto lease = pool_.acquire();
        if (!lease) {
            return lease.error();
        }
        PGconn* c = lease->get();
        auto existing = begin_writing(c, doc.id);
        if (!existing) {
            return existing.error();
        }
        if (existing->hash == doc.content_hash && !doc.rewrite_unchanged) {
            UpsertOutcome unchanged;
            unchanged.status = UpsertStatus::kUnchanged;
            unchanged.chunk_ids = std::move(existing->chunk_ids);
            return unchanged;  // the lease rolls the empty transaction back
        }
        const std::int64_t now = now_ms_();
        UpsertOutcome outcome;
        outcome.status = existing->hash ? UpsertStatus::kReplaced : UpsertStatus::kCreated;
        outcome.removed_chunk_ids = std::move(existing->chunk_ids);
        const std::string what = "writing document '" + doc.id + "'";
        Params row;
        row.text(doc.id)
            .text(doc.collection)
            .text(doc.source)
            .text(doc.title)
            .text(doc.content_hash)
            .text(encode_metadata(doc.metadata))
            .int64(now);
        // The rest of the transaction in one round trip: nothing in it waits for a result.
        Pipeline writes;
        writes.add(kUpsertDocument, std::move(row), what);
        if (!chunks.empty()) {
            writes.add(kInsertChunks,
                       chunk_params(doc.id, chunks, model_id),
                       "writing the chunks of '" + doc.id + "'");
        }
        add_change(writes, doc.id, "upsert", now, outcome.removed_chunk_ids);
        auto results = writes.run(c);
        if (!results) {
            return results.error();
        }
        if (!chunks.empty()) {
            outcome.chunk_ids = ids_in_input_order((*results)[1], chunks);
        }
        outcome.seq = change_seq(*results);
        return outcome;
    }

    // One transaction per document: the writes of a group would wait on each other's round
    // trips anyway, and `ragd ingest` overlaps several writers instead (useful_write_concurrency).
    std::vector<core::Result<UpsertOutcome>> upsert_documents(std::span<const DocumentWrite> writes,
                                                              const std::string& model_id,
                                                              OnFailure on_failure) override {
        return upsert_one_by_one(*this, writes, model_id, on_failure);
    }

    core::Result<bool> delete_document(const std::string& id) override {
        auto lease = pool_.acquire();
        if (!lease) {
            return lease.error();
        }
        PGconn* c = lease->get();
        auto existing = begin_writing(c, id);
        if (!existing) {
            return existing.error();
        }
        if (!existing->hash) {
            return false;  // the lease rolls the empty transaction back
        }
        Pipeline writes;
        writes.add(kDeleteDocument, Params().text(id), "deleting document '" + id + "'");
        add_change(writes, id, "delete", now_ms_(), existing->chunk_ids);
        if (auto results = writes.run(c); !results) {
            return results.error();
        }
        return true;
    }

    core::Result<std::optional<DocumentRecord>> get_document(const std::string& id) override {
        auto rows = query(kSelectDocument, Params().text(id), "reading document '" + id + "'");
        if (!rows) {
            return rows.error();
        }
        if (rows->size() == 0) {
            return std::optional<DocumentRecord>{};
        }
        auto doc = read_document(*rows, 0);
        if (!doc) {
            return doc.error();
        }
        return std::optional<DocumentRecord>(std::move(*doc));
    }

    core::Result<std::optional<std::string>> content_hash(const std::string& id) override {
        auto rows =
            query(kSelectHash, Params().text(id), "reading the content hash of '" + id + "'");
        if (!rows) {
            return rows.error();
        }
        if (rows->size() == 0) {
            return std::optional<std::string>{};
        }
        return std::optional<std::string>(rows->text(0, 0));
    }

    core::Result<std::vector<ChunkRecord>> chunks_of(const std::string& document_id) override {
        auto rows =
            query(kChunksOf, Params().text(document_id), "reading chunks of '" + document_id + "'");
        if (!rows) {
            return rows.error();
        }
        std::vector<ChunkRecord> out;
        out.reserve(static_cast<std::size_t>(rows->size()));
        for (int row = 0; row < rows->size(); ++row) {
            auto chunk = read_chunk(*rows, row);
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
        // One array parameter, whatever the count: no batching needed as with SQLite's IN ().
        const bool with_embedding = !model_id.empty();
        Params params;
        if (with_embedding) {
            params.text(model_id);
        }
        params.add(kInt8ArrayOid, int64_array(ids));
        auto rows = query(
            with_embedding ? kIndexableByIds : kPassagesByIds, params, "reading chunks by id");
        if (!rows) {
            return rows.error();
        }
        std::unordered_map<std::int64_t, IndexableChunk> found;
        found.reserve(static_cast<std::size_t>(rows->size()));
        IndexableReader reader;
        for (int row = 0; row < rows->size(); ++row) {
            auto chunk = reader.read(*rows, row);
            if (!chunk) {
                return chunk.error();
            }
            const std::int64_t id = chunk->chunk.id;
            found.emplace(id, std::move(*chunk));
        }
        return in_requested_order(ids, found);
    }

    core::Result<std::vector<IndexableChunk>> indexable_chunks_of(
        const std::string& document_id, const std::string& model_id) override {
        auto rows = query(kIndexableOf,
                          Params().text(model_id).text(document_id),
                          "reading chunks of '" + document_id + "'");
        if (!rows) {
            return rows.error();
        }
        std::vector<IndexableChunk> out;
        IndexableReader reader;
        for (int row = 0; row < rows->size(); ++row) {
            auto chunk = reader.read(*rows, row);
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
        auto lease = pool_.acquire();
        if (!lease) {
            return lease.error();
        }
        PGconn* c = lease->get();
        // One snapshot for the whole scan, as SQLite's single statement gives: the visitor sees
        // a consistent state while writers carry on. Pages keep memory bounded.
        if (auto r = exec_simple(
                c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "starting a chunk scan");
            !r) {
            return r.error();
        }
        IndexableReader reader;
        std::int64_t after = std::numeric_limits<std::int64_t>::min();
        for (;;) {
            auto rows = exec(c,
                             kIndexablePage,
                             Params().text(model_id).int64(after).int64(kScanBatchRows),
                             "scanning all chunks");
            if (!rows) {
                return rows.error();
            }
            for (int row = 0; row < rows->size(); ++row) {
                auto chunk = reader.read(*rows, row);
                if (!chunk) {
                    return chunk.error();
                }
                after = chunk->chunk.id;
                visit(*chunk);
            }
            if (rows->size() < kScanBatchRows) {
                break;
            }
        }
        return exec_simple(c, "COMMIT", "ending a chunk scan");
    }

    core::Result<std::vector<Change>> changes_since(std::int64_t after,
                                                    std::size_t limit) override {
        auto rows =
            query(kChangesSince,
                  Params().int64(after).int64(static_cast<std::int64_t>(clamp_to_int64(limit))),
                  "reading changes");
        if (!rows) {
            return rows.error();
        }
        std::vector<Change> out;
        out.reserve(static_cast<std::size_t>(rows->size()));
        for (int row = 0; row < rows->size(); ++row) {
            Change change;
            change.seq = rows->int64(row, 0);
            change.document_id = rows->text(row, 1);
            change.kind =
                rows->bytes(row, 2) == "delete" ? ChangeKind::kDelete : ChangeKind::kUpsert;
            auto removed = parse_ids(rows->bytes(row, 3), change.seq);
            if (!removed) {
                return removed.error();
            }
            change.removed_chunk_ids = std::move(*removed);
            out.push_back(std::move(change));
        }
        return out;
    }

    core::Result<std::int64_t> last_seq() override {
        auto rows = query(kLastSeq, Params(), "reading the last change sequence");
        if (!rows) {
            return rows.error();
        }
        return rows->int64(0, 0);
    }

    core::Result<StorageStats> stats() override {
        auto rows = query(kStats, Params(), "counting rows");
        if (!rows) {
            return rows.error();
        }
        StorageStats stats;
        stats.documents = rows->int64(0, 0);
        stats.chunks = rows->int64(0, 1);
        stats.embeddings = rows->int64(0, 2);
        stats.last_seq = rows->int64(0, 3);
        stats.bytes = rows->int64(0, 4);
        return stats;
    }

    core::Result<std::vector<DocumentRecord>> list_documents(std::size_t offset,
                                                             std::size_t limit) override {
        auto rows = query(kListDocuments,
                          Params()
                              .int64(static_cast<std::int64_t>(clamp_to_int64(limit)))
                              .int64(static_cast<std::int64_t>(clamp_to_int64(offset))),
                          "listing documents");
        if (!rows) {
            return rows.error();
        }
        std::vector<DocumentRecord> out;
        out.reserve(static_cast<std::size_t>(rows->size()));
        for (int row = 0; row < rows->size(); ++row) {
            auto doc = read_document(*rows, row);
            if (!doc) {
                return doc.error();
            }
            out.push_back(std::move(*doc));
        }
        return out;
    }

    core::Result<std::vector<std::string>> verify_integrity(bool full) override {
        auto rows = query(full ? kFullCheck : kQuickCheck,
                          Params().int64(static_cast<std::int64_t>(kMaxIntegrityProblems)),
                          "checking integrity");
        if (!rows) {
            return rows.error();
        }
        std::vector<std::string> problems;
        problems.reserve(static_cast<std::size_t>(rows->size()));
        for (int row = 0; row < rows->size(); ++row) {
            problems.push_back(rows->text(row, 0));
        }
        return problems;
    }

private:
    struct ExistingDocument {
        std::optional<std::string> hash;      ///< none: no such document
        std::vector<std::int64_t> chunk_ids;  ///< by ordinal
    };

    /// One statement on a borrowed connection, outside any explicit transaction.
    core::Result<Rows> query(const char* sql, const Params& params, const std::string& what) {
        auto lease = pool_.acquire();
        if (!lease) {
            return lease.error();
        }
        return exec(lease->get(), sql, params, what);
    }

    /// Starts a write transaction on one document: BEGIN, the document's lock (the content-hash
    /// check and the replace must see the same state, even for a document that does not exist
    /// yet), then its current hash and chunk ids, read after the lock. One round trip.
    static core::Result<ExistingDocument> begin_writing(PGconn* c, const std::string& id) {
        Pipeline start;
        start.add("BEGIN", Params(), "starting a write transaction")
            .add(kLockDocument,
                 Params().int64(kDocumentLockClass).text(id),
                 "locking document '" + id + "'")
            .add(kDocumentForWrite, Params().text(id), "reading document '" + id + "'");
        auto results = start.run(c);
        if (!results) {
            return results.error();
        }
        const Rows& rows = (*results)[2];
        ExistingDocument existing;
        for (int row = 0; row < rows.size(); ++row) {
            existing.hash = rows.text(row, 0);
            if (!rows.is_null(row, 1)) {
                existing.chunk_ids.push_back(rows.int64(row, 1));
            }
        }
        return existing;
    }

    /// Parameters of kInsertChunks: all chunks and embeddings as parallel arrays, one statement.
    Params chunk_params(const std::string& document_id,
                        std::span<const NewChunk> chunks,
                        const std::string& model_id) const {
        ArrayBuilder ordinals(kInt8Oid);
        ArrayBuilder texts(kTextOid);
        ArrayBuilder headings(kTextOid);
        ArrayBuilder begins(kInt8Oid);
        ArrayBuilder ends(kInt8Oid);
        ArrayBuilder vectors(kByteaOid);
        for (const NewChunk& chunk : chunks) {
            ordinals.add(be64(chunk.ordinal));
            texts.add(chunk.text);
            headings.add(encode_strings(chunk.heading_path));
            begins.add(be64(static_cast<std::int64_t>(chunk.source_begin)));
            ends.add(be64(static_cast<std::int64_t>(chunk.source_end)));
            if (chunk.embedding.empty()) {
                vectors.add_null();
            } else {
                vectors.add(encode_embedding(chunk.embedding, embedding_encoding_));
            }
        }
        Params params;
        params.text(document_id)
            .add(kInt8ArrayOid, ordinals.finish())
            .add(kTextArrayOid, texts.finish())
            .add(kTextArrayOid, headings.finish())
            .add(kInt8ArrayOid, begins.finish())
            .add(kInt8ArrayOid, ends.finish())
            .add(kByteaArrayOid, vectors.finish())
            .text(model_id);
        return params;
    }

    /// kInsertChunks' (id, ordinal) rows as ids in the order of `chunks`. RETURNING order is
    /// not promised, so ids are matched back by (unique) ordinal.
    static std::vector<std::int64_t> ids_in_input_order(const Rows& rows,
                                                        std::span<const NewChunk> chunks) {
        std::unordered_map<std::int64_t, std::int64_t> id_by_ordinal;
        for (int row = 0; row < rows.size(); ++row) {
            id_by_ordinal.emplace(rows.int64(row, 1), rows.int64(row, 0));
        }
        std::vector<std::int64_t> ids;
        ids.reserve(chunks.size());
        for (const NewChunk& chunk : chunks) {
            ids.push_back(id_by_ordinal.at(chunk.ordinal));
        }
        return ids;
    }

    /// Ends `writes` with the change row, under kChangeSeqLock (see there), and the commit: the
    /// lock is taken as late as possible and held only until that commit.
    static void add_change(Pipeline& writes,
                           const std::string& document_id,
                           std::string_view kind,
                           std::int64_t now,
                           std::span<const std::int64_t> removed) {
        const std::string what = "logging a change of '" + document_id + "'";
        writes.add(kLock, Params().int64(kChangeSeqLock), what)
            .add(kInsertChange,
                 Params()
                     .text(document_id)
                     .text(kind)
                     .int64(now)
                     .add(kInt8ArrayOid, int64_array(removed)),
                 what)
            .add("COMMIT", Params(), "committing a change of '" + document_id + "'");
    }

    /// The seq of the change row add_change() wrote: the results are [..., lock, change, COMMIT].
    static std::int64_t change_seq(const std::vector<Rows>& results) {
        return results[results.size() - 2].int64(0, 0);
    }

    ConnectionPool pool_;
    std::function<std::int64_t()> now_ms_;
    EmbeddingEncoding embedding_encoding_;
    std::string identity_;  ///< set once by open_postgres_storage, before any other use
};

/// Creates or migrates the schema in one transaction. The advisory lock makes replicas that
/// start together take turns; the second finds the version already written and does nothing.
core::Result<std::string> migrate(PGconn* c, const std::string& description) {
    if (auto r = exec_simple(c, "BEGIN", "starting the schema migration"); !r) {
        return r.error();
    }
    if (auto r = exec(c, kLock, Params().int64(kSchemaLock), "locking the schema"); !r) {
        return r.error();
    }
    if (auto r = exec_simple(c, kCreateMeta, "creating ragd_meta"); !r) {
        return r.error();
    }
    auto rows = exec(c, kSelectVersion, Params(), "reading the schema version");
    if (!rows) {
        return rows.error();
    }
    int version = 0;
    if (rows->size() > 0) {
        const std::string_view text = rows->bytes(0, 0);
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), version);
        if (ec != std::errc() || end != text.data() + text.size() || version < 0) {
            return core::fail(core::ErrorCode::kCorrupt,
                              "ragd_meta.schema_version is '" + std::string(text) +
                                  "', not a version number (" + description + ")");
        }
    }
    if (version > kPostgresSchemaVersion) {
        return core::fail(core::ErrorCode::kUnsupported,
                          "PostgreSQL database (" + description + ") has ragd schema version " +
                              std::to_string(version) + ", newer than this ragd supports (" +
                              std::to_string(kPostgresSchemaVersion) + ")");
    }
    for (int step = version; step < kPostgresSchemaVersion; ++step) {
        if (auto r = exec_simple(c,
                                 kMigrations[step],
                                 "migrating the schema to version " + std::to_string(step + 1));
            !r) {
            return r.error();
        }
    }
    if (version < kPostgresSchemaVersion) {
        auto written = exec(c,
                            kWriteVersion,
                            Params().text(std::to_string(kPostgresSchemaVersion)),
                            "recording the schema version");
        if (!written) {
            return written.error();
        }
    }
    // Created once, with the first schema, and kept by dumps and restores of the database.
    if (auto r = exec_simple(c, kCreateDatabaseId, "naming the database"); !r) {
        return r.error();
    }
    auto id = exec(c, kSelectDatabaseId, Params(), "reading the database id");
    if (!id) {
        return id.error();
    }
    if (id->size() != 1) {
        return core::fail(core::ErrorCode::kCorrupt, "ragd_meta has no database_id");
    }
    std::string identity = "postgres:" + std::string(id->bytes(0, 0));
    if (auto r = exec_simple(c, "COMMIT", "committing the schema migration"); !r) {
        return r.error();
    }
    return identity;
}

}  // namespace

core::Result<std::unique_ptr<Storage>> open_postgres_storage(const PostgresOptions& options) {
    auto target = parse_target(options);
    if (!target) {
        return target.error();
    }
    auto conn = connect(*target);
    if (!conn) {
        // Not reaching the server at startup is a configuration or deployment error.
        return core::fail(core::ErrorCode::kIo, conn.error().detail);
    }
    const std::string description = target->description;
    auto storage = std::make_unique<PostgresStorage>(std::move(*target), options);
    // Adopted first, so the lease returns it to the pool (rolled back) whatever migrate does.
    storage->pool().adopt(*conn);
    auto lease = storage->pool().acquire();
    if (!lease) {
        return lease.error();
    }
    auto identity = migrate(lease->get(), description);
    if (!identity) {
        return identity.error();
    }
    storage->set_identity(std::move(*identity));
    return std::unique_ptr<Storage>(std::move(storage));
}

}  // namespace ragd::storage
