// The refresher is a thread with an io_context of its own rather than a coroutine on the
// server's I/O threads: the first fetch has to finish before the server runs (startup fails
// without credentials), and a fetch, even a slow one, then never competes with requests.
#include "http/aws_credentials.hpp"

#include <algorithm>
#include <exception>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/cancel_token.hpp"
#include "core/log.hpp"
#include "http/aws_credential_fetch.hpp"

namespace ragd::http {
namespace net = boost::asio;
using std::chrono::system_clock;

namespace {

std::int64_t seconds_until(system_clock::time_point when, system_clock::time_point now) {
    return std::chrono::duration_cast<std::chrono::seconds>(when - now).count();
}

/// Runs the fetch and leaves its result in *out (which outlives the run of the io_context).
net::awaitable<void> fetch_into(AwsCredentialSource source,
                                std::shared_ptr<core::CancelToken> cancel,
                                core::Result<AwsTemporaryCredentials>* out) {
    *out = co_await fetch_aws_credentials(std::move(source), std::move(cancel));
}

/// co_spawn's completion: an exception here is a bug, but must not take the process down.
void log_unexpected(const std::exception_ptr& error) {
    if (!error) {
        return;
    }
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        core::log::error("aws credentials refresher stopped on an exception",
                         {{"error", e.what()}});
    } catch (...) {
        core::log::error("aws credentials refresher stopped on an exception");
    }
}

}  // namespace

std::chrono::milliseconds refresh_delay(system_clock::time_point expiration,
                                        system_clock::time_point now,
                                        const AwsRefreshOptions& options) {
    const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(expiration - now);
    std::chrono::milliseconds delay = remaining / 2;
    if (remaining > options.margin) {
        delay = std::min(delay, remaining - options.margin);
    }
    return std::max(delay, options.min_delay);
}

/// Owns the refresh thread and everything it touches; the provider it feeds outlives it.
class AwsCredentialsProvider::Refresher {
public:
    Refresher(AwsCredentialsProvider& owner, AwsCredentialSource source, AwsRefreshOptions options)
        : owner_(owner), source_(std::move(source)), options_(options) {}

    Refresher(const Refresher&) = delete;
    Refresher& operator=(const Refresher&) = delete;

    // A post or join that throws would leave the thread running over freed members: the
    // resulting std::terminate is the safe outcome.
    // NOLINTNEXTLINE(bugprone-exception-escape)
    ~Refresher() {
        if (!thread_.joinable()) {
            return;
        }
        // Either the loop is waiting on the timer (the cancel wakes it) or fetching (the token
        // aborts the fetch); both then see stopping_, which only the io_context's thread
        // touches. The token is cancelled there too, after stopping_ is set: cancelled from
        // here first, a fetch could end before stopping_ was set and be logged as a failed
        // refresh (seen in CI). With no work left, run() returns.
        net::post(io_, [this] {
            stopping_ = true;
            timer_.cancel();
            cancel_->cancel();
        });
        thread_.join();
    }

    /// The first fetch, on the caller's thread.
    core::Result<AwsTemporaryCredentials> fetch_first() {
        core::Result<AwsTemporaryCredentials> fetched =
            core::fail(core::ErrorCode::kInternal, describe(source_) + ": fetch did not run");
        net::co_spawn(io_, fetch_into(source_, cancel_, &fetched), log_unexpected);
        io_.run();
        io_.restart();
        return fetched;
    }

    /// Starts the refresh loop for credentials that expire at `expiration`.
    void start(system_clock::time_point expiration) {
        net::co_spawn(io_, run(expiration), log_unexpected);
        thread_ = std::thread([this] { io_.run(); });
    }

private:
    net::awaitable<void> run(system_clock::time_point expiration) {
        const std::string name = describe(source_);
        std::chrono::milliseconds retry = options_.retry_delay;
        std::chrono::milliseconds delay = refresh_delay(expiration, system_clock::now(), options_);
        for (;;) {
            timer_.expires_after(delay);
            co_await timer_.async_wait(net::as_tuple(net::use_awaitable));
            if (stopping_) {
                co_return;
            }
            auto fetched = co_await fetch_aws_credentials(source_, cancel_);
            if (stopping_) {
                co_return;
            }
            const auto now = system_clock::now();
            if (fetched) {
                expiration = fetched->expiration;
                owner_.set(std::move(fetched->credentials));
                retry = options_.retry_delay;
                delay = refresh_delay(expiration, now, options_);
                core::log::info("aws credentials refreshed",
                                {{"source", name},
                                 {"expires_in_s", seconds_until(expiration, now)},
                                 {"next_refresh_in_s", delay.count() / 1000}});
                continue;
            }
            // The old credentials stay in use: they may well be valid for minutes yet.
            delay = retry;
            retry = std::min(retry * 2, options_.max_retry_delay);
            core::log::warn("aws credentials refresh failed; keeping the current ones",
                            {{"error", fetched.error().detail},
                             {"expires_in_s", seconds_until(expiration, now)},
                             {"retry_in_ms", delay.count()}});
        }
    }

    AwsCredentialsProvider& owner_;
    const AwsCredentialSource source_;
    const AwsRefreshOptions options_;
    const std::shared_ptr<core::CancelToken> cancel_ = core::CancelToken::create();
    net::io_context io_;
    net::steady_timer timer_{io_};  ///< io_'s thread only
    bool stopping_ = false;         ///< io_'s thread only
    std::thread thread_;
};

AwsCredentialsProvider::AwsCredentialsProvider(std::string source, AwsCredentials credentials)
    : source_(std::move(source)),
      current_(std::make_shared<const AwsCredentials>(std::move(credentials))) {}

AwsCredentialsProvider::~AwsCredentialsProvider() = default;

std::shared_ptr<const AwsCredentialsProvider> AwsCredentialsProvider::fixed(
    AwsCredentials credentials, std::string source) {
    return std::shared_ptr<const AwsCredentialsProvider>(
        new AwsCredentialsProvider(std::move(source), std::move(credentials)));
}

core::Result<std::shared_ptr<const AwsCredentialsProvider>> AwsCredentialsProvider::start(
    AwsCredentialSource source, AwsRefreshOptions options) {
    if (source.kind == AwsCredentialSourceKind::kEnvironment) {
        return fixed(source.static_credentials, describe(source));
    }
    const std::string name = describe(source);
    std::shared_ptr<AwsCredentialsProvider> provider(new AwsCredentialsProvider(name, {}));
    auto refresher = std::make_unique<Refresher>(*provider, std::move(source), options);
    auto first = refresher->fetch_first();
    if (!first) {
        return first.error();
    }
    const auto expiration = first->expiration;
    provider->set(std::move(first->credentials));
    core::log::info(
        "aws credentials fetched",
        {{"source", name}, {"expires_in_s", seconds_until(expiration, system_clock::now())}});
    refresher->start(expiration);
    provider->refresher_ = std::move(refresher);
    return std::shared_ptr<const AwsCredentialsProvider>(std::move(provider));
}

void AwsCredentialsProvider::set(AwsCredentials credentials) {
    auto fresh = std::make_shared<const AwsCredentials>(std::move(credentials));
    const std::lock_guard lock(mutex_);
    current_.swap(fresh);
    // The old set is freed outside the lock when `fresh` goes (or by its last signer).
}

}  // namespace ragd::http
