// Storage on a shared PostgreSQL server, so several ragd replicas can use one system of record
// and each tail the same change sequence (see postgres_storage.cpp for why it is gap-safe).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/error.hpp"
#include "storage/storage.hpp"
#include "storage/vector_codec.hpp"

namespace ragd::storage {

/// Settings for the PostgreSQL implementation.
struct PostgresOptions {
    /// libpq connection string ("host=... dbname=...") or postgresql:// URL. Required.
    std::string conninfo;
    /// How new embeddings are written; both encodings are read back (default int8).
    EmbeddingEncoding embedding_encoding = EmbeddingEncoding::kInt8;
    /// libpq connect_timeout per connection attempt, in seconds (default 5).
    int connect_timeout_s = 5;
    /// Most connections open at once; a call waits for a free one past that (default 8).
    std::size_t max_connections = 8;
    /// Wall clock in unix ms for created_at/updated_at (default: std::chrono::system_clock).
    std::function<std::int64_t()> now_ms;
};

/// Connects, creates or migrates ragd's tables (ragd_meta, ragd_documents, ragd_chunks,
/// ragd_embeddings, ragd_changes) in the connection's default schema, and returns a thread-safe
/// Storage backed by a connection pool. Returns kInvalidArgument for an empty or unparsable
/// conninfo, kIo when the server cannot be reached (naming host, port and database, never the
/// password), kUnsupported if the schema is newer than this build understands. Later calls
/// return kUnavailable while the server is unreachable and recover by themselves.
core::Result<std::unique_ptr<Storage>> open_postgres_storage(const PostgresOptions& options);

/// Schema version recorded in ragd_meta by the current migrations.
inline constexpr int kPostgresSchemaVersion = 1;

}  // namespace ragd::storage
