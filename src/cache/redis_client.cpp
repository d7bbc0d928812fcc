#include "cache/redis_client.hpp"

#include <array>
#include <atomic>
#include <charconv>
#include <deque>
#include <mutex>
#include <optional>
#include <tuple>
#include <utility>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <hiredis/hiredis.h>

#include "cache/redis_tls.hpp"
#include "core/log.hpp"
#include "http/message.hpp"

namespace ragd::cache {
namespace net = boost::asio;
using tcp = net::ip::tcp;
using core::ErrorCode;
using core::fail;

namespace {

constexpr auto kNoThrow = net::as_tuple(net::use_awaitable);
constexpr std::size_t kReadChunkBytes = std::size_t{16} * 1024;

struct CommandFree {
    void operator()(char* command) const { redisFreeCommand(command); }
};

/// A command in RESP wire form, as redisFormatCommandArgv produced it (binary-safe).
struct WireCommand {
    std::unique_ptr<char, CommandFree> bytes;
    std::size_t size = 0;
    std::string name;  ///< for error messages
};

core::Result<WireCommand> format_command(const std::vector<std::string>& argv) {
    if (argv.empty()) {
        return fail(ErrorCode::kInvalidArgument, "redis command: empty argument list");
    }
    std::vector<const char*> pointers;
    std::vector<std::size_t> sizes;
    pointers.reserve(argv.size());
    sizes.reserve(argv.size());
    for (const auto& arg : argv) {
        pointers.push_back(arg.data());
        sizes.push_back(arg.size());
    }
    char* target = nullptr;
    const int length = redisFormatCommandArgv(
        &target, static_cast<int>(argv.size()), pointers.data(), sizes.data());
    if (length < 0 || target == nullptr) {
        return fail(ErrorCode::kInternal, "redis command '" + argv[0] + "': formatting failed");
    }
    return WireCommand{
        std::unique_ptr<char, CommandFree>(target), static_cast<std::size_t>(length), argv[0]};
}

}  // namespace

core::Result<RedisEndpoint> parse_redis_url(const std::string& url) {
    auto invalid = [&url](const std::string& why) {
        return fail(ErrorCode::kInvalidArgument, "redis url '" + url + "': " + why);
    };
    constexpr std::string_view kPlain = "redis://";
    constexpr std::string_view kTls = "rediss://";
    RedisEndpoint endpoint;
    std::string_view rest;
    if (url.starts_with(kPlain)) {
        rest = std::string_view(url).substr(kPlain.size());
    } else if (url.starts_with(kTls)) {
        rest = std::string_view(url).substr(kTls.size());
        endpoint.tls = true;
    } else {
        return invalid(
            "expected redis:// or rediss:// (TLS), then [[user]:password@]host[:port][/db]");
    }
    const std::size_t slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    const std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash + 1);

    if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
        const std::string_view userinfo = authority.substr(0, at);
        authority = authority.substr(at + 1);
        const std::size_t colon = userinfo.find(':');
        if (colon == std::string_view::npos) {
            return invalid("credentials must be user:password or :password");
        }
        auto user = http::percent_decode(userinfo.substr(0, colon));
        auto password = http::percent_decode(userinfo.substr(colon + 1));
        if (!user || !password) {
            return invalid("bad percent-encoding in the credentials");
        }
        endpoint.user = std::move(*user);
        endpoint.password = std::move(*password);
    }
    std::string_view port_text;
    if (!authority.empty() && authority.front() == '[') {
        const std::size_t close = authority.find(']');
        if (close == std::string_view::npos) {
            return invalid("unterminated [IPv6] host");
        }
        endpoint.host = std::string(authority.substr(1, close - 1));
        const std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                return invalid("expected ':' after the [IPv6] host");
            }
            port_text = after.substr(1);
        }
    } else {
        const std::size_t colon = authority.rfind(':');
        endpoint.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) {
            port_text = authority.substr(colon + 1);
        }
    }
    if (endpoint.host.empty()) {
        return invalid("missing host");
    }
    if (!port_text.empty()) {
        unsigned port = 0;
        const auto [end, ec] =
            std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
        if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
            port > 65535) {
            return invalid("port must be 1-65535");
        }
        endpoint.port = static_cast<std::uint16_t>(port);
    }
    if (!path.empty()) {
        const auto [end, ec] = std::from_chars(path.data(), path.data() + path.size(), endpoint.db);
        if (ec != std::errc() || end != path.data() + path.size() || endpoint.db < 0) {
            return invalid("database must be a non-negative number");
        }
    }
    return endpoint;
}

namespace {

// One TCP connection, with TLS over it for rediss://. Its socket, TLS stream, timer and resolver
// are touched only from its strand: the command coroutine runs there and so does the deadline
// handler that closes the socket, so the two never race.
struct Connection {
    explicit Connection(const net::any_io_executor& executor)
        : strand(net::make_strand(executor)), socket(strand), timer(strand), resolver(strand) {}

    net::strand<net::any_io_executor> strand;
    tcp::socket socket;
    /// Set once, before the handshake, on a rediss:// connection; wraps `socket` by reference,
    /// so close() ends TLS and plain operations alike. Declared after `socket`, which it uses.
    std::optional<RedisTlsStream> tls;
    net::steady_timer timer;
    tcp::resolver resolver;
    std::unique_ptr<RedisReplyReader> reader;
    std::array<char, kReadChunkBytes> buffer{};
    bool connected = false;
    bool timed_out = false;
    std::uint64_t deadline_seq = 0;  ///< a deadline handler acts only on its own operation

    // Keeps the reader: a read that completed just before the deadline handler closed the
    // socket may still feed it. open_connection() makes a fresh one.
    void close() {
        boost::system::error_code ignored;
        socket.close(ignored);
        resolver.cancel();
        connected = false;
    }
};

void arm_deadline(const std::shared_ptr<Connection>& conn, std::chrono::milliseconds timeout) {
    const std::uint64_t seq = ++conn->deadline_seq;
    conn->timed_out = false;
    conn->timer.expires_after(timeout);
    conn->timer.async_wait([conn, seq](boost::system::error_code ec) {
        if (ec || conn->deadline_seq != seq) {
            return;
        }
        conn->timed_out = true;
        conn->close();  // the pending read/write/connect completes with an error
    });
}

void disarm_deadline(const std::shared_ptr<Connection>& conn) {
    ++conn->deadline_seq;
    conn->timer.cancel();
}

}  // namespace

namespace detail {

struct RedisClientState {
    enum class Admission { kAdmitted, kProbe, kDown };

    net::any_io_executor executor;
    RedisOptions options;
    RedisEndpoint endpoint;
    std::string where;  ///< "host:port", for messages
    NowFn now;
    /// rediss:// only; shared by the connections (OpenSSL's contexts are thread-safe to use).
    std::shared_ptr<net::ssl::context> tls_context;

    std::mutex pool_mutex;
    std::vector<std::shared_ptr<Connection>> idle;
    std::size_t open = 0;

    mutable std::mutex health_mutex;
    bool down = false;
    bool probing = false;
    SteadyClock::time_point down_until{};
    std::string last_error;

    std::atomic<std::uint64_t> commands{0};
    std::atomic<std::uint64_t> failures{0};
    std::atomic<std::uint64_t> timeouts{0};
    std::atomic<std::uint64_t> rejected_down{0};
    std::atomic<std::uint64_t> rejected_busy{0};

    Admission admit() {
        const std::lock_guard lock(health_mutex);
        if (!down) {
            return Admission::kAdmitted;
        }
        if (probing || now() < down_until) {
            return Admission::kDown;
        }
        probing = true;  // one command finds out whether Redis is back; the rest stay cheap
        return Admission::kProbe;
    }

    void end_probe() {
        const std::lock_guard lock(health_mutex);
        probing = false;
    }

    void on_success() {
        bool recovered = false;
        {
            const std::lock_guard lock(health_mutex);
            recovered = down;
            down = false;
            probing = false;
        }
        if (recovered) {
            core::log::info("redis: answers again", {{"endpoint", where}});
        }
    }

    void on_failure(const core::Error& error) {
        ++failures;
        bool was_up = false;
        {
            const std::lock_guard lock(health_mutex);
            was_up = !down;
            down = true;
            probing = false;
            down_until = now() + options.down_backoff;
            last_error = error.detail;
        }
        // Once per outage, not per failed probe: the reason (refused, timed out, a TLS
        // certificate that does not verify) is otherwise only in errors the callers count.
        if (was_up) {
            core::log::warn(
                "redis: connection failed; commands fail at once until a probe "
                "succeeds (one per down_backoff)",
                {{"endpoint", where},
                 {"error", error.detail},
                 {"down_backoff_ms", options.down_backoff.count()}});
        }
        // Idle connections most likely share the fate (server restarted or gone); drop them so
        // the next probe opens a fresh one instead of failing on each stale one in turn.
        std::vector<std::shared_ptr<Connection>> stale;
        {
            const std::lock_guard lock(pool_mutex);
            stale.swap(idle);
            open -= stale.size();
        }
        // Idle means no operation is pending on them, so closing here cannot race.
        for (const auto& conn : stale) {
            conn->close();
        }
    }

    /// A command waiting for a busy pool: completed exactly once (`done`, under pool_mutex),
    /// by release() with a connection or by its timer with null. Its timer is only touched
    /// under pool_mutex, which is what serialises it across threads.
    struct PoolWaiter {
        using Handler = net::any_completion_handler<void(std::shared_ptr<Connection>)>;
        // The handler is move-constructed, never assigned: Boost 1.81's any_completion_handler
        // move-assignment wraps itself recursively until the stack overflows.
        PoolWaiter(const net::any_io_executor& timer_executor,
                   Handler waiting_handler,
                   net::any_io_executor waiting_executor)
            : timer(timer_executor),
              handler(std::move(waiting_handler)),
              executor(std::move(waiting_executor)) {}
        net::steady_timer timer;
        Handler handler;
        net::any_io_executor executor;  ///< the waiting coroutine's, work tracked
        bool done = false;
    };
    std::deque<std::shared_ptr<PoolWaiter>> waiters;

    static void deliver(const std::shared_ptr<PoolWaiter>& waiter,
                        std::shared_ptr<Connection> conn) {
        auto executor = waiter->executor;
        net::post(executor,
                  [handler = std::move(waiter->handler), conn = std::move(conn)]() mutable {
                      std::move(handler)(std::move(conn));
                  });
    }

    /// An idle connection, or a new one while under max_connections; null otherwise.
    /// Call under pool_mutex.
    std::shared_ptr<Connection> try_take() {
        if (!idle.empty()) {
            auto conn = std::move(idle.back());
            idle.pop_back();
            return conn;
        }
        if (open >= options.max_connections) {
            return nullptr;
        }
        ++open;
        return std::make_shared<Connection>(executor);
    }

    void release(std::shared_ptr<Connection> conn) {
        std::shared_ptr<PoolWaiter> next;
        {
            const std::lock_guard lock(pool_mutex);
            while (!waiters.empty() && !next) {
                next = std::move(waiters.front());
                waiters.pop_front();
                if (next->done) {
                    next.reset();
                }
            }
            if (!next) {
                if (conn->connected) {
                    idle.push_back(std::move(conn));
                } else {
                    --open;
                }
                return;
            }
            next->done = true;
            next->timer.cancel();
        }
        // The slot passes to the waiter; a broken connection's slot becomes a fresh one.
        if (!conn->connected) {
            conn = std::make_shared<Connection>(executor);
        }
        deliver(next, std::move(conn));
    }
};

}  // namespace detail

namespace {

using ImplPtr = std::shared_ptr<detail::RedisClientState>;
using Admission = detail::RedisClientState::Admission;
using PoolWaiter = detail::RedisClientState::PoolWaiter;

// Takes a connection, or queues for one for at most command_timeout: bursts wait briefly for
// the pool instead of skipping L2, yet a stuck pool costs a query no more than one deadline.
// Completes with null on timeout.
struct WaitForConnection {
    ImplPtr impl;

    template <class Handler>
    void operator()(Handler&& handler) const {
        auto executor = net::prefer(net::get_associated_executor(handler),
                                    net::execution::outstanding_work.tracked);
        auto waiter =
            std::make_shared<PoolWaiter>(impl->executor,
                                         PoolWaiter::Handler(std::forward<Handler>(handler)),
                                         net::any_io_executor(std::move(executor)));
        const std::lock_guard lock(impl->pool_mutex);
        if (auto conn = impl->try_take()) {
            waiter->done = true;
            detail::RedisClientState::deliver(waiter, std::move(conn));
            return;
        }
        waiter->timer.expires_after(impl->options.command_timeout);
        waiter->timer.async_wait([impl = impl, waiter](boost::system::error_code) {
            {
                const std::lock_guard lock(impl->pool_mutex);
                if (waiter->done) {
                    return;  // release() handed it a connection first
                }
                waiter->done = true;
                std::erase(impl->waiters, waiter);
            }
            detail::RedisClientState::deliver(waiter, nullptr);
        });
        impl->waiters.push_back(std::move(waiter));
    }
};

// Writes `request` and reads one reply; the caller has armed the deadline. Runs on the strand.
net::awaitable<core::Result<RedisReply>> round_trip(std::shared_ptr<Connection> conn,
                                                    const char* request,
                                                    std::size_t request_bytes,
                                                    std::string name,
                                                    std::string where,
                                                    std::chrono::milliseconds timeout) {
    auto io_failure = [&](const char* what, const boost::system::error_code& ec) {
        const bool timed_out = conn->timed_out;
        conn->close();
        if (timed_out) {
            return fail(ErrorCode::kTimeout,
                        "redis " + name + " at " + where + ": no reply within " +
                            std::to_string(timeout.count()) + " ms");
        }
        return fail(ErrorCode::kUnavailable,
                    "redis " + name + " at " + where + ": " + what + " failed: " + ec.message());
    };
    // TLS or not was decided when the connection opened: the plain path pays one branch per
    // write and per read, and never touches OpenSSL.
    boost::system::error_code write_ec;
    const net::const_buffer bytes(request, request_bytes);
    if (conn->tls) {
        std::tie(write_ec, std::ignore) = co_await net::async_write(*conn->tls, bytes, kNoThrow);
    } else {
        std::tie(write_ec, std::ignore) = co_await net::async_write(conn->socket, bytes, kNoThrow);
    }
    if (write_ec || conn->timed_out) {
        co_return io_failure("write", write_ec);
    }
    for (;;) {
        auto reply = conn->reader->next(name);
        if (!reply) {
            if (reply.error().code == ErrorCode::kIo) {
                co_return reply.error();  // an error reply: the connection is fine
            }
            conn->close();  // not RESP, or over a limit: the stream cannot be followed further
            co_return fail(ErrorCode::kUnavailable,
                           "redis at " + where + ": " + reply.error().detail);
        }
        if (*reply) {
            co_return std::move(**reply);
        }
        boost::system::error_code read_ec;
        std::size_t read = 0;
        if (conn->tls) {
            std::tie(read_ec, read) =
                co_await conn->tls->async_read_some(net::buffer(conn->buffer), kNoThrow);
        } else {
            std::tie(read_ec, read) =
                co_await conn->socket.async_read_some(net::buffer(conn->buffer), kNoThrow);
        }
        if (read_ec || conn->timed_out) {
            co_return io_failure("read", read_ec);
        }
        conn->reader->feed(std::string_view(conn->buffer.data(), read));
    }
}

net::awaitable<core::Result<void>> open_connection(std::shared_ptr<Connection> conn, ImplPtr impl) {
    const auto timeout = impl->options.connect_timeout;
    arm_deadline(conn, timeout);
    // Which step the deadline cut short, so a timeout says e.g. that the TLS handshake stalled.
    std::string step = "the TCP connect";
    auto connect_failure = [&](const std::string& what) {
        const bool timed_out = conn->timed_out;
        disarm_deadline(conn);
        conn->close();
        if (timed_out) {
            return fail(ErrorCode::kTimeout,
                        "redis at " + impl->where + ": could not connect within " +
                            std::to_string(timeout.count()) + " ms (" + step + " did not finish)");
        }
        return fail(ErrorCode::kUnavailable, "redis at " + impl->where + ": " + what);
    };

    boost::system::error_code ec;
    const auto address = net::ip::make_address(impl->endpoint.host, ec);
    if (!ec) {
        const tcp::endpoint target(address, impl->endpoint.port);
        std::tie(ec) = co_await conn->socket.async_connect(target, kNoThrow);
    } else {
        step = "resolving '" + impl->endpoint.host + "'";
        auto [resolve_ec, results] = co_await conn->resolver.async_resolve(
            impl->endpoint.host, std::to_string(impl->endpoint.port), kNoThrow);
        if (resolve_ec || conn->timed_out) {
            co_return connect_failure("resolving '" + impl->endpoint.host +
                                      "' failed: " + resolve_ec.message());
        }
        step = "the TCP connect";
        std::tie(ec, std::ignore) = co_await net::async_connect(conn->socket, results, kNoThrow);
    }
    if (ec || conn->timed_out) {
        co_return connect_failure("connect failed: " + ec.message());
    }
    conn->socket.set_option(tcp::no_delay(true), ec);
    conn->reader = std::make_unique<RedisReplyReader>();

    // The handshake shares the connect deadline; a failure, certificate verification included,
    // is a connection-level failure like a refused connect (the client goes down).
    if (impl->tls_context) {
        step = "the TLS handshake";
        RedisTlsStream& tls = conn->tls.emplace(conn->socket, *impl->tls_context);
        auto prepared = prepare_redis_tls(tls, impl->endpoint.host, impl->options.tls_verify);
        if (!prepared) {
            co_return connect_failure(prepared.error().detail);
        }
        std::tie(ec) = co_await tls.async_handshake(net::ssl::stream_base::client, kNoThrow);
        if (ec || conn->timed_out) {
            co_return connect_failure(
                describe_tls_failure(ec, tls, impl->endpoint.host, impl->options.tls_verify));
        }
    }

    // AUTH and SELECT share the connect deadline.
    std::vector<std::vector<std::string>> setup;
    if (!impl->endpoint.password.empty()) {
        if (impl->endpoint.user.empty()) {
            setup.push_back({"AUTH", impl->endpoint.password});
        } else {
            setup.push_back({"AUTH", impl->endpoint.user, impl->endpoint.password});
        }
    }
    if (impl->endpoint.db != 0) {
        setup.push_back({"SELECT", std::to_string(impl->endpoint.db)});
    }
    for (const auto& argv : setup) {
        step = argv[0];
        auto wire = format_command(argv);
        if (!wire) {
            co_return connect_failure(wire.error().detail);
        }
        auto reply =
            co_await round_trip(conn, wire->bytes.get(), wire->size, argv[0], impl->where, timeout);
        if (!reply) {
            // A refused AUTH/SELECT is a configuration problem: treat it as down, not as a
            // per-command error, so it is not retried on every query.
            co_return connect_failure(reply.error().detail);
        }
    }
    disarm_deadline(conn);
    conn->connected = true;
    co_return core::Result<void>{};
}

// Runs on the connection's strand.
net::awaitable<core::Result<RedisReply>> run_on_connection(std::shared_ptr<Connection> conn,
                                                           ImplPtr impl,
                                                           WireCommand wire) {
    if (!conn->connected) {
        auto opened = co_await open_connection(conn, impl);
        if (!opened) {
            co_return opened.error();
        }
    }
    const auto timeout = impl->options.command_timeout;
    arm_deadline(conn, timeout);
    auto reply =
        co_await round_trip(conn, wire.bytes.get(), wire.size, wire.name, impl->where, timeout);
    disarm_deadline(conn);
    co_return reply;
}

bool is_connection_failure(const core::Error& error) {
    return error.code == ErrorCode::kUnavailable || error.code == ErrorCode::kTimeout;
}

net::awaitable<core::Result<RedisReply>> execute(ImplPtr impl, std::vector<std::string> argv) {
    auto wire = format_command(argv);
    if (!wire) {
        co_return wire.error();
    }
    const auto admission = impl->admit();
    if (admission == Admission::kDown) {
        ++impl->rejected_down;
        std::string last;
        {
            const std::lock_guard lock(impl->health_mutex);
            last = impl->last_error;
        }
        co_return fail(
            ErrorCode::kUnavailable,
            "redis " + wire->name + " at " + impl->where + ": skipped, marked down after: " + last);
    }
    auto wait =
        net::async_initiate<const net::use_awaitable_t<>&, void(std::shared_ptr<Connection>)>(
            WaitForConnection{impl}, net::use_awaitable);
    auto conn = co_await std::move(wait);
    if (!conn) {
        if (admission == Admission::kProbe) {
            impl->end_probe();
        }
        ++impl->rejected_busy;
        co_return fail(ErrorCode::kOverloaded,
                       "redis " + wire->name + " at " + impl->where + ": all " +
                           std::to_string(impl->options.max_connections) +
                           " connections stayed busy for " +
                           std::to_string(impl->options.command_timeout.count()) + " ms");
    }
    ++impl->commands;
    auto strand = conn->strand;
    auto reply = co_await net::co_spawn(
        strand, run_on_connection(conn, impl, std::move(*wire)), net::use_awaitable);
    impl->release(std::move(conn));
    if (!reply && is_connection_failure(reply.error())) {
        if (reply.error().code == ErrorCode::kTimeout) {
            ++impl->timeouts;
        }
        impl->on_failure(reply.error());
    } else {
        impl->on_success();
    }
    co_return reply;
}

core::Error unexpected_reply(const std::string& command, const RedisReply& reply) {
    return fail(ErrorCode::kIo,
                "redis " + command + ": unexpected reply type " +
                    std::to_string(static_cast<int>(reply.type)));
}

}  // namespace

core::Result<std::unique_ptr<RedisClient>> RedisClient::create(net::any_io_executor executor,
                                                               RedisOptions options,
                                                               NowFn now) {
    auto endpoint = parse_redis_url(options.url);
    if (!endpoint) {
        return endpoint.error();
    }
    auto impl = std::make_shared<detail::RedisClientState>();
    impl->executor = std::move(executor);
    impl->options = std::move(options);
    impl->options.max_connections = std::max<std::size_t>(impl->options.max_connections, 1);
    impl->endpoint = std::move(*endpoint);
    impl->where = impl->endpoint.host + ":" + std::to_string(impl->endpoint.port);
    impl->now = default_now(std::move(now));
    if (impl->endpoint.tls) {
        auto context = make_redis_tls_context(impl->options.tls_ca_file, impl->options.tls_verify);
        if (!context) {
            return fail(context.error().code,
                        "redis at " + impl->where + ": " + context.error().detail);
        }
        impl->tls_context = std::move(*context);
        if (!impl->options.tls_verify) {
            core::log::warn(
                "redis: TLS certificate verification is off; the connection is encrypted but "
                "anyone on the network path can pose as Redis. Use this for tests and "
                "self-signed setups only",
                {{"endpoint", impl->where}});
        }
    }
    return std::unique_ptr<RedisClient>(new RedisClient(std::move(impl)));
}

RedisClient::RedisClient(std::shared_ptr<detail::RedisClientState> state)
    : impl_(std::move(state)) {}

RedisClient::~RedisClient() {
    std::vector<std::shared_ptr<Connection>> idle;
    {
        const std::lock_guard lock(impl_->pool_mutex);
        idle.swap(impl_->idle);
        impl_->open -= idle.size();
    }
    for (const auto& conn : idle) {
        conn->close();
    }
}

net::awaitable<core::Result<std::optional<std::string>>> RedisClient::get(std::string key) {
    std::vector<std::string> argv{"GET", std::move(key)};
    auto reply = co_await execute(impl_, std::move(argv));
    if (!reply) {
        co_return reply.error();
    }
    if (reply->type == RedisReply::Type::kNil) {
        co_return std::optional<std::string>{};
    }
    if (reply->type != RedisReply::Type::kString) {
        co_return unexpected_reply("GET", *reply);
    }
    co_return std::optional<std::string>(std::move(reply->str));
}

net::awaitable<core::Result<void>> RedisClient::set(std::string key,
                                                    std::string value,
                                                    std::chrono::milliseconds ttl) {
    std::vector<std::string> argv{"SET", std::move(key), std::move(value)};
    if (ttl.count() > 0) {
        argv.emplace_back("PX");
        argv.push_back(std::to_string(ttl.count()));
    }
    auto reply = co_await execute(impl_, std::move(argv));
    if (!reply) {
        co_return reply.error();
    }
    if (reply->type != RedisReply::Type::kStatus) {
        co_return unexpected_reply("SET", *reply);
    }
    co_return core::Result<void>{};
}

net::awaitable<core::Result<bool>> RedisClient::del(std::string key) {
    std::vector<std::string> argv{"DEL", std::move(key)};
    auto reply = co_await execute(impl_, std::move(argv));
    if (!reply) {
        co_return reply.error();
    }
    if (reply->type != RedisReply::Type::kInteger) {
        co_return unexpected_reply("DEL", *reply);
    }
    co_return reply->integer > 0;
}

net::awaitable<core::Result<std::int64_t>> RedisClient::incr(std::string key) {
    std::vector<std::string> argv{"INCR", std::move(key)};
    auto reply = co_await execute(impl_, std::move(argv));
    if (!reply) {
        co_return reply.error();
    }
    if (reply->type != RedisReply::Type::kInteger) {
        co_return unexpected_reply("INCR", *reply);
    }
    co_return reply->integer;
}

net::awaitable<core::Result<RedisReply>> RedisClient::eval(std::string script,
                                                           std::vector<std::string> keys,
                                                           std::vector<std::string> args) {
    std::vector<std::string> argv;
    argv.reserve(3 + keys.size() + args.size());
    argv.emplace_back("EVAL");
    argv.push_back(std::move(script));
    argv.push_back(std::to_string(keys.size()));
    for (auto& key : keys) {
        argv.push_back(std::move(key));
    }
    for (auto& arg : args) {
        argv.push_back(std::move(arg));
    }
    co_return co_await execute(impl_, std::move(argv));
}

net::awaitable<core::Result<RedisReply>> RedisClient::command(std::vector<std::string> argv) {
    co_return co_await execute(impl_, std::move(argv));
}

bool RedisClient::healthy() const {
    const std::lock_guard lock(impl_->health_mutex);
    return !impl_->down || (!impl_->probing && impl_->now() >= impl_->down_until);
}

RedisStats RedisClient::stats() const {
    RedisStats out;
    out.commands = impl_->commands.load();
    out.failures = impl_->failures.load();
    out.timeouts = impl_->timeouts.load();
    out.rejected_down = impl_->rejected_down.load();
    out.rejected_busy = impl_->rejected_busy.load();
    {
        const std::lock_guard lock(impl_->pool_mutex);
        out.open_connections = impl_->open;
    }
    return out;
}

const RedisEndpoint& RedisClient::endpoint() const {
    return impl_->endpoint;
}

}  // namespace ragd::cache
