// libFuzzer harness for W3C Trace Context parsing: `traceparent` and `tracestate` come from any
// client and are forwarded to LLM upstreams as request headers, so what ragd keeps must be
// well-formed (nothing that could split a header line) and stable. The input, after one byte
// choosing where to split it, is the two header values.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "http/trace_context.hpp"

namespace {

using ragd::http::TraceContext;

bool is_lower_hex(std::string_view text) {
    for (const char c : text) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

bool all_zero(std::string_view text) {
    return text.find_first_not_of('0') == std::string_view::npos;
}

/// Printable ASCII without the header's own separators: safe to put on a header line.
bool header_safe(std::string_view text) {
    for (const char c : text) {
        if (c < 0x20 || c > 0x7e) {
            return false;
        }
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) {
        return 0;
    }
    const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
    const std::size_t split = data[0] % (input.size() + 1);
    const std::string_view traceparent = input.substr(0, split);
    const std::string_view tracestate = input.substr(split);

    if (const auto parsed = ragd::http::parse_traceparent(traceparent)) {
        if (!is_lower_hex(parsed->trace_id_view()) || !is_lower_hex(parsed->parent_id_view()) ||
            all_zero(parsed->trace_id_view()) || all_zero(parsed->parent_id_view()) ||
            parsed->version == 0xff) {
            std::abort();
        }
    }
    if (const auto normalized = ragd::http::normalize_tracestate(tracestate)) {
        if (normalized->size() > ragd::http::kMaxTracestateBytes || !header_safe(*normalized)) {
            std::abort();
        }
        // What ragd forwards reads back as itself.
        if (ragd::http::normalize_tracestate(*normalized) != normalized) {
            std::abort();
        }
    }

    std::uint64_t counter = 0x9e3779b97f4a7c15ULL;
    const TraceContext trace =
        TraceContext::from_headers(traceparent, tracestate, [&counter] { return counter++; });
    const std::string forwarded = trace.traceparent();
    const auto reparsed = ragd::http::parse_traceparent(forwarded);
    if (!reparsed || reparsed->trace_id_view() != trace.trace_id() ||
        reparsed->parent_id_view() != trace.span_id() || reparsed->version != 0) {
        std::abort();  // the traceparent sent upstream is always valid, with ragd's span
    }
    if (!header_safe(trace.tracestate()) || (!trace.continued() && !trace.tracestate().empty())) {
        std::abort();  // a tracestate travels only with the trace it belongs to
    }
    return 0;
}
