// Splits a parsed document into overlapping chunks of approximately N tokens, preferring
// paragraph then sentence boundaries and never splitting inside a word.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ingest/document.hpp"

namespace ragd::ingest {

struct ChunkerOptions {
    std::size_t chunk_tokens = 300;  ///< target size in approximate tokens
    double overlap = 0.15;           ///< fraction of chunk_tokens repeated from the previous chunk
};

struct ChunkDraft {
    std::uint32_t ordinal = 0;  ///< 0-based position in the document
    std::string text;
    std::vector<std::string> heading_path;
    std::uint64_t source_begin = 0;  ///< byte range in the source (section-level precision or better)
    std::uint64_t source_end = 0;
};

/// Approximate token count: words plus punctuation runs, the way BPE tokenizers roughly count.
std::size_t approximate_tokens(std::string_view text);

/// Chunks never cross a section boundary (a chunk has one heading path). Empty sections yield
/// nothing; a document with no text yields no chunks.
std::vector<ChunkDraft> chunk_document(const ParsedDocument& doc, const ChunkerOptions& options);

}  // namespace ragd::ingest
