// The dot product of float vectors, shared by the HNSW distance (retrieval/) and the semantic
// cache (cache/): the hottest loop in both.
#pragma once

#include <cstddef>

namespace ragd::core {

/// dot(a, b) over `dimensions` floats; independent partial sums let the compiler use
/// full-width SIMD without -ffast-math.
float dot_product(const float* a, const float* b, std::size_t dimensions);

}  // namespace ragd::core
