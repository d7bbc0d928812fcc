// A hook for whoever wants to watch the server (metrics, access logs) without http/ knowing them:
// plain virtual calls from the session coroutine, skipped entirely when no observer is set.
#pragma once

#include <string_view>

#include "http/message.hpp"

namespace ragd::http {

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
    /// The response was written, or its write failed. `route_pattern` is the matched pattern
    /// ("/v1/documents/{id}"), or "unmatched" when no route matched (404, 405, malformed heads):
    /// never the raw path, so labels stay few. `seconds` runs from the head being read to the
    /// write finishing. Counts every status, including the server's own 4xx/5xx.
    virtual void on_request_done(std::string_view route_pattern, Method method, int status,
                                 double seconds) = 0;
    /// The request ended with no response because the server shut down under it.
    virtual void on_request_abandoned() = 0;
    /// A compute request was answered 503 because the compute queue was full (also followed by
    /// on_request_done with status 503).
    virtual void on_shed() = 0;
};

/// The route label for requests that matched no route.
inline constexpr std::string_view kUnmatchedRoute = "unmatched";

}  // namespace ragd::http
