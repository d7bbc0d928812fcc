#include "storage/vector_codec.hpp"

#include <bit>
#include <cstdint>
#include <cstring>

#include "core/int8_quantize.hpp"

namespace ragd::storage {
namespace {

/// A quiet NaN with a payload: the first four bytes of an int8 blob. A float32 blob starts
/// with its first component, which is finite.
constexpr std::uint32_t kInt8Marker = 0x7ff08a01;
constexpr std::size_t kInt8Header = 2 * sizeof(std::uint32_t);  // marker, scale

void put_u32(char* out, std::uint32_t bits) {
    for (std::size_t b = 0; b < 4; ++b) {
        out[b] = static_cast<char>((bits >> (8 * b)) & 0xff);
    }
}

std::uint32_t get_u32(const char* in) {
    std::uint32_t bits = 0;
    for (std::size_t b = 0; b < 4; ++b) {
        bits |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[b])) << (8 * b);
    }
    return bits;
}

bool is_int8(std::string_view blob) {
    return blob.size() >= kInt8Header && get_u32(blob.data()) == kInt8Marker;
}

std::string encode_int8(std::span<const float> values) {
    std::string blob(kInt8Header + values.size(), '\0');
    auto* bytes = reinterpret_cast<std::int8_t*>(blob.data() + kInt8Header);
    const float scale = core::quantize_int8(values, {bytes, values.size()});
    put_u32(blob.data(), kInt8Marker);
    put_u32(blob.data() + 4, std::bit_cast<std::uint32_t>(scale));
    return blob;
}

std::string encode_float32(std::span<const float> values) {
    std::string blob(values.size() * sizeof(float), '\0');
    if (values.empty()) {
        return blob;  // memcpy from an empty span's null data() is undefined
    }
    if constexpr (std::endian::native == std::endian::little) {
        std::memcpy(blob.data(), values.data(), blob.size());
    } else {
        for (std::size_t idx = 0; idx < values.size(); ++idx) {
            put_u32(blob.data() + idx * 4, std::bit_cast<std::uint32_t>(values[idx]));
        }
    }
    return blob;
}

}  // namespace

std::string encode_embedding(std::span<const float> values, EmbeddingEncoding encoding) {
    return encoding == EmbeddingEncoding::kInt8 ? encode_int8(values) : encode_float32(values);
}

std::vector<float> decode_embedding(std::string_view blob) {
    if (is_int8(blob)) {
        const float scale = std::bit_cast<float>(get_u32(blob.data() + 4));
        std::vector<float> values(blob.size() - kInt8Header);
        for (std::size_t dim = 0; dim < values.size(); ++dim) {
            values[dim] =
                scale * static_cast<float>(static_cast<std::int8_t>(blob[kInt8Header + dim]));
        }
        return values;
    }
    std::vector<float> values(blob.size() / sizeof(float));
    if (values.empty()) {
        return values;  // an empty blob may come with a null data()
    }
    if constexpr (std::endian::native == std::endian::little) {
        std::memcpy(values.data(), blob.data(), values.size() * sizeof(float));
    } else {
        for (std::size_t idx = 0; idx < values.size(); ++idx) {
            values[idx] = std::bit_cast<float>(get_u32(blob.data() + idx * 4));
        }
    }
    return values;
}

std::string_view to_string(EmbeddingEncoding encoding) {
    return encoding == EmbeddingEncoding::kInt8 ? "int8" : "float32";
}

}  // namespace ragd::storage
