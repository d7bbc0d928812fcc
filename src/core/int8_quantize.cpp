#include "core/int8_quantize.hpp"

#include <algorithm>
#include <cmath>

namespace ragd::core {

float quantize_int8(std::span<const float> values, std::span<std::int8_t> out) {
    constexpr float kLevels = 127.0f;
    // Adding and subtracting 1.5 * 2^23 rounds a float of magnitude under 2^22 to the nearest
    // integer, ties to even: exactly std::nearbyint in the default rounding mode, which ragd
    // never changes. Unlike nearbyint (a libm call per value at baseline x86-64, no SSE4.1
    // round), it vectorizes: quantizing was ~2 % of a bulk ingest, twice per chunk.
    constexpr float kRoundingMagic = 12582912.0f;
    float max_abs = 0;
    for (float value : values) {
        max_abs = std::max(max_abs, std::fabs(value));
    }
    const float inverse = max_abs > 0 ? kLevels / max_abs : 0.0f;
    for (std::size_t dim = 0; dim < values.size(); ++dim) {
        const float scaled = std::clamp(values[dim] * inverse, -kLevels, kLevels);
        const float level = (scaled + kRoundingMagic) - kRoundingMagic;
        out[dim] = static_cast<std::int8_t>(level);
    }
    return max_abs > 0 ? max_abs / kLevels : 0.0f;
}

}  // namespace ragd::core
