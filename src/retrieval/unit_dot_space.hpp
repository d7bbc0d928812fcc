// The distance hnswlib uses for ragd's unit vectors: 1 - dot(a, b). Ours instead of hnswlib's
// InnerProductSpace because hnswlib is included with NO_MANUAL_VECTORIZATION (its SSE path
// prefetches by reading one link past the end of a neighbour list, a heap over-read that
// AddressSanitizer rightly reports), which would leave it a scalar loop; this one is compiled
// for AVX2 and for baseline x86-64 and picks at load time.
#pragma once

#ifndef NO_MANUAL_VECTORIZATION
#define NO_MANUAL_VECTORIZATION
#endif
#include <hnswlib/hnswlib.h>

#include <cstddef>

#include "core/dot_product.hpp"

namespace ragd::retrieval {

using core::dot_product;

class UnitDotSpace final : public hnswlib::SpaceInterface<float> {
public:
    explicit UnitDotSpace(std::size_t dimensions) : dimensions_(dimensions) {}
    std::size_t get_data_size() override { return dimensions_ * sizeof(float); }
    hnswlib::DISTFUNC<float> get_dist_func() override { return &distance; }
    void* get_dist_func_param() override { return &dimensions_; }

private:
    static float distance(const void* a, const void* b, const void* dimensions) {
        return 1.0f - dot_product(static_cast<const float*>(a), static_cast<const float*>(b),
                                  *static_cast<const std::size_t*>(dimensions));
    }

    std::size_t dimensions_;
};

}  // namespace ragd::retrieval
