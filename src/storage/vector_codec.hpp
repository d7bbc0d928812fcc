// How an embedding is laid out in the embeddings table's `vector` blob. Two encodings:
//
//   float32: the model's floats, little-endian, 4 bytes per dimension (exact).
//   int8:    a 4-byte marker (a NaN bit pattern, which no stored float32 vector can start with:
//            upsert rejects non-finite values), the float scale max|v| / 127, then one signed
//            byte per dimension, round(v / scale) in [-127, 127]. A quarter of the bytes.
//
// int8 is the quantization the HNSW index applies to every vector anyway (one function,
// core/int8_quantize.hpp), so search results do not change; what is lost is the float the model
// returned, to within max|v| / 254 per component. Both read back on any configuration: the
// setting only decides how new vectors are written.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ragd::storage {

enum class EmbeddingEncoding { kInt8, kFloat32 };

/// The blob for `values` in `encoding`. `values` must be finite (upsert checks).
std::string encode_embedding(std::span<const float> values, EmbeddingEncoding encoding);

/// The floats of a blob in either encoding; an int8 blob decodes to scale × byte.
std::vector<float> decode_embedding(std::string_view blob);

/// "int8" / "float32" (the config spellings).
std::string_view to_string(EmbeddingEncoding encoding);

}  // namespace ragd::storage
