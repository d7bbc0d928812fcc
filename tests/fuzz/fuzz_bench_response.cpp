// libFuzzer harness for the load generator's response parser (ragd bench reads whatever the
// server under test sends). The input, after two control bytes, is one connection's bytes: they
// are fed in one piece, in pseudo-random splits and byte by byte, and every way must frame the
// same response (same bytes consumed, state, status, body size and flags), since TCP splits
// responses anywhere. A parser that stops early must say why.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "loadgen/response_parser.hpp"

namespace {

using ragd::loadgen::ResponseParser;

struct Outcome {
    std::size_t consumed = 0;
    ResponseParser::State state = ResponseParser::State::kHead;
    int status = 0;
    bool keep_alive = false;
    bool event_stream = false;
    bool saw_sse_data = false;
    std::uint64_t body_bytes = 0;
    ResponseParser::State state_after_eof = ResponseParser::State::kHead;

    bool operator==(const Outcome&) const = default;
};

template <class NextLength>
Outcome parse(ResponseParser& parser,
              std::string_view input,
              bool head_request,
              NextLength next_length) {
    parser.reset(head_request);
    Outcome outcome;
    while (outcome.consumed < input.size()) {
        const std::size_t piece = std::min(next_length(), input.size() - outcome.consumed);
        const std::size_t used = parser.feed(input.substr(outcome.consumed, piece));
        if (used > piece) {
            std::abort();
        }
        outcome.consumed += used;
        if (parser.complete() || parser.failed()) {
            break;
        }
        if (used != piece) {
            std::abort();  // an unfinished response consumes everything it is given
        }
    }
    outcome.state = parser.state();
    outcome.status = parser.status();
    outcome.keep_alive = parser.keep_alive();
    outcome.event_stream = parser.event_stream();
    outcome.saw_sse_data = parser.saw_sse_data();
    outcome.body_bytes = parser.body_bytes();
    if (parser.failed() == parser.error().empty()) {
        std::abort();  // error() is set exactly when failed()
    }
    if (parser.complete() && (parser.status() < 100 || parser.status() > 999)) {
        std::abort();
    }
    if (parser.body_bytes() > outcome.consumed) {
        std::abort();  // decoded body bytes cannot exceed the bytes read
    }
    if (!parser.complete() && !parser.failed()) {
        parser.finish_on_eof();
        if (!parser.complete() && !parser.failed()) {
            std::abort();  // end of stream settles every response
        }
    }
    outcome.state_after_eof = parser.state();
    return outcome;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) {
        return 0;
    }
    const bool head_request = (data[0] & 1U) != 0;
    std::uint32_t split_state = data[1] + 1U;
    const std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);

    // One parser reused across the three runs, as a connection reuses it across requests.
    ResponseParser parser;
    const Outcome whole = parse(parser, input, head_request, [&] { return input.size() + 1; });
    const Outcome split = parse(parser, input, head_request, [&] {
        split_state = split_state * 1103515245U + 12345U;
        return std::size_t{1} + (split_state >> 16U) % 97U;
    });
    if (!(whole == split)) {
        std::abort();
    }
    if (input.size() <= 4096) {
        const Outcome bytes = parse(parser, input, head_request, [] { return std::size_t{1}; });
        if (!(whole == bytes)) {
            std::abort();
        }
    }
    return 0;
}
