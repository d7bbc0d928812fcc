// W3C Trace Context (https://www.w3.org/TR/trace-context/, level 1): reads the caller's
// `traceparent` and `tracestate`, gives each request ragd's own span id, and formats the
// `traceparent` that upstream calls carry, so that ragd appears in the caller's trace.
// Plain strings in and out: no Beast, usable from any layer that links ragd_http.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace ragd::http {

/// The fields of a valid `traceparent` header, ids as lower-case hex.
struct TraceParent {
    std::uint8_t version = 0;
    std::array<char, 32> trace_id{};
    std::array<char, 16> parent_id{};
    std::uint8_t flags = 0;

    std::string_view trace_id_view() const { return {trace_id.data(), trace_id.size()}; }
    std::string_view parent_id_view() const { return {parent_id.data(), parent_id.size()}; }
};

/// Parses `traceparent` as the spec says: version 00 is exactly `00-<32 hex>-<16 hex>-<2 hex>`;
/// a later version (01..fe) is read by the same layout and may have more after a '-'; version ff,
/// upper-case hex, an all-zero trace id or parent id, and anything else malformed give nullopt.
/// Surrounding spaces and tabs (optional whitespace) are ignored.
std::optional<TraceParent> parse_traceparent(std::string_view header);

/// `tracestate` as it may be propagated: the members of a valid list (at most 32, each
/// `key=value` with the spec's key and value characters), joined by ','; nullopt when the header
/// is longer than kMaxTracestateBytes or malformed, in which case the spec says to drop it
/// whole. Empty members (",,") are skipped.
std::optional<std::string> normalize_tracestate(std::string_view header);

/// Longest `tracestate` carried on; longer ones are dropped.
inline constexpr std::size_t kMaxTracestateBytes = 512;

/// 64 random bits per call; ids are built from it so that tests can inject a sequence.
using RandomBits = std::function<std::uint64_t()>;
/// A per-thread std::mt19937_64 seeded from std::random_device (ids need uniqueness, not
/// secrecy).
std::uint64_t thread_random_bits();

/// The trace context of one request as ragd handles it.
class TraceContext {
public:
    /// From the request's headers (empty view = header absent; pass the values of repeated
    /// `tracestate` headers joined by ','; pass an empty traceparent when it was repeated, which
    /// the spec treats as invalid). An absent or invalid traceparent starts a new trace (random
    /// trace id, flags 00) and the tracestate is then ignored. ragd's span id is always new.
    static TraceContext from_headers(std::string_view traceparent,
                                     std::string_view tracestate,
                                     const RandomBits& random = thread_random_bits);

    /// 32 lower-case hex digits.
    std::string_view trace_id() const { return {trace_id_.data(), trace_id_.size()}; }
    /// ragd's span for this request: 16 lower-case hex digits.
    std::string_view span_id() const { return {span_id_.data(), span_id_.size()}; }
    /// The caller's span id, empty when ragd started the trace.
    std::string_view parent_id() const;
    /// Whether the request carried a valid traceparent (the trace continues the caller's).
    bool continued() const { return continued_; }
    /// Flags carried on: only the sampled bit (0x01), as level 1 defines no others.
    std::uint8_t flags() const { return flags_; }
    bool sampled() const { return (flags_ & 0x01) != 0; }
    /// The tracestate to forward unchanged, empty when none.
    const std::string& tracestate() const { return tracestate_; }

    /// `00-<trace id>-<ragd's span id>-<flags>`: the traceparent for an upstream call, which
    /// makes ragd's span the upstream's parent.
    std::string traceparent() const;

private:
    std::array<char, 32> trace_id_{};
    std::array<char, 16> span_id_{};
    std::array<char, 16> parent_id_{};
    std::uint8_t flags_ = 0;
    bool continued_ = false;
    std::string tracestate_;
};

}  // namespace ragd::http
