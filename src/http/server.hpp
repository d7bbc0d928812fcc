// The HTTP/1.1 server: N I/O threads, each running an io_context of its own (connections are
// dealt to them in turn), one coroutine per connection, keep-alive,
// pipelining-safe, header/body/idle timeouts and size limits. Handlers that need CPU run on a
// bounded compute pool; when its queue is full the server answers 503 with Retry-After.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/config.hpp"
#include "core/error.hpp"
#include "http/observer.hpp"
#include "http/router.hpp"

namespace boost::asio {
class io_context;
}

namespace ragd::http {

/// Answers on its own, as JSON errors: 400 (malformed, then close), 404, 405 + Allow, 411, 413
/// (then close), 415, 431 (then close), 503 + Retry-After when queued plus running compute
/// requests would exceed max_queued_requests, 503 too_many_connections (then close) on a
/// connection over max_connections_per_ip, and 500 when a handler throws. HEAD is served by
/// GET routes. At max_connections it stops accepting until a connection closes; the last of
/// max_requests_per_connection responses says Connection: close; a stream older than
/// max_stream ends (see ResponseWriter). Logs handler exceptions and accept failures (at most
/// one line a minute), to stderr.
class Server {
public:
    Server(const core::ServerConfig& config, Router router);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    /// Binds and listens on config.listen (port 0 picks a free port). kInvalidArgument for a
    /// malformed address, kIo when the address cannot be bound.
    core::Result<void> listen();
    /// The bound "HOST:PORT" (after listen()).
    std::string local_endpoint() const;
    /// Serves until stop() or a signal; blocks the calling thread (which becomes one of the I/O
    /// threads). SIGTERM drains: the drain listener is told at once, requests are still served
    /// (with Connection: close) for server.drain_delay, then the listener closes, idle
    /// connections close, and in-flight requests get up to server.drain_timeout to finish.
    /// SIGINT skips the delay; a second signal stops without waiting.
    void run();
    /// Stops accepting, closes idle connections, lets in-flight requests finish (up to
    /// server.drain_timeout) and makes run() return. Thread-safe.
    void stop();
    /// Replaces the routes; only before run(). For handlers that need io_context() themselves.
    void set_router(Router router);
    /// Called once, on an I/O thread, when draining starts (e.g. to turn /ready to 503). Set
    /// before run().
    void set_drain_listener(std::function<void()> listener);
    /// The io_context of the first I/O thread (which also accepts), for clients that must share
    /// the server's threads (upstream HTTP, Redis). Valid for the Server's lifetime.
    boost::asio::io_context& io_context();
    /// Reports connections, requests and shedding to `observer` (not owned; must outlive this
    /// Server). Call before run(). Null, the default, turns observation off at no cost.
    void set_observer(ServerObserver* observer);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ragd::http
