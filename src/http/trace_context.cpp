// traceparent/tracestate parsing and id generation. Strict where the spec is strict (lower-case
// hex, fixed layout, no all-zero ids) because an id ragd accepts ends up in logs and in upstream
// requests; lenient only where the spec asks (later versions, empty tracestate members).
#include "http/trace_context.hpp"

#include <algorithm>
#include <random>

namespace ragd::http {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr std::size_t kTraceparentV0Bytes = 55;  // 2 + 1 + 32 + 1 + 16 + 1 + 2
constexpr std::size_t kMaxTracestateMembers = 32;

int lower_hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

bool is_lower_hex(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) { return lower_hex_value(c) >= 0; });
}

bool is_all_zero(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) { return c == '0'; });
}

std::uint8_t hex_byte(std::string_view two_digits) {
    return static_cast<std::uint8_t>(lower_hex_value(two_digits[0]) * 16 +
                                     lower_hex_value(two_digits[1]));
}

std::string_view trim_ows(std::string_view text) {
    const auto first = text.find_first_not_of(" \t");
    if (first == std::string_view::npos) {
        return {};
    }
    const auto last = text.find_last_not_of(" \t");
    return text.substr(first, last - first + 1);
}

template <std::size_t N>
void fill_random_hex(std::array<char, N>& out, const RandomBits& random) {
    // An all-zero id is invalid; with 64 random bits per word it is astronomically unlikely, but
    // a test's random source may return zeros, so draw again (bounded) rather than emit one.
    for (int attempt = 0; attempt < 8; ++attempt) {
        for (std::size_t word_start = 0; word_start < N; word_start += 16) {
            std::uint64_t bits = random();
            for (std::size_t digit_idx = word_start; digit_idx < std::min(N, word_start + 16);
                 ++digit_idx) {
                out[digit_idx] = kHexDigits[bits & 0xF];
                bits >>= 4;
            }
        }
        if (!is_all_zero({out.data(), N})) {
            return;
        }
    }
    out[N - 1] = '1';
}

// tracestate keys: simple-key = lcalpha 0*255(lcalpha / DIGIT / "_" / "-"/ "*" / "/"), or
// multi-tenant tenant@system where the tenant may start with a digit (at most 241 chars) and
// the system is at most 14 chars starting with lcalpha.
bool is_key_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '*' ||
           c == '/';
}

bool is_valid_tracestate_key(std::string_view key) {
    const auto at = key.find('@');
    if (at == std::string_view::npos) {
        return !key.empty() && key.size() <= 256 && key[0] >= 'a' && key[0] <= 'z' &&
               std::all_of(key.begin(), key.end(), is_key_char);
    }
    const std::string_view tenant = key.substr(0, at);
    const std::string_view system = key.substr(at + 1);
    const auto starts_ok = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    };
    return !tenant.empty() && tenant.size() <= 241 && starts_ok(tenant[0]) &&
           std::all_of(tenant.begin(), tenant.end(), is_key_char) && !system.empty() &&
           system.size() <= 14 && system[0] >= 'a' && system[0] <= 'z' &&
           std::all_of(system.begin(), system.end(), is_key_char);
}

// value = 0*255(chr) nblk-chr, chr = %x20 / nblk-chr, nblk-chr = %x21-2B / %x2D-3C / %x3E-7E
bool is_valid_tracestate_value(std::string_view value) {
    if (value.empty() || value.size() > 256 || value.back() == ' ') {
        return false;
    }
    return std::all_of(value.begin(), value.end(), [](char c) {
        return c >= 0x20 && c <= 0x7E && c != ',' && c != '=';
    });
}

}  // namespace

std::optional<TraceParent> parse_traceparent(std::string_view header) {
    header = trim_ows(header);
    if (header.size() < kTraceparentV0Bytes) {
        return std::nullopt;
    }
    const std::string_view version = header.substr(0, 2);
    if (!is_lower_hex(version) || version == "ff") {
        return std::nullopt;
    }
    if (header[2] != '-' || header[35] != '-' || header[52] != '-') {
        return std::nullopt;
    }
    const std::string_view trace_id = header.substr(3, 32);
    const std::string_view parent_id = header.substr(36, 16);
    const std::string_view flags = header.substr(53, 2);
    if (!is_lower_hex(trace_id) || !is_lower_hex(parent_id) || !is_lower_hex(flags) ||
        is_all_zero(trace_id) || is_all_zero(parent_id)) {
        return std::nullopt;
    }
    TraceParent parsed;
    parsed.version = hex_byte(version);
    // Version 00 has exactly these fields; a later version may append more after a '-'.
    if (header.size() > kTraceparentV0Bytes &&
        (parsed.version == 0 || header[kTraceparentV0Bytes] != '-')) {
        return std::nullopt;
    }
    std::copy(trace_id.begin(), trace_id.end(), parsed.trace_id.begin());
    std::copy(parent_id.begin(), parent_id.end(), parsed.parent_id.begin());
    parsed.flags = hex_byte(flags);
    return parsed;
}

std::optional<std::string> normalize_tracestate(std::string_view header) {
    if (header.size() > kMaxTracestateBytes) {
        return std::nullopt;
    }
    std::string normalized;
    std::size_t members = 0;
    std::size_t start = 0;
    while (start <= header.size()) {
        const auto comma = std::min(header.find(',', start), header.size());
        const std::string_view member = trim_ows(header.substr(start, comma - start));
        start = comma + 1;
        if (member.empty()) {
            continue;
        }
        const auto equals = member.find('=');
        if (equals == std::string_view::npos ||
            !is_valid_tracestate_key(member.substr(0, equals)) ||
            !is_valid_tracestate_value(member.substr(equals + 1))) {
            return std::nullopt;
        }
        if (++members > kMaxTracestateMembers) {
            return std::nullopt;
        }
        if (!normalized.empty()) {
            normalized.push_back(',');
        }
        normalized.append(member);
    }
    return normalized;
}

std::uint64_t thread_random_bits() {
    thread_local std::mt19937_64 generator{std::random_device{}()};
    return generator();
}

TraceContext TraceContext::from_headers(std::string_view traceparent,
                                        std::string_view tracestate,
                                        const RandomBits& random) {
    TraceContext context;
    if (const auto parent = parse_traceparent(traceparent)) {
        context.trace_id_ = parent->trace_id;
        context.parent_id_ = parent->parent_id;
        context.flags_ = parent->flags & 0x01;
        context.continued_ = true;
        if (auto state = normalize_tracestate(tracestate)) {
            context.tracestate_ = std::move(*state);
        }
    } else {
        fill_random_hex(context.trace_id_, random);
    }
    fill_random_hex(context.span_id_, random);
    return context;
}

std::string_view TraceContext::parent_id() const {
    if (!continued_) {
        return {};
    }
    return {parent_id_.data(), parent_id_.size()};
}

std::string TraceContext::traceparent() const {
    std::string header;
    header.reserve(kTraceparentV0Bytes);
    header.append("00-");
    header.append(trace_id());
    header.push_back('-');
    header.append(span_id());
    header.push_back('-');
    header.push_back(kHexDigits[flags_ >> 4]);
    header.push_back(kHexDigits[flags_ & 0xF]);
    return header;
}

}  // namespace ragd::http
