// The in-memory BM25 index's file: its live documents' terms (the postings are rebuilt from them
// on load), written atomically, checked on read (magic, version, options, length, checksum).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "storage/storage.hpp"

namespace ragd::retrieval {

struct SnapshotTerm {
    std::uint32_t term = 0;  ///< index into Bm25Snapshot::terms (or a live term id in memory)
    std::uint32_t wdf = 0;
};

struct SnapshotMeta {
    std::string source;
    storage::Metadata metadata;
};

struct SnapshotDoc {
    std::int64_t chunk_id = 0;
    std::uint32_t meta = 0;  ///< index into Bm25Snapshot::metas
    std::vector<SnapshotTerm> terms;
};

struct Bm25Snapshot {
    std::int64_t applied_seq = 0;
    std::vector<std::string> terms;
    std::vector<SnapshotMeta> metas;
    std::vector<SnapshotDoc> docs;
};

/// Writes `snapshot` to `path` via a temp file, fsync and rename; `options_fingerprint` names
/// the indexing options, so a snapshot made with others is refused on read.
core::Result<void> write_bm25_snapshot(const std::string& path,
                                       const Bm25Snapshot& snapshot,
                                       std::uint64_t options_fingerprint);

/// Reads a snapshot; kCorrupt when anything is off (truncated, checksum, foreign options).
core::Result<Bm25Snapshot> read_bm25_snapshot(const std::string& path,
                                              std::uint64_t options_fingerprint);

}  // namespace ragd::retrieval
