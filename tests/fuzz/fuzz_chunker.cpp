// libFuzzer: the chunker on plain text with small options taken from the first two bytes. For
// inputs normalisation leaves unchanged, chunk source ranges must hold exactly the chunk's text.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/ingest_fuzz_checks.hpp"
#include "ingest/normalize.hpp"
#include "ingest/parser.hpp"

namespace {

bool is_space(char c) {
    return c == ' ' || c == '\n' || c == '\t' || c == '\f' || c == '\v';
}

std::string squeeze(std::string_view text) {
    std::string out;
    bool space = false;
    for (const char c : text) {
        if (is_space(c)) {
            space = true;
            continue;
        }
        if (space && !out.empty()) {
            out.push_back(' ');
        }
        space = false;
        out.push_back(c);
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace ragd::ingest;  // NOLINT(google-build-using-namespace): harness scope only
    if (size < 2) {
        return 0;
    }
    ChunkerOptions options;
    options.chunk_tokens = data[0] % 64;  // 0 is clamped to 1
    options.overlap = static_cast<double>(data[1] % 64) / 100.0;
    const std::string_view bytes(reinterpret_cast<const char*>(data + 2), size - 2);
    auto doc = parse_text(bytes);
    if (!doc) {
        RAGD_FUZZ_REQUIRE(bytes.find('\0') != std::string_view::npos);
        return 0;
    }
    fuzz::check_document(*doc, bytes.size());
    const auto chunks = chunk_document(*doc, options);
    fuzz::check_chunks(*doc, chunks, options);

    auto input = normalize_input(bytes);
    RAGD_FUZZ_REQUIRE(input.has_value());
    if (input->text() != bytes) {
        return 0;
    }
    std::vector<bool> covered(bytes.size(), false);
    for (std::size_t idx = 0; idx < chunks.size(); ++idx) {
        const ChunkDraft& chunk = chunks[idx];
        RAGD_FUZZ_REQUIRE(chunk.source_end <= bytes.size());
        // Paragraph separators are normalised to "\n\n", so compare modulo whitespace runs.
        RAGD_FUZZ_REQUIRE(
            squeeze(bytes.substr(chunk.source_begin, chunk.source_end - chunk.source_begin)) ==
            squeeze(chunk.text));
        for (std::uint64_t pos = chunk.source_begin; pos < chunk.source_end; ++pos) {
            covered[pos] = true;
        }
        if (idx > 0) {
            RAGD_FUZZ_REQUIRE(chunk.source_end > chunks[idx - 1].source_end);
        }
    }
    for (std::size_t pos = 0; pos < bytes.size(); ++pos) {
        RAGD_FUZZ_REQUIRE(covered[pos] || is_space(bytes[pos]) || bytes[pos] == '\r');
    }
    return 0;
}
