// Slot accounting and waiting for HttpClient's pool. Waiters sleep on a timer of their own
// strand; a release marks one as notified under the mutex and posts the timer's cancel to that
// strand, so a wake-up can neither be lost nor race with the waiter's own use of the timer.
#include "http/client_pool.hpp"

#include <algorithm>
#include <optional>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace ragd::http::detail {

namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kNoThrow = net::as_tuple(net::use_awaitable);

}  // namespace

struct ConnectionPool::Waiter {
    explicit Waiter(const net::any_io_executor& executor) : timer(executor) {}

    net::steady_timer timer;  ///< used on the waiter's strand only
    bool cancelled = false;   ///< waiter's strand only
    bool notified = false;    ///< guarded by the pool's mutex
};

ConnectionPool::ConnectionPool(net::any_io_executor executor, PoolSettings settings)
    : settings_(settings),
      sweep_strand_(net::make_strand(std::move(executor))),
      sweep_timer_(sweep_strand_) {}

const void* ConnectionPool::context_of(const net::any_io_executor& executor) {
    return &net::query(executor, net::execution::context);
}

net::awaitable<ClientResult<ConnectionPool::Lease>> ConnectionPool::acquire(
    Clock::time_point wait_deadline, std::shared_ptr<core::CancelToken> cancel) {
    const net::any_io_executor executor = co_await net::this_coro::executor;
    const void* const affinity = context_of(executor);
    std::shared_ptr<Waiter> waiter;
    std::optional<core::CancelRegistration> registration;
    for (;;) {
        if ((cancel && cancel->cancelled()) || (waiter && waiter->cancelled)) {
            if (waiter) {
                const std::lock_guard lock(mutex_);
                std::erase(waiters_, waiter);
                if (waiter->notified) {
                    notify_one_locked();  // pass on the wake-up this waiter will not use
                }
            }
            co_return ClientError{ClientErrorKind::kCancelled,
                                  "cancelled while waiting for a pooled connection"};
        }
        std::vector<std::shared_ptr<PooledConnection>> stale;
        Lease lease;
        bool reserved = false;
        bool exhausted = false;
        {
            const std::lock_guard lock(mutex_);
            if (waiter) {
                std::erase(waiters_, waiter);
                waiter->notified = false;
            }
            const Clock::time_point now = Clock::now();
            // Newest first; erasing at `pos` leaves the indexes below it as they were.
            for (std::size_t pos = idle_.size(); pos-- > 0;) {
                if (idle_[pos]->affinity != affinity) {
                    continue;
                }
                std::shared_ptr<PooledConnection> candidate = std::move(idle_[pos]);
                idle_.erase(idle_.begin() + static_cast<std::ptrdiff_t>(pos));
                if (candidate->idle_since + settings_.idle_keepalive > now &&
                    candidate->probe_alive()) {
                    lease.connection = std::move(candidate);
                    ++reused_;
                    break;
                }
                stale.push_back(std::move(candidate));
                --open_;
            }
            if (!lease.connection && open_ >= settings_.max_connections && !idle_.empty()) {
                // Every slot is taken but some are idle on other io_contexts: the oldest makes
                // room for a connection on this one.
                stale.push_back(std::move(idle_.front()));
                idle_.pop_front();
                --open_;
            }
            if (!lease.connection && open_ < settings_.max_connections) {
                ++open_;
                reserved = true;
            }
            if (!lease.connection && !reserved) {
                if (now >= wait_deadline) {
                    exhausted = true;
                } else {
                    if (!waiter) {
                        waiter = std::make_shared<Waiter>(executor);
                    }
                    waiters_.push_back(waiter);
                }
            }
        }
        for (const auto& connection : stale) {
            connection->close_async();
        }
        if (lease.connection || reserved) {
            co_return lease;
        }
        if (exhausted) {
            co_return ClientError{
                ClientErrorKind::kPoolExhausted,
                "all " + std::to_string(settings_.max_connections) +
                    " connections (max_connections) stayed busy for the whole wait"};
        }
        if (!registration && cancel) {
            // The token may fire on any thread: only post to the waiter's strand from there.
            registration.emplace(cancel, [waiter, executor] {
                net::post(executor, [waiter] {
                    waiter->cancelled = true;
                    waiter->timer.cancel();
                });
            });
        }
        waiter->timer.expires_at(wait_deadline);
        auto [ec] = co_await waiter->timer.async_wait(kNoThrow);
        (void)ec;  // woken by a release, a cancel or the deadline: the loop re-checks all three
    }
}

void ConnectionPool::release(std::shared_ptr<PooledConnection> connection, bool reusable) {
    std::optional<Clock::time_point> arm_at;
    {
        const std::lock_guard lock(mutex_);
        if (reusable && !shut_down_ && idle_.size() < settings_.max_idle) {
            connection->idle_since = Clock::now();
            idle_.push_back(connection);
            connection.reset();
            if (!sweeper_armed_) {
                sweeper_armed_ = true;
                arm_at = idle_.front()->idle_since + settings_.idle_keepalive;
            }
        } else {
            --open_;
        }
        notify_one_locked();
    }
    if (connection) {
        connection->close_async();
    }
    if (arm_at) {
        net::post(sweep_strand_, [weak = weak_from_this(), at = *arm_at] {
            if (auto self = weak.lock()) {
                self->arm_sweeper(at);
            }
        });
    }
}

void ConnectionPool::release_slot() {
    const std::lock_guard lock(mutex_);
    --open_;
    notify_one_locked();
}

void ConnectionPool::count_created() {
    const std::lock_guard lock(mutex_);
    ++created_;
}

HttpClient::Stats ConnectionPool::stats() const {
    const std::lock_guard lock(mutex_);
    HttpClient::Stats stats;
    stats.idle = idle_.size();
    stats.in_use = open_ - idle_.size();
    stats.connections_created = created_;
    stats.reused = reused_;
    stats.waiting = waiters_.size();
    return stats;
}

void ConnectionPool::close_idle() {
    std::deque<std::shared_ptr<PooledConnection>> closing;
    {
        const std::lock_guard lock(mutex_);
        closing.swap(idle_);
        open_ -= closing.size();
        for (std::size_t idx = 0; idx < closing.size(); ++idx) {
            notify_one_locked();
        }
    }
    for (const auto& connection : closing) {
        connection->close_async();
    }
}

void ConnectionPool::shutdown() {
    {
        const std::lock_guard lock(mutex_);
        shut_down_ = true;
    }
    close_idle();
    // A pending expiry wait would keep the io_context busy for up to idle_keepalive.
    net::post(sweep_strand_, [self = shared_from_this()] { self->sweep_timer_.cancel(); });
}

void ConnectionPool::notify_one_locked() {
    while (!waiters_.empty()) {
        std::shared_ptr<Waiter> waiter = std::move(waiters_.front());
        waiters_.pop_front();
        if (waiter->notified) {
            continue;
        }
        waiter->notified = true;
        const net::any_io_executor executor = waiter->timer.get_executor();
        net::post(executor, [waiter] { waiter->timer.cancel(); });
        return;
    }
}

void ConnectionPool::arm_sweeper(Clock::time_point at) {
    sweep_timer_.expires_at(at);
    sweep_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
        if (ec) {
            return;  // cancelled by shutdown()
        }
        if (auto self = weak.lock()) {
            self->sweep();
        }
    });
}

void ConnectionPool::sweep() {
    std::vector<std::shared_ptr<PooledConnection>> expired;
    std::optional<Clock::time_point> next;
    {
        const std::lock_guard lock(mutex_);
        const Clock::time_point now = Clock::now();
        while (!idle_.empty() && idle_.front()->idle_since + settings_.idle_keepalive <= now) {
            expired.push_back(std::move(idle_.front()));
            idle_.pop_front();
            --open_;
            notify_one_locked();
        }
        if (idle_.empty() || shut_down_) {
            sweeper_armed_ = false;
        } else {
            next = idle_.front()->idle_since + settings_.idle_keepalive;
        }
    }
    for (const auto& connection : expired) {
        connection->close_async();
    }
    if (next) {
        arm_sweeper(*next);
    }
}

}  // namespace ragd::http::detail
