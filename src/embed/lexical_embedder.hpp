// The built-in offline embedder: signed feature hashing of stemmed words, word bigrams and
// character n-grams. No model and no corpus statistics, so vectors never change as data grows.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "embed/embedder.hpp"

namespace ragd::embed {

/// Feature weights of the lexical embedder. The defaults were tuned on the pgdocs set
/// (tools/tune_retrieval.cpp); any change to them changes model_id().
struct LexicalEmbedderOptions {
    std::size_t dimensions = 512;  ///< 64..4096
    float word_weight = 1.0f;      ///< stemmed word feature
    float bigram_weight = 0.0f;    ///< adjacent non-stopword stem pair (0 = off)
    float ngram_weight = 0.25f;    ///< each character n-gram of a word (with boundary markers)
    std::size_t ngram_min = 3;     ///< shortest character n-gram, 2..8
    std::size_t ngram_max = 5;     ///< longest character n-gram, ngram_min..8
    float compound_weight = 1.0f;  ///< whole identifier joined by '_' (e.g. enable_seqscan)
};

/// Lexical feature-hashing embedder; stateless apart from per-thread caches, so thread-safe.
class LexicalHashEmbedder : public Embedder {
public:
    /// Throws std::invalid_argument on options outside the documented bounds.
    explicit LexicalHashEmbedder(const LexicalEmbedderOptions& options);

    /// "lexical-hash-v1-<dims>", plus "-o<hash>" when weights differ from the defaults.
    std::string model_id() const override { return model_id_; }
    std::size_t dimensions() const override { return options_.dimensions; }
    core::Result<std::vector<Vector>> embed(std::span<const std::string_view> texts,
                                            EmbedKind kind) const override;

    /// Embeds one text into `out` (resized to dimensions()); the allocation-free core of embed().
    void embed_one(std::string_view text, Vector& out) const;

private:
    LexicalEmbedderOptions options_;
    std::string model_id_;
};

/// The built-in embedder with default weights and `dimensions` (64..4096). Throws
/// std::invalid_argument outside that range (config validation rejects it at startup).
std::unique_ptr<Embedder> make_lexical_embedder(std::size_t dimensions);

/// Same, with explicit weights (for tuning and tests); throws like the constructor.
std::unique_ptr<Embedder> make_lexical_embedder(const LexicalEmbedderOptions& options);

/// The text embedded for a chunk: title and heading path are repeated so that they weigh more
/// than any single body sentence (a chunk is usually "about" its headings).
std::string compose_embedding_text(std::string_view title,
                                   std::span<const std::string> heading_path,
                                   std::string_view text);

}  // namespace ragd::embed
