// ragd's own BM25 index (retrieval.bm25_backend = "memory"): postings in memory, persisted as a
// snapshot file beside the database (<dir>/bm25-memory.bin) by persist().
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "retrieval/bm25_index.hpp"

namespace ragd::retrieval {

/// Opens the index in `dir`, loading its snapshot. A damaged snapshot, or one written with other
/// indexing options, is reported in `*load_problem` and the index starts empty (applied_seq 0)
/// so the caller rebuilds it. Fails with kConflict when another process holds the index.
core::Result<std::unique_ptr<Bm25Index>> open_memory_bm25_index(const std::string& dir,
                                                                const Bm25Options& options,
                                                                std::string* load_problem);

/// Searches (of every memory index in this process) that stopped walking postings early
/// because the terms left could not change the top k (Bm25Options::prune_by_bounds). For
/// tests and benchmarks: it tells whether the pruned path ran at all.
std::uint64_t memory_bm25_pruned_searches();

}  // namespace ragd::retrieval
