// Invariants every parsed document and chunk list must satisfy, shared by the ingest fuzzers;
// a violation traps so libFuzzer records the input.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string_view>
#include <vector>

#include "core/utf8.hpp"
#include "ingest/chunker.hpp"
#include "ingest/document.hpp"

// Prints the failed condition, then traps so libFuzzer saves the input.
#define RAGD_FUZZ_REQUIRE(condition)                                                    \
    do {                                                                                \
        if (!(condition)) {                                                             \
            std::fprintf(stderr, "%s:%d: %s failed\n", __FILE__, __LINE__, #condition); \
            __builtin_trap();                                                           \
        }                                                                               \
    } while (false)

namespace ragd::ingest::fuzz {

inline void check_document(const ParsedDocument& doc, std::uint64_t source_size) {
    RAGD_FUZZ_REQUIRE(core::is_valid_utf8(doc.title));
    for (const Section& section : doc.sections) {
        RAGD_FUZZ_REQUIRE(!section.text.empty());
        RAGD_FUZZ_REQUIRE(core::is_valid_utf8(section.text));
        RAGD_FUZZ_REQUIRE(section.source_begin <= section.source_end);
        RAGD_FUZZ_REQUIRE(section.source_end <= source_size);
        for (const std::string& heading : section.heading_path) {
            RAGD_FUZZ_REQUIRE(core::is_valid_utf8(heading));
        }
        std::uint64_t prev_text = 0;
        std::uint64_t prev_source = section.source_begin;
        for (const SourceAnchor& anchor : section.anchors) {
            RAGD_FUZZ_REQUIRE(anchor.text_offset >= prev_text &&
                              anchor.text_offset < section.text.size());
            RAGD_FUZZ_REQUIRE(anchor.source_offset >= prev_source &&
                              anchor.source_offset <= section.source_end);
            prev_text = anchor.text_offset;
            prev_source = anchor.source_offset;
        }
    }
}

inline void check_chunks(const ParsedDocument& doc,
                         const std::vector<ChunkDraft>& chunks,
                         const ChunkerOptions& options) {
    const std::size_t target = options.chunk_tokens == 0 ? 1 : options.chunk_tokens;
    for (std::size_t idx = 0; idx < chunks.size(); ++idx) {
        const ChunkDraft& chunk = chunks[idx];
        RAGD_FUZZ_REQUIRE(chunk.ordinal == idx);
        RAGD_FUZZ_REQUIRE(!chunk.text.empty());
        RAGD_FUZZ_REQUIRE(core::is_valid_utf8(chunk.text));
        RAGD_FUZZ_REQUIRE(chunk.source_begin <= chunk.source_end);
        RAGD_FUZZ_REQUIRE(approximate_tokens(chunk.text) <= 2 * target + 8);
    }
    if (doc.sections.empty()) {
        RAGD_FUZZ_REQUIRE(chunks.empty());
    }
}

}  // namespace ragd::ingest::fuzz
