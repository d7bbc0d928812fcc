// The system of record: documents, chunks, embeddings and a monotonically increasing change
// sequence. Indexes are derived from it (retrieval/) and catch up by reading changes_since().
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "storage/vector_codec.hpp"

namespace ragd::storage {

using Metadata = std::vector<std::pair<std::string, std::string>>;  ///< sorted by key, unique keys

struct DocumentRecord {
    std::string id;
    std::string collection = "default";
    std::string source;  ///< file path or caller-supplied source
    std::string title;
    std::string content_hash;        ///< hex SHA-256 of the raw content
    Metadata metadata;               ///< string key/value pairs; stored as a JSON object
    std::int64_t created_at_ms = 0;  ///< unix ms; set by storage
    std::int64_t updated_at_ms = 0;  ///< unix ms; set by storage
    std::int64_t chunk_count = 0;    ///< filled by reads
    /// For upsert_document: write even when the content hash is unchanged (its stored vectors
    /// are another embedding model's, so its chunks are embedded again). Not stored.
    bool rewrite_unchanged = false;
};

struct ChunkRecord {
    std::int64_t id = 0;  ///< storage-assigned, never reused (also the vector index label)
    std::string document_id;
    std::uint32_t ordinal = 0;
    std::string text;
    std::vector<std::string> heading_path;
    std::uint64_t source_begin = 0;
    std::uint64_t source_end = 0;
};

/// A chunk to write, with its embedding.
struct NewChunk {
    std::uint32_t ordinal = 0;
    std::string text;
    std::vector<std::string> heading_path;
    std::uint64_t source_begin = 0;
    std::uint64_t source_end = 0;
    std::vector<float> embedding;
};

enum class UpsertStatus { kCreated, kReplaced, kUnchanged };

struct UpsertOutcome {
    UpsertStatus status = UpsertStatus::kCreated;
    std::vector<std::int64_t> chunk_ids;          ///< ids of the document's chunks after the write
    std::vector<std::int64_t> removed_chunk_ids;  ///< ids of the chunks the write replaced
    std::int64_t seq = 0;  ///< change sequence of this write (0 when unchanged)
};

/// What a group write (upsert_documents) does after a document fails: write the others
/// (kGoOn), or commit those before it and write nothing after it (kStop).
enum class OnFailure { kGoOn, kStop };

/// One document of a group write (upsert_documents): the record and its chunks, borrowed.
struct DocumentWrite {
    const DocumentRecord* doc = nullptr;
    std::span<const NewChunk> chunks;
};

enum class ChangeKind { kUpsert, kDelete };

struct Change {
    std::int64_t seq = 0;
    std::string document_id;
    ChangeKind kind = ChangeKind::kUpsert;
    /// Chunk ids this change removed (the document's previous chunks), stored with the change
    /// row so that derived indexes can drop them during catch-up without a reverse mapping.
    std::vector<std::int64_t> removed_chunk_ids;
};

/// A chunk joined with its document and its embedding: what an index needs to (re)build.
struct IndexableChunk {
    ChunkRecord chunk;
    std::string title;
    std::string source;
    std::string collection;
    Metadata metadata;
    std::vector<float> embedding;  ///< empty if none stored for the requested model
};

struct StorageStats {
    std::int64_t documents = 0;
    std::int64_t chunks = 0;
    std::int64_t embeddings = 0;
    std::int64_t last_seq = 0;
    std::int64_t bytes = 0;  ///< database file size including WAL
};

/// Thread-safe: every method may be called from any thread (the SQLite implementation keeps a
/// connection per thread, WAL mode, so readers never wait for the writer).
class Storage {
public:
    virtual ~Storage() = default;

    /// Writes a document and its chunks (with embeddings for `model_id`) in one transaction.
    /// If a document with the same id and content hash exists, nothing is written (kUnchanged),
    /// unless doc.rewrite_unchanged.
    /// Otherwise its old chunks and embeddings are replaced atomically and a change is logged.
    virtual core::Result<UpsertOutcome> upsert_document(const DocumentRecord& doc,
                                                        std::span<const NewChunk> chunks,
                                                        const std::string& model_id) = 0;
    /// upsert_document for each of `writes`, in order, with one outcome each. Each document is
    /// still written whole or not at all, and one failing leaves the others stored. SQLite
    /// commits the group together (one transaction, a savepoint per document), which saves a
    /// bulk ingest most of its per-commit cost; others may write them one by one
    /// (upsert_one_by_one). With OnFailure::kStop the outcomes end at the first failing
    /// document (its error last) and nothing after it is written. Pure, so that a wrapper
    /// cannot forget to forward it.
    virtual std::vector<core::Result<UpsertOutcome>> upsert_documents(
        std::span<const DocumentWrite> writes,
        const std::string& model_id,
        OnFailure on_failure) = 0;
    /// Removes a document, its chunks and embeddings, and logs a change. false if not found.
    virtual core::Result<bool> delete_document(const std::string& id) = 0;

    virtual core::Result<std::optional<DocumentRecord>> get_document(const std::string& id) = 0;
    /// Content hash of a document, to skip unchanged files before parsing them.
    virtual core::Result<std::optional<std::string>> content_hash(const std::string& id) = 0;
    virtual core::Result<std::vector<ChunkRecord>> chunks_of(const std::string& document_id) = 0;
    /// Chunks by id, in the order asked; ids that do not exist are left out. Each carries its
    /// embedding by `model_id`; an empty model id loads none (what a query's passages need).
    virtual core::Result<std::vector<IndexableChunk>> get_chunks(std::span<const std::int64_t> ids,
                                                                 const std::string& model_id) = 0;
    /// Every current chunk of a document joined with its document and embedding.
    virtual core::Result<std::vector<IndexableChunk>> indexable_chunks_of(
        const std::string& document_id, const std::string& model_id) = 0;
    /// Visits every chunk of every document (for index rebuilds), in chunk id order.
    virtual core::Result<void> for_each_chunk(
        const std::string& model_id, const std::function<void(const IndexableChunk&)>& visit) = 0;

    /// Changes with seq > after, oldest first, at most `limit`.
    virtual core::Result<std::vector<Change>> changes_since(std::int64_t after,
                                                            std::size_t limit) = 0;
    virtual core::Result<std::int64_t> last_seq() = 0;
    virtual core::Result<StorageStats> stats() = 0;
    /// Documents ordered by id, for listing and consistency checks.
    virtual core::Result<std::vector<DocumentRecord>> list_documents(std::size_t offset,
                                                                     std::size_t limit) = 0;
    /// The database's own verification (SQLite: PRAGMA integrity_check when `full`, else the
    /// faster quick_check, then foreign_key_check). Returns the problems found, at most
    /// kMaxIntegrityProblems; empty means intact. Fails only when the check cannot run.
    virtual core::Result<std::vector<std::string>> verify_integrity(bool full) = 0;
    /// Names this database for as long as it exists ("sqlite" for a data directory's own
    /// database, "postgres:" and an id created with the schema): derived indexes built from one
    /// database must not be caught up from another, whose sequence numbers mean other changes.
    virtual core::Result<std::string> identity() = 0;
    /// How many upsert_document calls in flight at once make a bulk ingest faster. 1 where
    /// writes serialize anyway (SQLite has one writer); a database server overlaps the round
    /// trips and commits of several connections, which is most of a write's time once the
    /// server is on another host.
    virtual std::size_t useful_write_concurrency() const { return 1; }
};

/// upsert_documents as one upsert_document call per document.
inline std::vector<core::Result<UpsertOutcome>> upsert_one_by_one(
    Storage& storage,
    std::span<const DocumentWrite> writes,
    const std::string& model_id,
    OnFailure on_failure) {
    std::vector<core::Result<UpsertOutcome>> outcomes;
    outcomes.reserve(writes.size());
    for (const DocumentWrite& write : writes) {
        outcomes.push_back(storage.upsert_document(*write.doc, write.chunks, model_id));
        if (!outcomes.back() && on_failure == OnFailure::kStop) {
            break;
        }
    }
    return outcomes;
}

/// Cap on the problems verify_integrity() reports: past a few, the verdict is the same.
inline constexpr std::size_t kMaxIntegrityProblems = 100;

/// Tuning for the SQLite implementation; the defaults are what `ragd serve` uses.
struct SqliteOptions {
    /// true: fsync the WAL on every commit (synchronous=FULL), so a committed document survives
    /// power loss. false: synchronous=NORMAL, which survives process crashes only (default true).
    bool durable_commits = true;
    /// How long a writer waits for another connection's write lock, in ms (default 5000).
    int busy_timeout_ms = 5000;
    /// Cap on the database file size in bytes; 0 = unlimited (default 0). Writes past it fail
    /// with kIo exactly as on a full disk, which is also how tests reach that path.
    std::int64_t max_db_bytes = 0;
    /// How new embeddings are written (vector_codec.hpp): int8 (a quarter of the bytes, the
    /// index's own quantization) or float32 (the model's exact floats). Both are read back
    /// whatever this says (default int8).
    EmbeddingEncoding embedding_encoding = EmbeddingEncoding::kInt8;
    /// Wall clock in unix ms for created_at/updated_at (default: std::chrono::system_clock).
    std::function<std::int64_t()> now_ms;
};

/// Opens (creating if needed) `<data_dir>/ragd.sqlite` in WAL mode and migrates its schema.
/// Returns kIo if the directory or file cannot be created or opened, kCorrupt if the file is not
/// a ragd SQLite database, kUnsupported if its schema is newer than this build understands.
core::Result<std::unique_ptr<Storage>> open_sqlite_storage(const std::string& data_dir);
/// As above, with explicit options.
core::Result<std::unique_ptr<Storage>> open_sqlite_storage(const std::string& data_dir,
                                                           const SqliteOptions& options);

/// Schema version written to PRAGMA user_version by the current migrations.
inline constexpr int kSqliteSchemaVersion = 1;

}  // namespace ragd::storage
