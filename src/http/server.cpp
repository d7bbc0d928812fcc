// Server::Impl: listening, the accept loop, the I/O threads, signals and shutdown. Sessions live
// in session.cpp; this file needs Asio but not Beast.
#include "http/server.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <sys/resource.h>

#include "http/session.hpp"

namespace ragd::http {

namespace net = boost::asio;
using net::ip::tcp;

namespace {

constexpr auto kNoThrow = net::as_tuple(net::use_awaitable);
/// After the drain deadline has force-closed the remaining sessions, how long their frames get to
/// unwind before the io_context is stopped under them.
constexpr std::chrono::milliseconds kForceGrace{500};
/// Pause after an accept error such as EMFILE, so a full fd table does not spin a core.
constexpr std::chrono::milliseconds kAcceptBackoff{100};
/// At server.max_connections the accept loop waits for a connection to end (it is woken), and
/// re-checks at least this often in case a wake-up raced with the pause.
constexpr std::chrono::milliseconds kAcceptPauseCheck{100};
/// Connections taken from the listen backlog per wake-up of the accept loop, without waiting
/// again. One accept per wake-up drains the backlog at the rate thread 0 gets round to the
/// accept loop; under overload that is slower than clients arrive, the kernel's backlog
/// (somaxconn) fills and it drops SYNs, and those clients wait 1, 3 or 7 s for a retransmit
/// that no metric of ours sees, instead of getting a fast 503 (nginx's multi_accept).
constexpr int kAcceptBatch = 64;
/// How often idle keep-alive connections are checked against server.idle_timeout: an eighth of
/// it, within these bounds, so a connection closes at most that much after its timeout.
constexpr std::chrono::milliseconds kMinIdleSweep{10};
constexpr std::chrono::milliseconds kMaxIdleSweep{1000};
/// At most one "accept failed" line per this period, so EMFILE under attack cannot flood stderr.
constexpr std::chrono::seconds kAcceptErrorLogPeriod{60};
/// File descriptors kept beyond server.max_connections when raising the soft fd limit: the
/// database, indexes, upstream connections and the listener.
constexpr rlim_t kSpareDescriptors = 1024;

unsigned or_core_count(unsigned threads) {
    if (threads != 0) {
        return threads;
    }
    return std::max(1U, std::thread::hardware_concurrency());
}

std::string format_endpoint(const tcp::endpoint& endpoint) {
    const std::string host = endpoint.address().to_string();
    const std::string port = std::to_string(endpoint.port());
    return endpoint.address().is_v6() ? "[" + host + "]:" + port : host + ":" + port;
}

/// "HOST:PORT", "[V6]:PORT", "localhost:PORT"; an empty host means all IPv4 interfaces.
core::Result<tcp::endpoint> parse_listen_address(const std::string& text) {
    std::string host;
    std::string_view port_text;
    if (!text.empty() && text.front() == '[') {
        const std::size_t close = text.find(']');
        if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            return core::fail(core::ErrorCode::kInvalidArgument,
                              "listen address \"" + text + "\" is not [IPV6]:PORT");
        }
        host = text.substr(1, close - 1);
        port_text = std::string_view(text).substr(close + 2);
    } else {
        const std::size_t colon = text.rfind(':');
        if (colon == std::string::npos || text.find(':') != colon) {
            return core::fail(core::ErrorCode::kInvalidArgument,
                              "listen address \"" + text +
                                  "\" is not HOST:PORT (write IPv6 hosts as [::1]:PORT)");
        }
        host = text.substr(0, colon);
        port_text = std::string_view(text).substr(colon + 1);
    }
    unsigned port = 0;
    const auto [end, parse_error] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (port_text.empty() || parse_error != std::errc() ||
        end != port_text.data() + port_text.size() || port > 65535) {
        return core::fail(core::ErrorCode::kInvalidArgument,
                          "listen address \"" + text + "\": port \"" + std::string(port_text) +
                              "\" is not a number from 0 to 65535");
    }
    if (host.empty()) {
        host = "0.0.0.0";
    } else if (host == "localhost") {
        host = "127.0.0.1";
    }
    boost::system::error_code address_error;
    const net::ip::address address = net::ip::make_address(host, address_error);
    if (!address_error) {
        return tcp::endpoint(address, static_cast<unsigned short>(port));
    }
    // A host name: resolved once at startup, blocking, which is fine before run().
    net::io_context resolver_context;
    tcp::resolver resolver(resolver_context);
    boost::system::error_code resolve_error;
    const auto results = resolver.resolve(host, std::string(port_text), resolve_error);
    if (resolve_error || results.empty()) {
        return core::fail(core::ErrorCode::kInvalidArgument,
                          "listen address \"" + text + "\": cannot resolve host \"" + host +
                              "\": " + resolve_error.message());
    }
    return results.begin()->endpoint();
}

/// Raises the soft RLIMIT_NOFILE towards what max_connections needs (within the hard limit), as
/// servers commonly do: distributions default the soft limit to 1024, which would turn
/// server.max_connections into a silent EMFILE long before its value.
void raise_descriptor_limit(std::size_t max_connections) {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
        return;
    }
    const rlim_t wanted = static_cast<rlim_t>(max_connections) + kSpareDescriptors;
    if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= wanted) {
        return;
    }
    limit.rlim_cur = limit.rlim_max == RLIM_INFINITY ? wanted : std::min(wanted, limit.rlim_max);
    (void)::setrlimit(RLIMIT_NOFILE, &limit);  // best effort: EMFILE is handled anyway
}

}  // namespace

namespace detail {

ServerState::ServerState(const core::ServerConfig& config_in, Router router_in)
    : config(config_in),
      router(std::move(router_in)),
      compute(or_core_count(config_in.compute_threads)) {}

std::uint64_t ServerState::register_session(net::any_io_executor executor,
                                            std::function<void(bool)> close,
                                            const std::atomic<std::int64_t>* idle_until) {
    std::lock_guard lock(sessions_mutex_);
    const std::uint64_t id = sessions_.next_id++;
    sessions_.by_id.emplace(id, SessionEntry{std::move(executor), std::move(close), idle_until});
    return id;
}

bool ServerState::unregister_session(std::uint64_t id) {
    std::lock_guard lock(sessions_mutex_);
    sessions_.by_id.erase(id);
    return sessions_.by_id.empty() && stopping.load();
}

std::size_t ServerState::session_count() {
    std::lock_guard lock(sessions_mutex_);
    return sessions_.by_id.size();
}

std::size_t AddressKeyHash::operator()(const AddressKey& key) const noexcept {
    // FNV-1a: addresses are not attacker-chosen enough to need a keyed hash (a client picks
    // only its own address, and the map holds one entry per connected address).
    std::uint64_t hash = 14695981039346656037ULL;
    for (const unsigned char byte : key) {
        hash = (hash ^ byte) * 1099511628211ULL;
    }
    return static_cast<std::size_t>(hash);
}

ConnectionSlot::ConnectionSlot(ServerState& state,
                               std::optional<AddressKey> address,
                               bool over_address_limit)
    : state_(&state), address_(address), over_address_limit_(over_address_limit) {}

ConnectionSlot::ConnectionSlot(ConnectionSlot&& other) noexcept
    : state_(std::exchange(other.state_, nullptr)),
      address_(std::exchange(other.address_, std::nullopt)),
      over_address_limit_(other.over_address_limit_) {}

ConnectionSlot::~ConnectionSlot() {
    if (state_ != nullptr) {
        state_->release_connection(address_);
    }
}

ConnectionSlot ServerState::admit_connection(const std::optional<net::ip::address>& peer) {
    connections.fetch_add(1);
    const std::size_t per_address_limit = config.max_connections_per_ip;
    if (per_address_limit == 0 || !peer) {
        return ConnectionSlot(*this, std::nullopt, false);
    }
    const AddressKey key =
        peer->is_v4() ? net::ip::make_address_v6(net::ip::v4_mapped, peer->to_v4()).to_bytes()
                      : peer->to_v6().to_bytes();
    std::lock_guard lock(addresses_mutex_);
    std::size_t& count = connections_by_address_[key];
    if (count >= per_address_limit) {
        return ConnectionSlot(*this, std::nullopt, true);
    }
    ++count;
    return ConnectionSlot(*this, key, false);
}

void ServerState::release_connection(const std::optional<AddressKey>& address) {
    if (address) {
        std::lock_guard lock(addresses_mutex_);
        const auto found = connections_by_address_.find(*address);
        if (found != connections_by_address_.end() && --found->second == 0) {
            connections_by_address_.erase(found);  // the map holds connected addresses only
        }
    }
    // Sequentially consistent, like the accept loop's pause: either it sees this decrement when
    // it re-checks after pausing, or this sees the pause and wakes it.
    connections.fetch_sub(1);
    if (accept_paused.exchange(false) && wake_accept) {
        wake_accept();
    }
}

void ServerState::close_all_sessions(bool force) {
    std::lock_guard lock(sessions_mutex_);
    for (const auto& [id, entry] : sessions_.by_id) {
        // Runs on the session's strand, so the session cannot be mid-step or unregistering;
        // the lookup under the lock tells whether it still exists.
        net::post(entry.executor, [this, session_id = id, force] {
            // Outside the lock: closing can fire cancel callbacks that take their own locks.
            if (const auto close = close_callback(session_id, 0)) {
                close(force);
            }
        });
    }
}

void ServerState::close_idle_sessions(std::chrono::steady_clock::time_point now) {
    const std::int64_t now_ticks = now.time_since_epoch().count();
    std::lock_guard lock(sessions_mutex_);
    for (const auto& [id, entry] : sessions_.by_id) {
        const std::int64_t until = entry.idle_until->load(std::memory_order_relaxed);
        if (until == 0 || until > now_ticks) {
            continue;
        }
        // Decided again on the session's strand, where idle_until is written: a session that
        // has since woken up (its next request arrived) shows 0 or a later time and stays.
        net::post(entry.executor, [this, session_id = id, now_ticks] {
            if (const auto close = close_callback(session_id, now_ticks)) {
                close(false);
            }
        });
    }
}

std::function<void(bool)> ServerState::close_callback(std::uint64_t id, std::int64_t idle_by) {
    std::lock_guard lock(sessions_mutex_);
    const auto found = sessions_.by_id.find(id);
    if (found == sessions_.by_id.end()) {
        return {};
    }
    if (idle_by != 0) {
        const std::int64_t until = found->second.idle_until->load(std::memory_order_relaxed);
        if (until == 0 || until > idle_by) {
            return {};
        }
    }
    return found->second.close;
}

}  // namespace detail

struct Server::Impl {
    Impl(const core::ServerConfig& config, Router router)
        : state(config, std::move(router)),
          io_threads(or_core_count(config.threads)),
          io(1),
          control(net::make_strand(io)),
          acceptor(control),
          signals(control),
          grace_timer(control),
          drain_timer(control),
          accept_gate(control),
          idle_sweep(control) {
        for (unsigned thread_idx = 1; thread_idx < io_threads; ++thread_idx) {
            workers.push_back(std::make_unique<net::io_context>(1));
            // A worker with no connection yet must keep running, not return from run().
            worker_guards.push_back(net::make_work_guard(*workers.back()));
        }
        state.on_drained = [this] {
            stop_contexts();
        };
        state.wake_accept = [this] {
            net::post(control, [this] { accept_gate.cancel(); });
        };
    }

    net::awaitable<void> accept_loop();
    /// Closes keep-alive connections idle past server.idle_timeout, every sweep period.
    net::awaitable<void> sweep_idle();
    net::awaitable<void> wait_for_room();
    net::awaitable<void> watch_signals();
    void request_drain();
    void request_stop();
    void begin_shutdown();
    void force_shutdown();
    void stop_contexts();
    /// Where the next connection lives: each I/O thread runs an io_context of its own, so the
    /// thread that reads a request also computes and writes its answer, and an idle thread
    /// waits in epoll_wait alone, never woken to help another (a hand-off costs more CPU than
    /// most of the work handed off).
    net::io_context& next_session_context();
    /// The context next_session_context() will return, without taking the turn.
    net::io_context& peek_session_context();
    /// After an accept completes: takes up to kAcceptBatch more connections already waiting
    /// in the listen backlog, without a trip through the event loop for each.
    void accept_backlog();
    void start_session(tcp::socket socket);
    void report_accept_error(const boost::system::error_code& ec);
    static void run_io(net::io_context& context);
    /// Runs `body` for every context at once: the workers' on threads of their own, `io`'s on
    /// the calling thread; returns when all have returned.
    void on_every_context(const std::function<void(net::io_context&)>& body);

    // Declared first so that it outlives the io_contexts, whose destruction destroys any
    // suspended session frames that still refer to it.
    detail::ServerState state;
    unsigned io_threads;
    /// Threads 1..io_threads-1 each run one. They outlive `io`: the accept loop's frame, which
    /// `io` destroys, may hold a socket made for the next worker.
    std::vector<std::unique_ptr<net::io_context>> workers;
    std::vector<net::executor_work_guard<net::io_context::executor_type>> worker_guards;
    /// Thread 0's context: sessions, and the acceptor, signals and timers below.
    net::io_context io;
    std::size_t next_context = 0;  ///< on the control strand
    /// Serializes the acceptor, signal set and grace timer, used from several I/O threads.
    net::strand<net::io_context::executor_type> control;
    tcp::acceptor acceptor;
    net::signal_set signals;
    net::steady_timer grace_timer;
    net::steady_timer drain_timer;
    /// The accept loop waits on it at server.max_connections; a closing connection cancels it.
    net::steady_timer accept_gate;
    net::steady_timer idle_sweep;
    std::chrono::steady_clock::time_point accept_error_logged{};  ///< on the control strand
    std::function<void()> drain_listener;  ///< set before run(), then read-only
    std::atomic<bool> drain_requested{false};
    std::string bound;  ///< written by listen() before run(), then read-only
    std::atomic<bool> stop_requested{false};
};

net::awaitable<void> Server::Impl::accept_loop() {
    while (acceptor.is_open()) {
        if (state.connections.load() >= state.config.max_connections) {
            // Not accept-and-close: new clients wait in the listen backlog until one leaves.
            co_await wait_for_room();
            continue;
        }
        // Each connection gets its own strand, although its io_context has one thread: the
        // upstream client runs a caller's reads inline only when the caller is on a strand
        // (client.cpp), and stop()'s close is posted to that same executor.
        tcp::socket socket(net::make_strand(next_session_context()));
        auto [ec] = co_await acceptor.async_accept(socket, kNoThrow);
        if (ec == net::error::operation_aborted || !acceptor.is_open()) {
            co_return;
        }
        if (ec) {
            report_accept_error(ec);
            net::steady_timer backoff(control, kAcceptBackoff);
            auto [timer_ec] = co_await backoff.async_wait(kNoThrow);
            (void)timer_ec;
            continue;
        }
        start_session(std::move(socket));
        accept_backlog();
    }
}

void Server::Impl::accept_backlog() {
    // The acceptor is non-blocking (listen()): accept() returns would_block once the backlog
    // is empty. Any other error is left for the next async_accept to meet and report.
    for (int taken = 0; taken < kAcceptBatch; ++taken) {
        if (state.connections.load() >= state.config.max_connections) {
            return;
        }
        // The turn is taken only by a connection, or the probe that finds the backlog empty
        // would skip a thread each time and leave connections dealt unevenly.
        tcp::socket socket(net::make_strand(peek_session_context()));
        boost::system::error_code ec;
        acceptor.accept(socket, ec);
        if (ec) {
            return;
        }
        next_session_context();
        start_session(std::move(socket));
    }
}

void Server::Impl::start_session(tcp::socket socket) {
    boost::system::error_code peer_ec;
    const tcp::endpoint peer = socket.remote_endpoint(peer_ec);
    detail::ConnectionSlot slot = state.admit_connection(
        peer_ec ? std::nullopt : std::optional<net::ip::address>(peer.address()));
    const net::any_io_executor executor = socket.get_executor();
    net::co_spawn(
        executor, detail::run_session(std::move(socket), &state, std::move(slot)), net::detached);
}

void Server::Impl::report_accept_error(const boost::system::error_code& ec) {
    // EMFILE, ENFILE, ENOBUFS, ECONNABORTED: keep serving the connections we have.
    const auto now = std::chrono::steady_clock::now();
    if (ec == net::error::connection_aborted ||
        (accept_error_logged != std::chrono::steady_clock::time_point{} &&
         now - accept_error_logged < kAcceptErrorLogPeriod)) {
        return;
    }
    accept_error_logged = now;
    std::fprintf(stderr,
                 "ragd http: accept failed (%s) with %zu connections open; retrying "
                 "every %lld ms (raise the fd limit or lower server.max_connections)\n",
                 ec.message().c_str(),
                 state.connections.load(),
                 static_cast<long long>(kAcceptBackoff.count()));
}

net::awaitable<void> Server::Impl::sweep_idle() {
    const auto period = std::clamp(
        std::chrono::duration_cast<std::chrono::milliseconds>(state.config.idle_timeout / 8),
        kMinIdleSweep,
        kMaxIdleSweep);
    while (!state.stopping.load()) {
        idle_sweep.expires_after(period);
        auto [ec] = co_await idle_sweep.async_wait(kNoThrow);
        if (ec || state.stopping.load()) {
            co_return;
        }
        state.close_idle_sessions(std::chrono::steady_clock::now());
    }
}

net::awaitable<void> Server::Impl::wait_for_room() {
    state.accept_paused.store(true);
    // Re-checked after publishing the pause: a connection that ended just before it could not
    // see the pause and wake us.
    if (state.connections.load() < state.config.max_connections) {
        state.accept_paused.store(false);
        co_return;
    }
    accept_gate.expires_after(kAcceptPauseCheck);
    auto [ec] = co_await accept_gate.async_wait(kNoThrow);
    (void)ec;  // woken (cancelled) or the periodic re-check: the caller looks again either way
    state.accept_paused.store(false);
}

/// SIGTERM drains (delay, then stop); SIGINT stops without the delay; a second signal of either
/// kind while stopping gives up on in-flight requests.
net::awaitable<void> Server::Impl::watch_signals() {
    for (;;) {
        auto [ec, signal_number] = co_await signals.async_wait(kNoThrow);
        if (ec) {
            co_return;
        }
        if (stop_requested.load()) {
            force_shutdown();
            co_return;
        }
        if (signal_number == SIGTERM && !drain_requested.load()) {
            request_drain();
        } else {
            request_stop();
        }
    }
}

void Server::Impl::request_drain() {
    if (drain_requested.exchange(true)) {
        return;
    }
    state.draining.store(true);
    if (drain_listener) {
        drain_listener();
    }
    const auto delay = state.config.drain_delay;
    if (delay.count() == 0) {
        request_stop();
        return;
    }
    drain_timer.expires_after(delay);
    drain_timer.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) {
            request_stop();
        }
    });
}

void Server::Impl::request_stop() {
    if (!drain_requested.exchange(true)) {
        state.draining.store(true);
        if (drain_listener) {
            drain_listener();
        }
    }
    if (stop_requested.exchange(true)) {
        return;
    }
    state.stopping.store(true);
    net::post(control, [this] { begin_shutdown(); });
}

void Server::Impl::begin_shutdown() {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    drain_timer.cancel();
    accept_gate.cancel();
    idle_sweep.cancel();
    // Idle connections close now; busy ones finish their response, then close.
    state.close_all_sessions(false);
    if (state.session_count() == 0) {
        stop_contexts();
        return;
    }
    grace_timer.expires_after(state.config.drain_timeout);
    grace_timer.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) {
            force_shutdown();
        }
    });
}

void Server::Impl::force_shutdown() {
    net::post(control, [this] {
        boost::system::error_code ignored;
        acceptor.close(ignored);
        signals.cancel(ignored);
        state.stopping.store(true);
        state.close_all_sessions(true);
        grace_timer.expires_after(kForceGrace);
        grace_timer.async_wait([this](const boost::system::error_code&) { stop_contexts(); });
    });
}

void Server::Impl::stop_contexts() {
    io.stop();
    for (const auto& worker : workers) {
        worker->stop();
    }
}

void Server::Impl::on_every_context(const std::function<void(net::io_context&)>& body) {
    std::vector<std::thread> threads;
    for (const auto& worker : workers) {
        threads.emplace_back([&body, context = worker.get()] { body(*context); });
    }
    body(io);
    for (std::thread& thread : threads) {
        thread.join();
    }
}

net::io_context& Server::Impl::next_session_context() {
    net::io_context& context = peek_session_context();
    ++next_context;
    return context;
}

net::io_context& Server::Impl::peek_session_context() {
    const std::size_t index = next_context % io_threads;
    return index == 0 ? io : *workers[index - 1];
}

void Server::Impl::run_io(net::io_context& context) {
    // A throwing handler must not take the server down; session code catches its own
    // exceptions, so this is a last resort.
    for (;;) {
        try {
            context.run();
            return;
        } catch (const std::exception& error) {
            std::fprintf(
                stderr, "ragd http: unexpected exception on an I/O thread: %s\n", error.what());
        }
    }
}

Server::Server(const core::ServerConfig& config, Router router)
    : impl_(std::make_unique<Impl>(config, std::move(router))) {}

Server::~Server() {
    // Session frames still suspended are destroyed with the io_context after this body; their
    // slots must not post to a strand that is going away.
    impl_->state.wake_accept = nullptr;
    // run() joined everything when it returned; if it never ran, nothing is running.
    impl_->state.compute.stop();
    impl_->state.compute.join();
}

core::Result<void> Server::listen() {
    auto endpoint = parse_listen_address(impl_->state.config.listen);
    if (!endpoint) {
        return endpoint.error();
    }
    boost::system::error_code ec;
    tcp::acceptor& acceptor = impl_->acceptor;
    const std::string where = format_endpoint(*endpoint);
    acceptor.open(endpoint->protocol(), ec);
    if (!ec) {
        acceptor.set_option(net::socket_base::reuse_address(true), ec);
    }
    if (!ec) {
        acceptor.bind(*endpoint, ec);
    }
    if (!ec) {
        acceptor.listen(net::socket_base::max_listen_connections, ec);
    }
    if (!ec) {
        acceptor.non_blocking(true, ec);  // accept_backlog() must stop at an empty backlog
    }
    if (!ec) {
        raise_descriptor_limit(impl_->state.config.max_connections);
    }
    if (ec) {
        boost::system::error_code ignored;
        acceptor.close(ignored);
        return core::fail(core::ErrorCode::kIo,
                          "cannot listen on " + where + " (from \"" + impl_->state.config.listen +
                              "\"): " + ec.message());
    }
    impl_->bound = format_endpoint(acceptor.local_endpoint(ec));
    // Now, not in run(): a supervisor may send SIGTERM as soon as it sees the port open, and
    // the signal must then drain rather than kill. It is delivered once run() waits for it.
    boost::system::error_code ignored;
    impl_->signals.add(SIGINT, ignored);
    impl_->signals.add(SIGTERM, ignored);
    return {};
}

std::string Server::local_endpoint() const {
    return impl_->bound;
}

void Server::run() {
    Impl& impl = *impl_;
    if (!impl.acceptor.is_open() && !impl.stop_requested.load()) {
        return;  // listen() failed or was not called: nothing to serve
    }
    net::co_spawn(impl.control, impl.watch_signals(), net::detached);
    net::co_spawn(impl.control, impl.accept_loop(), net::detached);
    net::co_spawn(impl.control, impl.sweep_idle(), net::detached);

    impl.on_every_context(&Impl::run_io);
    // Sessions force-closed at the drain deadline may still be unwinding (their sockets are
    // closed and their cancel tokens fired, so every wait ends at once). Let them finish, so
    // that no request frame outlives run(): what they use (LLM clients, caches) may be
    // destroyed as soon as run() returns. All contexts at once: a session may wait on a
    // completion that another context's reactor delivers.
    if (impl.state.session_count() > 0) {
        impl.worker_guards.clear();  // run_for() may return as soon as a context is idle
        impl.on_every_context([](net::io_context& context) {
            context.restart();
            context.run_for(kForceGrace);
        });
    }
    // Handlers already running finish; their sessions are gone with the stopped io_context.
    impl.state.compute.join();
}

void Server::stop() {
    impl_->request_stop();
}

void Server::set_observer(ServerObserver* observer) {
    impl_->state.observer = observer;
}

void Server::set_router(Router router) {
    impl_->state.router = std::move(router);
}

void Server::set_drain_listener(std::function<void()> listener) {
    impl_->drain_listener = std::move(listener);
}

net::io_context& Server::io_context() {
    return impl_->io;
}

}  // namespace ragd::http
