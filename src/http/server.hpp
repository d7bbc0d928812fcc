// The HTTP/1.1 server: Asio io_context on N threads, one coroutine per connection, keep-alive,
// pipelining-safe, header/body/idle timeouts and size limits. Handlers that need CPU run on a
// bounded compute pool; when its queue is full the server answers 503 with Retry-After.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/config.hpp"
#include "core/error.hpp"
#include "http/observer.hpp"
#include "http/router.hpp"

namespace ragd::http {

/// Answers on its own, as JSON errors: 400 (malformed, then close), 404, 405 + Allow, 411, 413
/// (then close), 415, 431 (then close), 503 + Retry-After when queued plus running compute
/// requests would exceed max_queued_requests, and 500 when a handler throws. HEAD is served by
/// GET routes. Logs only handler exceptions, to stderr.
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
    /// Serves until stop() or SIGINT/SIGTERM; blocks the calling thread (which becomes one of
    /// the I/O threads).
    void run();
    /// Stops accepting, closes connections and makes run() return. Thread-safe.
    void stop();
    /// Reports connections, requests and shedding to `observer` (not owned; must outlive this
    /// Server). Call before run(). Null, the default, turns observation off at no cost.
    void set_observer(ServerObserver* observer);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ragd::http
