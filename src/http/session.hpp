// Internal to http/: the state every connection coroutine shares, and the coroutine itself.
// Asio-only (no Beast), so server.cpp stays a cheap translation unit.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <unordered_map>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>

#include "core/config.hpp"
#include "http/observer.hpp"
#include "http/router.hpp"

namespace ragd::http::detail {

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

    /// `close(force)` is run on `executor` (the session's strand) by close_all_sessions(): it
    /// closes an idle session, and a busy one only when `force`.
    std::uint64_t register_session(boost::asio::any_io_executor executor,
                                   std::function<void(bool force)> close);
    /// Returns true when stopping and this was the last session.
    bool unregister_session(std::uint64_t id);
    std::size_t session_count();
    /// Posts each session's close to its strand; sessions then see an error and end. Without
    /// `force`, sessions in the middle of a request finish it first.
    void close_all_sessions(bool force);

private:
    struct SessionEntry {
        boost::asio::any_io_executor executor;
        std::function<void(bool)> close;
    };
    struct Sessions {
        std::unordered_map<std::uint64_t, SessionEntry> by_id;
        std::uint64_t next_id = 0;
    };
    std::mutex sessions_mutex_;  // guards sessions_ and nothing else
    Sessions sessions_;
};

/// Serves one connection until the peer closes, a timeout fires, an error closes it, or stop().
/// `socket`'s executor must be a strand. Never throws.
boost::asio::awaitable<void> run_session(boost::asio::ip::tcp::socket socket, ServerState* state);

}  // namespace ragd::http::detail
