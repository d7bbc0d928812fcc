// Request coalescing: while one coroutine (the leader) computes the answer for a key, identical
// requests (followers) wait for its result instead of computing it again, so a burst of the same
// question costs one retrieval and one LLM call. Nothing is remembered after the leader finishes:
// results, errors included, go only to the followers waiting at that moment (caching is the
// answer cache's job).
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include "core/error.hpp"

namespace ragd::cache {

template <class T>
struct FlightResult {
    core::Result<T> result;
    /// True for a follower (the result came from another request's work): report it as
    /// `coalesced: true` and count it in metrics. False for the leader.
    bool shared = false;
};

/// Thread-safe; must outlive every run() it started. T must be copyable: each follower gets
/// its own copy of the leader's result.
template <class T>
class Singleflight {
public:
    using Work = std::function<boost::asio::awaitable<core::Result<T>>()>;

    /// The first caller for `key` runs `work` and returns its result (shared = false). Callers
    /// arriving with the same key while it runs wait for that result and resume on their own
    /// executor (shared = true). When the leader's work throws (cancellation included) or its
    /// coroutine is destroyed before finishing, followers get kUnavailable (kInternal for a
    /// non-cancellation exception) instead of hanging, and the leader sees the exception.
    /// Followers do not observe their own cancellation: they wait as long as the leader, so
    /// the leader's work must carry a deadline. Write `work` as a named variable, not a lambda
    /// inside the co_await expression (GCC 12 crash, STYLE.md).
    boost::asio::awaitable<FlightResult<T>> run(std::string key, Work work);

    /// Keys whose leader is running.
    std::size_t in_flight() const {
        const std::lock_guard lock(mutex_);
        return calls_.size();
    }

    /// Followers currently waiting on `key`'s leader (for tests and debugging).
    std::size_t waiting(std::string_view key) const {
        std::shared_ptr<Call> call;
        {
            const std::lock_guard lock(mutex_);
            const auto it = calls_.find(std::string(key));
            if (it == calls_.end()) {
                return 0;
            }
            call = it->second;
        }
        const std::lock_guard lock(call->mutex);
        return call->waiters.size();
    }

private:
    using Handler = boost::asio::any_completion_handler<void(core::Result<T>)>;

    // Waiters are only ever move-constructed: Boost 1.81's any_completion_handler
    // move-assignment wraps itself recursively until the stack overflows.
    struct Waiter {
        Handler handler;
        /// The follower's executor, with outstanding work tracked so its io_context keeps
        /// running while the follower waits on something the io_context does not know about.
        boost::asio::any_io_executor executor;
    };

    struct Call {
        std::mutex mutex;
        std::optional<core::Result<T>> result;
        std::vector<Waiter> waiters;

        static void deliver(Waiter waiter, core::Result<T> result) {
            auto executor = waiter.executor;
            boost::asio::post(
                executor,
                [handler = std::move(waiter.handler), result = std::move(result)]() mutable {
                    std::move(handler)(std::move(result));
                });
        }

        void add(Waiter waiter) {
            std::unique_lock lock(mutex);
            if (!result) {
                waiters.push_back(std::move(waiter));
                return;
            }
            // The leader finished between our lookup and this registration.
            core::Result<T> copy = *result;
            lock.unlock();
            deliver(std::move(waiter), std::move(copy));
        }

        void finish(core::Result<T> outcome) {
            std::vector<Waiter> ready;
            {
                const std::lock_guard lock(mutex);
                if (result) {
                    return;
                }
                result = std::move(outcome);
                ready.swap(waiters);
            }
            for (auto& waiter : ready) {
                deliver(std::move(waiter), *result);
            }
        }
    };

    struct WaitInitiation {
        std::shared_ptr<Call> call;

        template <class CompletionHandler>
        void operator()(CompletionHandler&& handler) const {
            auto executor = boost::asio::prefer(boost::asio::get_associated_executor(handler),
                                                boost::asio::execution::outstanding_work.tracked);
            call->add(Waiter{Handler(std::forward<CompletionHandler>(handler)),
                             boost::asio::any_io_executor(std::move(executor))});
        }
    };

    /// Ends the flight exactly once: with the leader's result, or with an error if the leader's
    /// frame unwinds or is destroyed without producing one.
    struct LeaderGuard {
        Singleflight* owner;
        std::string key;
        std::shared_ptr<Call> call;
        bool done = false;

        LeaderGuard(Singleflight* o, std::string k, std::shared_ptr<Call> c)
            : owner(o), key(std::move(k)), call(std::move(c)) {}
        void finish(core::Result<T> outcome) {
            done = true;
            owner->forget(key, call);  // later callers start a new flight: nothing is cached
            call->finish(std::move(outcome));
        }
        LeaderGuard(const LeaderGuard&) = delete;
        LeaderGuard& operator=(const LeaderGuard&) = delete;
        ~LeaderGuard() {
            if (done) {
                return;
            }
            try {
                finish(core::fail(
                    core::ErrorCode::kUnavailable,
                    "coalesced request '" + key + "': the leading request ended without a result"));
            } catch (...) {
                // Out of memory while unwinding: a destructor must not throw, and there is no
                // way left to reach the followers.
            }
        }
    };

    void forget(const std::string& key, const std::shared_ptr<Call>& call) {
        const std::lock_guard lock(mutex_);
        const auto it = calls_.find(key);
        if (it != calls_.end() && it->second == call) {
            calls_.erase(it);
        }
    }

    mutable std::mutex mutex_;
    std::unordered_map<std::string, std::shared_ptr<Call>> calls_;
};

template <class T>
boost::asio::awaitable<FlightResult<T>> Singleflight<T>::run(std::string key, Work work) {
    std::shared_ptr<Call> call;
    bool leader = false;
    {
        const std::lock_guard lock(mutex_);
        auto& slot = calls_[key];
        if (!slot) {
            slot = std::make_shared<Call>();
            leader = true;
        }
        call = slot;
    }
    if (!leader) {
        auto wait = boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&,
                                                void(core::Result<T>)>(
            WaitInitiation{std::move(call)}, boost::asio::use_awaitable);
        core::Result<T> result = co_await std::move(wait);
        co_return FlightResult<T>{std::move(result), true};
    }

    LeaderGuard guard{this, key, call};
    std::exception_ptr failure;
    core::Error error;
    try {
        core::Result<T> result = co_await work();
        guard.finish(result);
        co_return FlightResult<T>{std::move(result), false};
    } catch (const boost::system::system_error& e) {
        failure = std::current_exception();
        const bool cancelled = e.code() == boost::asio::error::operation_aborted;
        error = core::fail(cancelled ? core::ErrorCode::kUnavailable : core::ErrorCode::kInternal,
                           "coalesced request '" + key + "': the leading request " +
                               (cancelled ? "was cancelled" : "failed: " + std::string(e.what())));
    } catch (const std::exception& e) {
        failure = std::current_exception();
        error = core::fail(core::ErrorCode::kInternal,
                           "coalesced request '" + key +
                               "': the leading request failed: " + std::string(e.what()));
    } catch (...) {
        failure = std::current_exception();
        error = core::fail(core::ErrorCode::kInternal,
                           "coalesced request '" + key + "': the leading request failed");
    }
    guard.finish(std::move(error));
    std::rethrow_exception(failure);
}

}  // namespace ragd::cache
