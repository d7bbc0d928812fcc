// Repeats are decided by an exact running count rather than a coin flip, so a short run has
// the requested hit rate too, and the choice of which query to reuse uses a hash of the request
// number, so the whole mix is reproducible and needs no shared mutable state.
#include "loadgen/query_mix.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_set>
#include <utility>

namespace ragd::loadgen {

namespace {

// Generic questions about ragd's own documentation (docs/ doubles as the sample corpus).
constexpr const char* kBuiltinQueries[] = {
    "How do I ingest a folder of Markdown files?",
    "What does the /ready endpoint report?",
    "How are BM25 and vector results fused?",
    "Which configuration keys control the HTTP server?",
    "How does ragd recover its indexes after a crash?",
    "What happens when the compute pool queue is full?",
    "How do I delete a document?",
    "Which file formats can ragd ingest?",
};

std::uint64_t splitmix64(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

std::uint64_t repeats_before(std::uint64_t seq, double fraction) {
    return static_cast<std::uint64_t>(std::floor(static_cast<double>(seq) * fraction));
}

}  // namespace

QueryMix::QueryMix(std::vector<std::string> lines, double repeat_fraction, std::uint64_t seed)
    : repeat_fraction_(std::clamp(std::isnan(repeat_fraction) ? 0.0 : repeat_fraction, 0.0, 1.0)),
      seed_(seed) {
    std::unordered_set<std::string> seen;
    for (auto& line : lines) {
        if (!line.empty() && line.back() == '\r') {
            line.pop_back();
        }
        if (line.find_first_not_of(" \t") == std::string::npos) {
            continue;
        }
        if (seen.insert(line).second) {
            lines_.push_back(std::move(line));
        }
    }
    if (lines_.empty()) {
        lines_.assign(std::begin(kBuiltinQueries), std::end(kBuiltinQueries));
    }
}

QueryMix::Pick QueryMix::pick(std::uint64_t seq) const {
    if (repeat_fraction_ >= 1.0) {
        // Every request after the first repeats the only distinct query there is.
        return Pick{0, seq > 0};
    }
    const std::uint64_t earlier_repeats = repeats_before(seq, repeat_fraction_);
    const bool repeat = repeats_before(seq + 1, repeat_fraction_) > earlier_repeats;
    // Distinct queries used by requests 0..seq-1; at least 1 whenever seq > 0 since F < 1.
    const std::uint64_t distinct_before = seq - earlier_repeats;
    if (repeat && distinct_before > 0) {
        return Pick{splitmix64(seq ^ splitmix64(seed_)) % distinct_before, true};
    }
    return Pick{distinct_before, false};
}

std::string QueryMix::text(std::uint64_t unique_index) const {
    const std::uint64_t pass = unique_index / lines_.size();
    std::string out = lines_[unique_index % lines_.size()];
    if (pass > 0) {
        out += " #";
        out += std::to_string(pass + 1);
    }
    return out;
}

}  // namespace ragd::loadgen
