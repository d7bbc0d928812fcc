// The bytes of each request ragd bench sends: a head fixed for the whole run, and a body from the
// template with {query} replaced (JSON-escaped) by the query mix's pick for that request.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "loadgen/options.hpp"
#include "loadgen/query_mix.hpp"

namespace ragd::loadgen {

class RequestBuilder {
public:
    explicit RequestBuilder(const BenchOptions& options);

    /// True when every request is the same (no body, or a body without {query}).
    bool constant() const { return body_parts_.size() <= 1; }
    /// The request when constant().
    const std::string& constant_request() const { return constant_request_; }
    /// Writes the full request for `query` into `out` (replacing its contents).
    void build(std::string_view query, std::string& out) const;

private:
    std::string head_prefix_;              // request line and headers, up to "Content-Length: "
    std::vector<std::string> body_parts_;  // template split at each {query}; empty: no body
    std::string constant_request_;
};

/// Hands out requests to any number of threads: request numbers come from one atomic counter,
/// which lasts across levels so unique queries stay unique for the whole run.
class RequestSource {
public:
    RequestSource(const BenchOptions& options, QueryMix mix)
        : builder_(options), mix_(std::move(mix)) {}

    /// The next request's bytes; valid until the next call with the same `scratch`.
    std::string_view next(std::string& scratch) {
        if (builder_.constant()) {
            return builder_.constant_request();
        }
        const std::uint64_t seq = next_seq_.fetch_add(1, std::memory_order_relaxed);
        builder_.build(mix_.query(seq), scratch);
        return scratch;
    }
    std::uint64_t requests_built() const { return next_seq_.load(std::memory_order_relaxed); }

private:
    RequestBuilder builder_;
    QueryMix mix_;
    std::atomic<std::uint64_t> next_seq_{0};
};

}  // namespace ragd::loadgen
