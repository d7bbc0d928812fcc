// Per-vector int8 quantization, shared by the HNSW index's space (retrieval/) and the stored
// embedding format (storage/): both must round a vector to the very same bytes, so that an
// index rebuilt from storage equals the one built at ingest.
#pragma once

#include <cstdint>
#include <span>

namespace ragd::core {

/// Writes round(v / scale) clamped to [-127, 127] for each of `values` into `out` (same size)
/// and returns scale = max|v| / 127 (0 for an all-zero vector). -128 never occurs, which the
/// SIMD dot-product kernels rely on. The error per component is at most max|v| / 254.
float quantize_int8(std::span<const float> values, std::span<std::int8_t> out);

}  // namespace ragd::core
