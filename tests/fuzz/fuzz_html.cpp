// libFuzzer: HTML parsing then chunking must never crash and must keep ingest's invariants.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/ingest_fuzz_checks.hpp"
#include "ingest/parser.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace ragd::ingest;  // NOLINT(google-build-using-namespace): harness scope only
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    auto doc = parse_html(bytes);
    if (!doc) {
        RAGD_FUZZ_REQUIRE(bytes.find('\0') != std::string_view::npos);
        return 0;
    }
    fuzz::check_document(*doc, size);
    ChunkerOptions options;
    options.chunk_tokens = 32;
    fuzz::check_chunks(*doc, chunk_document(*doc, options), options);
    return 0;
}
