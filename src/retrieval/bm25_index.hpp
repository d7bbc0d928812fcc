// Full-text BM25 index (English stemming), one document per chunk, in two backends: ragd's own
// in-memory index (memory_bm25_index.hpp, the default) and Xapian. Derived data: each records
// the change sequence it has applied with its postings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "storage/storage.hpp"

namespace ragd::retrieval {

/// Restricts a search; all given conditions must hold (AND).
struct SearchFilter {
    std::string source_prefix;   ///< chunk's document source starts with this (empty = any)
    storage::Metadata metadata;  ///< every key=value must match the document's metadata
    bool empty() const { return source_prefix.empty() && metadata.empty(); }
};

/// True when `chunk` (its document's source and metadata) passes `filter`.
bool filter_accepts(const SearchFilter& filter,
                    const std::string& source,
                    const storage::Metadata& metadata);

struct Bm25Hit {
    std::int64_t chunk_id = 0;
    double score = 0;
};

/// Thread-safe: one writer (add/remove/commit serialised internally) and concurrent searches.
class Bm25Index {
public:
    virtual ~Bm25Index() = default;
    /// Indexes a chunk (title and heading path weighted above body text), replacing any previous
    /// version with the same chunk id. Visible to searches after commit().
    virtual core::Result<void> add(const storage::IndexableChunk& chunk) = 0;
    virtual core::Result<void> remove(std::int64_t chunk_id) = 0;
    /// Makes pending changes visible, recording `applied_seq` atomically with them. Xapian also
    /// makes them durable here; the in-memory index does at persist().
    virtual core::Result<void> commit(std::int64_t applied_seq) = 0;
    /// Writes the committed state to disk if it changed since the last write (the in-memory
    /// index's snapshot; a no-op for Xapian, durable at every commit). What a crash loses
    /// before this is replayed from storage's change sequence on the next start.
    virtual core::Result<void> persist() { return {}; }
    virtual std::int64_t applied_seq() const = 0;
    /// Top k by BM25, best first; the query is parsed as free text (terms ORed, stemmed).
    virtual core::Result<std::vector<Bm25Hit>> search(const std::string& query,
                                                      std::size_t k,
                                                      const SearchFilter& filter = {}) const = 0;
    virtual std::size_t size() const = 0;  ///< committed chunk count
    virtual std::uint64_t disk_bytes() const = 0;
    /// Drops every chunk (for a rebuild); takes effect at the next commit.
    virtual core::Result<void> clear() = 0;
    /// Every committed chunk id, ascending: what a consistency check compares with storage.
    virtual core::Result<std::vector<std::int64_t>> chunk_ids() const = 0;
};

/// Indexing and ranking knobs; the defaults were tuned on the pgdocs set
/// (tools/tune_retrieval.cpp). Changing a wdf or identifier option needs a rebuild to apply.
struct Bm25Options {
    unsigned title_wdf = 3;              ///< within-document frequency added per title term
    unsigned heading_wdf = 2;            ///< same, per heading-path term
    bool index_identifier_parts = true;  ///< also index "enable" and "seqscan" of enable_seqscan
    double k1 = 1.0;                     ///< BM25 term-frequency saturation
    double b = 0.75;                     ///< BM25 document-length normalisation
    bool query_stopwords = false;        ///< drop English stopwords from queries
    /// ragd's in-memory index only: skip the postings of query terms that can no longer change
    /// the top k (same results either way; off only to check that in tests).
    bool prune_by_bounds = true;
};

/// Opens or creates the Xapian index in `<dir>/bm25`. A corrupt index is reported in
/// `*load_problem` and replaced by an empty one (applied_seq 0) so the caller rebuilds it. Fails
/// with kConflict when another process holds the index's write lock.
core::Result<std::unique_ptr<Bm25Index>> open_bm25_index(const std::string& dir,
                                                         std::string* load_problem = nullptr);

/// Same, with explicit options.
core::Result<std::unique_ptr<Bm25Index>> open_bm25_index(const std::string& dir,
                                                         const Bm25Options& options,
                                                         std::string* load_problem = nullptr);

}  // namespace ragd::retrieval
