// libFuzzer harness for SseParser: the input (after two control bytes) is parsed in one feed,
// in pseudo-random splits and byte by byte; every way must give the same events, the same
// failure state and the same partial state, since upstreams split SSE streams anywhere.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "http/sse_parser.hpp"

namespace {

using ragd::http::SseParser;

struct Outcome {
    std::vector<SseParser::Event> events;
    bool failed = false;
    bool partial = false;
};

template <class NextLength>
Outcome parse(std::string_view input, std::size_t limit, NextLength next_length) {
    SseParser parser(limit);
    Outcome outcome;
    std::size_t offset = 0;
    while (offset < input.size()) {
        const std::size_t piece = std::min(next_length(), input.size() - offset);
        parser.feed(input.substr(offset, piece), outcome.events);
        offset += piece;
    }
    outcome.failed = parser.failed();
    outcome.partial = parser.has_partial();
    if (parser.failed() == parser.error().empty()) {
        std::abort();  // error() is set exactly when failed()
    }
    return outcome;
}

void check_same(const Outcome& a, const Outcome& b) {
    if (a.events != b.events || a.failed != b.failed || a.partial != b.partial) {
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) {
        return 0;
    }
    const std::uint8_t split_seed = data[0];
    // A small limit half of the time, so that failures happen and are split-independent too.
    const std::size_t limit = (data[1] & 1U) != 0 ? 16 + data[1] : SseParser::kDefaultMaxEventBytes;
    const std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);

    const Outcome whole = parse(input, limit, [&] { return input.size() + 1; });
    for (const auto& event : whole.events) {
        if (event.event.empty() || event.id.find('\0') != std::string_view::npos ||
            event.data.size() > limit) {
            std::abort();
        }
    }

    std::uint32_t state = split_seed * 2654435761U + 1U;
    const Outcome split = parse(input, limit, [&] {
        state = state * 1664525U + 1013904223U;
        return static_cast<std::size_t>((state >> 24U) % 9U);  // 0..8, empty feeds included
    });
    check_same(whole, split);

    if (input.size() <= 4096) {
        const Outcome bytes = parse(input, limit, [] { return std::size_t{1}; });
        check_same(whole, bytes);
    }
    return 0;
}
