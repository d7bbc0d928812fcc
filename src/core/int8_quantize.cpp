#include "core/int8_quantize.hpp"

#include <algorithm>
#include <cmath>

namespace ragd::core {

float quantize_int8(std::span<const float> values, std::span<std::int8_t> out) {
    constexpr float kLevels = 127.0f;
    float max_abs = 0;
    for (float value : values) {
        max_abs = std::max(max_abs, std::fabs(value));
    }
    const float inverse = max_abs > 0 ? kLevels / max_abs : 0.0f;
    for (std::size_t dim = 0; dim < values.size(); ++dim) {
        const float level = std::clamp(std::nearbyint(values[dim] * inverse), -kLevels, kLevels);
        out[dim] = static_cast<std::int8_t>(level);
    }
    return max_abs > 0 ? max_abs / kLevels : 0.0f;
}

}  // namespace ragd::core
