// The Embedder interface: a batch of texts in, unit-length vectors out, with the model id that
// is stored beside each vector (vectors of different models are never compared).
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace ragd::embed {

using Vector = std::vector<float>;

/// Some models embed queries and passages differently (e.g. instruction prefixes).
enum class EmbedKind { kDocument, kQuery };

class HttpEmbedder;

class Embedder {
public:
    virtual ~Embedder() = default;
    /// Identifies the model and its parameters; changes whenever vectors would change.
    virtual std::string model_id() const = 0;
    virtual std::size_t dimensions() const = 0;
    /// Embeds each text; every returned vector has dimensions() floats and L2 norm 1 (or is all
    /// zeros for a text with no features). Thread-safe.
    virtual core::Result<std::vector<Vector>> embed(std::span<const std::string_view> texts,
                                                    EmbedKind kind) const = 0;
    /// Non-null when embed() waits on a network service (http_embedder.hpp): code on an I/O
    /// thread must then call its embed_async() instead, which does not block the thread.
    virtual const HttpEmbedder* remote() const { return nullptr; }
};

}  // namespace ragd::embed
