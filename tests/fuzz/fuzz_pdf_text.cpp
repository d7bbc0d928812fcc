// libFuzzer: removing page furniture and rejoining a PDF page's lines (ingest/pdf_text.hpp) must
// never crash, and what comes out must be clean paragraphs of valid UTF-8 that chunk like any
// other section. The page
// text comes from poppler, i.e. from whatever a PDF file says, so any bytes are possible. (poppler
// itself is a Debian library, not instrumented here.)
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/ingest_fuzz_checks.hpp"
#include "ingest/pdf_text.hpp"
#include "ingest/section_builder.hpp"

namespace {

// Page furniture removal on the input split at form feeds (one page each): it may only blank
// whole lines, so every page keeps its line breaks and never grows.
void check_furniture(std::string_view bytes) {
    std::vector<std::string> pages;
    for (std::size_t begin = 0; begin <= bytes.size() && pages.size() < 64;) {
        std::size_t end = std::min(bytes.find('\f', begin), bytes.size());
        pages.emplace_back(bytes.substr(begin, end - begin));
        begin = end + 1;
    }
    const std::vector<std::string> stripped = ragd::ingest::strip_page_furniture(pages);
    RAGD_FUZZ_REQUIRE(stripped.size() == pages.size());
    for (std::size_t i = 0; i < pages.size(); ++i) {
        RAGD_FUZZ_REQUIRE(stripped[i].size() <= pages[i].size());
        RAGD_FUZZ_REQUIRE(std::count(stripped[i].begin(), stripped[i].end(), '\n') ==
                          std::count(pages[i].begin(), pages[i].end(), '\n'));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace ragd::ingest;  // NOLINT(google-build-using-namespace): harness scope only
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    check_furniture(bytes);
    const std::string text = reflow_pdf_page(bytes);
    if (text.empty()) {
        return 0;
    }
    RAGD_FUZZ_REQUIRE(ragd::core::is_valid_utf8(text));
    RAGD_FUZZ_REQUIRE(!is_ascii_space(text.front()) && !is_ascii_space(text.back()));
    RAGD_FUZZ_REQUIRE(text.find("\n\n\n") == std::string::npos);
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto byte = static_cast<unsigned char>(text[i]);
        RAGD_FUZZ_REQUIRE(byte >= 0x20 || byte == '\n');
        RAGD_FUZZ_REQUIRE(byte != 0x7F);
        if (byte == '\n') {  // only paragraph breaks, never a line break inside a paragraph
            RAGD_FUZZ_REQUIRE(i + 1 < text.size() &&
                              (text[i + 1] == '\n' || (i > 0 && text[i - 1] == '\n')));
        }
    }
    // Rejoining only removes: every non-space byte of the sanitized input is still there, so
    // the output is never longer than the input with each bad byte replaced (3 bytes).
    RAGD_FUZZ_REQUIRE(text.size() <= 3 * size);

    ParsedDocument doc;
    Section section;
    section.text = text;
    section.source_end = size;
    doc.sections.push_back(section);
    fuzz::check_document(doc, size);
    ChunkerOptions options;
    options.chunk_tokens = 32;
    fuzz::check_chunks(doc, chunk_document(doc, options), options);
    return 0;
}
