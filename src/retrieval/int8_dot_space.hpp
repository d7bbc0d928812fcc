// The space hnswlib builds the vector index in: each unit vector stored as one float scale plus
// one signed byte per dimension, distance 1 - dot(a, b). A quarter of the float layout's bytes,
// and graph construction is bound by memory traffic (each distance touches a vector that is
// rarely in cache), so building the graph is ~2.7x faster; the ranking cost, measured on pgdocs,
// is in bench/README.md. hnswlib is included with NO_MANUAL_VECTORIZATION (its SSE path
// prefetches one link past the end of a neighbour list, a heap over-read ASan rightly reports).
#pragma once

#ifndef NO_MANUAL_VECTORIZATION
#define NO_MANUAL_VECTORIZATION
#endif
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <hnswlib/hnswlib.h>

namespace ragd::retrieval {

/// dot(a, b) of `dimensions` signed bytes in [-127, 127] (no -128: the SIMD kernels multiply
/// magnitudes as unsigned bytes). AVX2 when the CPU has it (chosen once per process), else a
/// portable loop; every kernel returns the exact integer sum.
std::int32_t int8_dot_product(const std::int8_t* a, const std::int8_t* b, std::size_t dimensions);

/// One dot-product kernel, named, so tests can check each one this CPU can run (not only the
/// one int8_dot_product picked).
struct Int8DotKernel {
    const char* name;
    std::int32_t (*dot)(const std::int8_t* a, const std::int8_t* b, std::size_t dimensions);
};
/// Every kernel this CPU can run, portable first.
std::vector<Int8DotKernel> int8_dot_kernels_for_this_cpu();

class Int8DotSpace final : public hnswlib::SpaceInterface<float> {
public:
    explicit Int8DotSpace(std::size_t dimensions) : dimensions_(dimensions) {}

    /// Bytes of one encoded vector: the float scale, then one byte per dimension.
    std::size_t encoded_bytes() const { return sizeof(float) + dimensions_; }
    /// Encodes `vector` (dimensions() floats) into `out` (encoded_bytes()): each component
    /// rounded to the nearest multiple of max|v| / 127, so the error per component is at most
    /// max|v| / 254 and the dot product of two encoded unit vectors is off by ~1e-3 at 512
    /// dimensions.
    void encode(std::span<const float> vector, std::span<std::byte> out) const;
    /// Inner product of two encoded vectors.
    static float dot(const void* a, const void* b, std::size_t dimensions);

    std::size_t get_data_size() override { return encoded_bytes(); }
    /// 1 - dot(a, b), with the kernel for this CPU chosen once (no dispatch per distance).
    hnswlib::DISTFUNC<float> get_dist_func() override;
    void* get_dist_func_param() override { return &dimensions_; }

private:
    std::size_t dimensions_;
};

}  // namespace ragd::retrieval
