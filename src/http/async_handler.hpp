// Handlers that wait: a coroutine per request that can await the network (an LLM upstream), run
// CPU work on the compute pool, and stream its response (Server-Sent Events) while the answer is
// produced. Asio's awaitable only; Beast stays inside session.cpp.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "core/cancel_token.hpp"
#include "http/message.hpp"

namespace ragd::http {

/// How an async handler answers. Either send() once, or begin_stream() then write()s then
/// end(). Each call returns false when the client is gone or the stream outlived
/// server.max_stream_ms (the request's cancel token has then fired too); the handler should stop
/// producing. Call only from the handler's coroutine.
class ResponseWriter {
public:
    virtual ~ResponseWriter() = default;
    /// A complete response (the same as a synchronous handler's return value).
    virtual boost::asio::awaitable<bool> send(Response response) = 0;
    /// Sends the status and headers of a streamed body (chunked transfer encoding).
    virtual boost::asio::awaitable<bool> begin_stream(int status,
                                                      std::string content_type,
                                                      std::vector<Header> headers) = 0;
    /// Sends one piece of the body right away (no buffering: SSE needs each event flushed).
    virtual boost::asio::awaitable<bool> write(std::string_view data) = 0;
    /// Finishes the streamed body; the connection may then serve the next request.
    virtual boost::asio::awaitable<bool> end() = 0;
    /// True once anything was sent: errors must then go in-band (an SSE error event).
    virtual bool started() const = 0;
};

/// What the server lends a handler for one request.
class RequestContext {
public:
    virtual ~RequestContext() = default;
    /// Fires when the client disconnects before the response is complete, or the server stops.
    virtual const std::shared_ptr<core::CancelToken>& cancel() const = 0;
    /// The connection's strand; the handler runs and resumes on it.
    virtual boost::asio::any_io_executor executor() const = 0;
    /// Runs `work` on the bounded compute pool and resumes on executor() when it is done. Returns
    /// false without running it when the compute queue is full (answer 503 + Retry-After).
    /// Exceptions thrown by `work` are rethrown here.
    virtual boost::asio::awaitable<bool> run_compute(std::function<void()> work) = 0;
    /// run_compute() for work that takes well under a millisecond (a query's retrieval and
    /// extractive answer). It runs `work` right away on this I/O thread with
    /// server.inline_queries, and with server.inline_idle_queries (the default) when no other
    /// compute work is running or queued: a hand-off to the pool and back costs two thread
    /// wake-ups, more CPU than such work itself. It still counts against max_queued_requests
    /// while it runs. Otherwise it is run_compute().
    virtual boost::asio::awaitable<bool> run_quick(std::function<void()> work) = 0;
    /// Adds fields to this request's access-log line and observer report (cache tier,
    /// generator, upstream attempts): "cache", "generator", "upstream_attempts".
    virtual void annotate(std::string_view key, std::string value) = 0;
};

/// An async route's handler. The request is the handler's to keep (it is moved in).
using AsyncHandler =
    std::function<boost::asio::awaitable<void>(Request, ResponseWriter&, RequestContext&)>;

}  // namespace ragd::http
