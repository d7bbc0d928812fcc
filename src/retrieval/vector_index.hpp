// Approximate nearest-neighbour index over unit vectors (hnswlib, inner product), labelled by
// chunk id. Derived data: persisted beside the database with the change sequence it reflects.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace ragd::retrieval {

struct VectorIndexOptions {
    std::size_t dimensions = 512;
    std::size_t m = 16;
    std::size_t ef_construction = 100;
    std::size_t ef_search = 128;
    /// The embedder's model id, recorded in the meta file: an index built by another model
    /// (same dimensions or not) is not loaded but rebuilt, since its vectors are not comparable
    /// with the new model's queries. "" skips the check.
    std::string model_id;
};

struct VectorHit {
    std::int64_t chunk_id = 0;
    /// Inner product of unit vectors, i.e. cosine, as the index stores them: int8-quantised,
    /// so within about 1e-2 of the exact value (ranking is what it is for).
    float similarity = 0;
};

/// Thread-safe: searches run concurrently with each other and with add/remove.
class VectorIndex {
public:
    virtual ~VectorIndex() = default;
    /// Adds or replaces the vector for chunk_id. `vector` must have dimensions() floats.
    virtual core::Result<void> add(std::int64_t chunk_id, std::span<const float> vector) = 0;
    /// Removes chunk_id if present.
    virtual void remove(std::int64_t chunk_id) = 0;
    /// Top k by similarity, best first. `accept` (optional) filters labels; the index
    /// oversamples so that up to k accepted hits are found when they exist.
    virtual std::vector<VectorHit> search(
        std::span<const float> query,
        std::size_t k,
        const std::function<bool(std::int64_t)>& accept = {}) const = 0;
    virtual std::size_t size() const = 0;  ///< live (not removed) vectors
    virtual std::size_t dimensions() const = 0;
    /// Change sequence the persisted/in-memory state reflects.
    virtual std::int64_t applied_seq() const = 0;
    virtual void set_applied_seq(std::int64_t seq) = 0;
    /// Writes the index atomically (temp file + fsync + rename) with applied_seq.
    virtual core::Result<void> save() = 0;
    virtual std::uint64_t memory_bytes() const = 0;
    /// Every live (not removed) chunk id, ascending: what a consistency check compares with
    /// storage.
    virtual std::vector<std::int64_t> chunk_ids() const = 0;
    /// Drops every vector and resets applied_seq to 0 (for a rebuild from storage).
    virtual void clear() = 0;
};

/// Loads `<dir>/vectors.hnsw` if present and valid for these options; otherwise returns an empty
/// index with applied_seq 0 (the caller rebuilds). A file that fails to load is reported in
/// `*load_problem` (if given) and treated as missing: derived data is never trusted blindly.
core::Result<std::unique_ptr<VectorIndex>> open_vector_index(const std::string& dir,
                                                             const VectorIndexOptions& options,
                                                             std::string* load_problem = nullptr);

}  // namespace ragd::retrieval
