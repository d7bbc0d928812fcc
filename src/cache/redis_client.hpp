// L2: a small Redis client for the shared answer cache and the shared rate-limit buckets. It
// speaks RESP through hiredis' reply reader and command formatter only; the sockets are Asio's
// (plain TCP, or TLS through OpenSSL for rediss://), so commands are coroutines on ragd's own
// I/O threads. Policy: Redis is an optimisation, never a dependency. Every command has a
// deadline, and after a connection-level failure the client marks itself down for a back-off
// period during which commands fail at once (kUnavailable) without touching the network; then
// one probe command is let through.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "cache/clock.hpp"
#include "cache/redis_reply.hpp"
#include "core/error.hpp"

namespace ragd::cache {
namespace detail {
struct RedisClientState;
}

struct RedisOptions {
    /// redis://[[user]:password@]host[:port][/db], or rediss://... for TLS; port defaults to
    /// 6379, db to 0. "" = off.
    std::string url;
    /// rediss:// only: a PEM CA bundle trusted besides the system store; "" = the system store
    /// only (default ""). Ignored for redis://.
    std::string tls_ca_file;
    /// rediss:// only: verify the server's certificate chain and that it names the URL's host
    /// (default true). Off is for tests and self-signed setups: anyone on the path could then
    /// pose as Redis. Ignored for redis://.
    bool tls_verify = true;
    /// Connections kept open at most; a command finding all busy waits for one at most
    /// command_timeout, then fails with kOverloaded (default 8).
    std::size_t max_connections = 8;
    /// Deadline for one command: write plus reply (default 50 ms).
    std::chrono::milliseconds command_timeout{50};
    /// Deadline for resolving, connecting, the TLS handshake and AUTH/SELECT on a new connection
    /// (default 200 ms).
    std::chrono::milliseconds connect_timeout{200};
    /// How long the client stays down after a connection-level failure (default 1000 ms).
    std::chrono::milliseconds down_backoff{1000};
};

/// Where redis_url points. Parsed once, at construction.
struct RedisEndpoint {
    std::string host;
    std::uint16_t port = 6379;
    std::string user;  ///< "" = AUTH with the password only (Redis < 6 style)
    std::string password;
    int db = 0;
    bool tls = false;  ///< rediss://
};

/// kInvalidArgument naming the URL and what is wrong.
core::Result<RedisEndpoint> parse_redis_url(const std::string& url);

struct RedisStats {
    std::uint64_t commands = 0;       ///< sent to Redis
    std::uint64_t failures = 0;       ///< connection-level failures (each marks the client down)
    std::uint64_t timeouts = 0;       ///< of which deadlines
    std::uint64_t rejected_down = 0;  ///< failed at once because the client was down
    std::uint64_t rejected_busy = 0;  ///< gave up waiting for a busy pool (command_timeout)
    std::uint64_t open_connections = 0;
};

/// Thread-safe. Commands may be awaited from any coroutine; their I/O runs on a per-connection
/// strand of `executor` (whose io_context must be running) and the caller resumes on its own
/// executor. Running commands keep the client's state alive; destroy the client before its
/// io_context. Errors: kUnavailable (down, connection refused/closed, TLS handshake or
/// certificate verification failed, protocol error),
/// kTimeout (deadline), kOverloaded (no connection freed up within command_timeout), kIo (Redis
/// replied with an error; the connection stays healthy), kInvalidArgument (bad arguments).
class RedisClient {
public:
    /// `options.url` must parse (see parse_redis_url); nothing connects until the first command.
    /// For rediss://, kInvalidArgument when `tls_ca_file` is not a readable PEM bundle; with
    /// `tls_verify` off it logs a warning.
    static core::Result<std::unique_ptr<RedisClient>> create(boost::asio::any_io_executor executor,
                                                             RedisOptions options,
                                                             NowFn now = {});
    ~RedisClient();
    RedisClient(const RedisClient&) = delete;
    RedisClient& operator=(const RedisClient&) = delete;

    /// GET: the value, or nullopt when the key does not exist. Binary-safe.
    boost::asio::awaitable<core::Result<std::optional<std::string>>> get(std::string key);
    /// SET key value PX ttl; ttl <= 0 stores without expiry. Binary-safe.
    boost::asio::awaitable<core::Result<void>> set(std::string key,
                                                   std::string value,
                                                   std::chrono::milliseconds ttl);
    /// DEL: whether the key existed.
    boost::asio::awaitable<core::Result<bool>> del(std::string key);
    /// INCR: the value after incrementing (1 for a new key).
    boost::asio::awaitable<core::Result<std::int64_t>> incr(std::string key);
    /// EVAL script numkeys keys... args...: the script's reply.
    boost::asio::awaitable<core::Result<RedisReply>> eval(std::string script,
                                                          std::vector<std::string> keys,
                                                          std::vector<std::string> args);
    /// Any command, argv[0] being its name.
    boost::asio::awaitable<core::Result<RedisReply>> command(std::vector<std::string> argv);

    /// False while backing off after a failure (commands would fail at once). Cheap.
    bool healthy() const;
    RedisStats stats() const;
    const RedisEndpoint& endpoint() const;

private:
    explicit RedisClient(std::shared_ptr<detail::RedisClientState> state);
    /// Shared with running commands, which keep it alive until they finish.
    std::shared_ptr<detail::RedisClientState> impl_;
};

}  // namespace ragd::cache
