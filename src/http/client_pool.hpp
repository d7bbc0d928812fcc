// The keep-alive pool behind HttpClient: counts open connections against max_connections,
// keeps up to max_idle idle ones (most recently used first), expires them after idle_keepalive
// and queues senders when every slot is taken. A connection is only lent to callers on the
// io_context whose reactor serves its socket: ragd's server runs one io_context per I/O thread,
// and a socket used from another thread would cost a thread wake-up per read (and could outlive
// its io_context at shutdown). It never touches a socket itself: connections
// close themselves on their own strand. Internal to http/ (client.cpp and tests).
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "core/cancel_token.hpp"
#include "http/client.hpp"

namespace ragd::http::detail {

/// What the pool needs from a connection.
class PooledConnection {
public:
    virtual ~PooledConnection() = default;
    /// Called while the connection is idle and owned by the caller alone: false when the peer
    /// has closed it (or sent something unexpected) since it was pooled.
    virtual bool probe_alive() = 0;
    /// Closes the connection on its own strand; may be called from any thread.
    virtual void close_async() = 0;

    std::chrono::steady_clock::time_point idle_since;  ///< guarded by the pool's mutex
    /// The io_context its socket was opened on (context_of() of the creating strand); set
    /// before the connection is first released, then read-only.
    const void* affinity = nullptr;
};

struct PoolSettings {
    std::size_t max_connections = 256;
    std::size_t max_idle = 64;
    std::chrono::milliseconds idle_keepalive{30000};
};

class ConnectionPool : public std::enable_shared_from_this<ConnectionPool> {
public:
    /// A pooled connection, or (connection null) a reserved slot for a new one.
    struct Lease {
        std::shared_ptr<PooledConnection> connection;
    };

    ConnectionPool(boost::asio::any_io_executor executor, PoolSettings settings);

    /// The key of the io_context behind `executor`, for PooledConnection::affinity.
    static const void* context_of(const boost::asio::any_io_executor& executor);

    /// Takes the most recently used live idle connection opened on the caller's io_context,
    /// else reserves a slot when fewer than max_connections are open (closing the oldest idle
    /// connection of another io_context when that makes room), else waits until
    /// `wait_deadline` for one to be released (kPoolExhausted) or `cancel` to fire
    /// (kCancelled). Must run on a strand: the wait uses the coroutine's executor.
    boost::asio::awaitable<ClientResult<Lease>> acquire(
        std::chrono::steady_clock::time_point wait_deadline,
        std::shared_ptr<core::CancelToken> cancel);

    /// Gives back a leased connection: pooled when `reusable` and there is room, else closed
    /// and its slot freed.
    void release(std::shared_ptr<PooledConnection> connection, bool reusable);
    /// Frees a reserved slot whose connection could not be made.
    void release_slot();
    void count_created();

    HttpClient::Stats stats() const;
    /// Closes every idle connection.
    void close_idle();
    /// close_idle(), and from now on closes instead of pooling; stops the expiry timer.
    void shutdown();

private:
    struct Waiter;

    void notify_one_locked();
    void arm_sweeper(std::chrono::steady_clock::time_point at);
    void sweep();

    const PoolSettings settings_;
    boost::asio::strand<boost::asio::any_io_executor> sweep_strand_;
    boost::asio::steady_timer sweep_timer_;  ///< used on sweep_strand_ only

    mutable std::mutex mutex_;
    // Guarded by mutex_:
    std::size_t open_ = 0;                                ///< in use + idle + reserved
    std::deque<std::shared_ptr<PooledConnection>> idle_;  ///< oldest first
    std::deque<std::shared_ptr<Waiter>> waiters_;
    bool sweeper_armed_ = false;
    bool shut_down_ = false;
    std::size_t created_ = 0;
    std::size_t reused_ = 0;
};

}  // namespace ragd::http::detail
