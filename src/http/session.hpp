// Internal to http/: the state every connection coroutine shares, and the coroutine itself.
// Asio-only (no Beast), so server.cpp stays a cheap translation unit.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <unordered_map>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>

#include "core/config.hpp"
#include "http/observer.hpp"
#include "http/router.hpp"

namespace ragd::http::detail {

class ServerState;

/// A client address as 16 bytes (IPv4 as its v4-mapped IPv6 form, so a dual-stack listener
/// counts a client once whichever way it arrives).
using AddressKey = std::array<unsigned char, 16>;

struct AddressKeyHash {
    std::size_t operator()(const AddressKey& key) const noexcept;
};

/// One accepted connection's share of server.max_connections and max_connections_per_ip: taken
/// by the accept loop, given back when the session frame ends, however it ends.
class ConnectionSlot {
public:
    ConnectionSlot(ServerState& state, std::optional<AddressKey> address, bool over_address_limit);
    ConnectionSlot(ConnectionSlot&& other) noexcept;
    ConnectionSlot& operator=(ConnectionSlot&&) = delete;
    ConnectionSlot(const ConnectionSlot&) = delete;
    ConnectionSlot& operator=(const ConnectionSlot&) = delete;
    ~ConnectionSlot();

    /// The client's address already had max_connections_per_ip connections: the session
    /// answers its first request with 503 and closes.
    bool over_address_limit() const { return over_address_limit_; }

private:
    ServerState* state_;
    std::optional<AddressKey> address_;  ///< set when counted per address
    bool over_address_limit_;
};

/// Owned by Server::Impl and declared before its io_context, so it outlives every session
/// frame (the io_context destroys suspended frames when it is destroyed).
class ServerState {
public:
    ServerState(const core::ServerConfig& config, Router router);

    const core::ServerConfig config;
    Router router;  ///< replaced only before run() (Server::set_router)
    /// Runs Dispatch::kCompute handlers.
    boost::asio::thread_pool compute;
    /// Compute requests queued or running; admission compares it with max_queued_requests.
    std::atomic<std::size_t> compute_in_flight{0};
    /// Set by stop(): sessions finish the current response and close.
    std::atomic<bool> stopping{false};
    /// Set on SIGTERM, before stopping: responses say Connection: close so clients move on.
    std::atomic<bool> draining{false};
    /// Called (from a session's thread) when stopping and the last session has ended.
    std::function<void()> on_drained;
    /// Set before run() (Server::set_observer), then read-only; null when nobody watches.
    ServerObserver* observer = nullptr;

    /// Open connections, from accept until the session frame ends (ConnectionSlot).
    std::atomic<std::size_t> connections{0};
    /// Set by the accept loop while it waits for a connection to end (max_connections reached).
    std::atomic<bool> accept_paused{false};
    /// Wakes the paused accept loop; called from any thread by the slot that frees room. Set
    /// before run(), cleared by ~Server before the io_context (and its frames) goes.
    std::function<void()> wake_accept;

    /// Counts a just-accepted connection from `peer` (unknown when the peer already left). The
    /// slot says whether the address was over max_connections_per_ip; such a connection counts
    /// towards max_connections only.
    ConnectionSlot admit_connection(const std::optional<boost::asio::ip::address>& peer);

    /// `close(force)` is run on `executor` (the session's strand) by close_all_sessions() and
    /// close_idle_sessions(): it closes an idle session, and a busy one only when `force`.
    /// `idle_until` (steady_clock ticks; 0 while not waiting between requests) is written on
    /// the session's strand and must stay valid until unregister_session().
    std::uint64_t register_session(boost::asio::any_io_executor executor,
                                   std::function<void(bool force)> close,
                                   const std::atomic<std::int64_t>* idle_until);
    /// Returns true when stopping and this was the last session.
    bool unregister_session(std::uint64_t id);
    std::size_t session_count();
    /// Posts each session's close to its strand; sessions then see an error and end. Without
    /// `force`, sessions in the middle of a request finish it first.
    void close_all_sessions(bool force);
    /// Closes the sessions whose wait between requests has passed server.idle_timeout (their
    /// `idle_until` is before `now`). Run periodically by the server: an idle connection then
    /// holds no timer and no timed read of its own, only a wait for its socket to be readable
    /// (about 700 bytes less per idle keep-alive connection).
    void close_idle_sessions(std::chrono::steady_clock::time_point now);

private:
    struct SessionEntry {
        boost::asio::any_io_executor executor;
        std::function<void(bool)> close;
        const std::atomic<std::int64_t>* idle_until;
    };
    struct Sessions {
        std::unordered_map<std::uint64_t, SessionEntry> by_id;
        std::uint64_t next_id = 0;
    };
    /// The session's close callback, looked up under the lock; empty when the session has gone
    /// or, with `idle_by` (steady_clock ticks) nonzero, when it is not idle past `idle_by`.
    std::function<void(bool)> close_callback(std::uint64_t id, std::int64_t idle_by);
    friend class ConnectionSlot;
    /// Gives back a slot's share (ConnectionSlot's destructor).
    void release_connection(const std::optional<AddressKey>& address);

    std::mutex sessions_mutex_;  // guards sessions_ and nothing else
    Sessions sessions_;
    /// Connections per client address; used only when max_connections_per_ip is set.
    std::mutex addresses_mutex_;  // guards connections_by_address_ and nothing else
    std::unordered_map<AddressKey, std::size_t, AddressKeyHash> connections_by_address_;
};

/// Serves one connection until the peer closes, a timeout fires, an error closes it, or stop().
/// `socket`'s executor must be a strand. Never throws.
boost::asio::awaitable<void> run_session(boost::asio::ip::tcp::socket socket,
                                         ServerState* state,
                                         ConnectionSlot slot);

}  // namespace ragd::http::detail
