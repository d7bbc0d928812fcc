// A hook for whoever wants to watch the server (metrics, access logs) without http/ knowing them:
// plain virtual calls from the session coroutine, skipped entirely when no observer is set.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "http/message.hpp"

namespace ragd::http {

/// One finished request, as the access log and metrics see it. Views live until
/// on_request_done returns.
struct RequestRecord {
    /// The matched pattern ("/v1/documents/{id}") or "unmatched": never the raw path.
    std::string_view route_pattern;
    Method method = Method::kOther;
    int status = 0;
    double seconds = 0;  ///< from the head being read to the write finishing
    std::string_view request_id;
    std::string_view trace_id;  ///< empty for requests rejected before their head was checked
    std::string_view path;      ///< decoded path, no query
    std::string_view remote_address;
    std::uint64_t bytes_in = 0;   ///< request body bytes
    std::uint64_t bytes_out = 0;  ///< response body bytes
    /// Set by async handlers (RequestContext::annotate): "cache", "generator",
    /// "upstream_attempts".
    const std::vector<Header>* annotations = nullptr;

    /// The annotation `key`, or empty.
    std::string_view annotation(std::string_view key) const {
        if (annotations != nullptr) {
            for (const Header& header : *annotations) {
                if (header.name == key) {
                    return header.value;
                }
            }
        }
        return {};
    }
};

/// Called from I/O threads, concurrently from different connections: implementations must be
/// thread-safe and cheap (no blocking, no I/O). Must outlive the Server it is set on, including
/// the Server's destructor (which may still end connections).
class ServerObserver {
public:
    virtual ~ServerObserver() = default;

    /// A connection was accepted / has ended (each opened one ends exactly once).
    virtual void on_connection_opened() = 0;
    virtual void on_connection_closed() = 0;
    /// A request head was read (or found malformed and is about to be answered). Followed by
    /// exactly one on_request_done or on_request_abandoned.
    virtual void on_request_started() = 0;
    /// The response was written, or its write failed. Counts every status, including the
    /// server's own 4xx/5xx.
    virtual void on_request_done(const RequestRecord& record) = 0;
    /// The request ended with no response because the server shut down under it.
    virtual void on_request_abandoned() = 0;
    /// A compute request was answered 503 because the compute queue was full (also followed by
    /// on_request_done with status 503).
    virtual void on_shed() = 0;
};

/// The route label for requests that matched no route.
inline constexpr std::string_view kUnmatchedRoute = "unmatched";

}  // namespace ragd::http
