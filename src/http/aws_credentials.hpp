// The AWS credentials SigV4 requests are signed with, shared by every request of an upstream:
// fixed keys from the environment, or temporary ones (web identity, container endpoint, instance
// metadata) fetched at startup and refreshed in the background before they expire. current() is
// on the path of every signed request, from any I/O thread: a pointer copy under a mutex, no I/O.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "core/error.hpp"
#include "http/aws_credential_source.hpp"
#include "http/aws_sigv4.hpp"

namespace ragd::http {

/// When refreshes happen and how failed ones are retried.
struct AwsRefreshOptions {
    /// Refresh this long before the credentials expire, or at half their remaining lifetime
    /// when that comes sooner. Default 5 min.
    std::chrono::milliseconds margin{std::chrono::minutes(5)};
    /// Shortest wait before a refresh, so that credentials handed out nearly expired do not
    /// start a busy loop. Default 5 s.
    std::chrono::milliseconds min_delay{5000};
    /// Wait after a failed refresh, doubled after each further failure up to max_retry_delay.
    /// Defaults 1 s and 60 s. The current credentials are kept meanwhile.
    std::chrono::milliseconds retry_delay{1000};
    std::chrono::milliseconds max_retry_delay{60000};
};

/// The wait, from `now`, before refreshing credentials that expire at `expiration`:
/// min(expiration - margin, half the remaining lifetime) from now, at least min_delay.
std::chrono::milliseconds refresh_delay(std::chrono::system_clock::time_point expiration,
                                        std::chrono::system_clock::time_point now,
                                        const AwsRefreshOptions& options);

class AwsCredentialsProvider {
public:
    /// Credentials that never change (static keys from the environment; tests).
    static std::shared_ptr<const AwsCredentialsProvider> fixed(
        AwsCredentials credentials, std::string source = "static credentials");

    /// kEnvironment: fixed(). Other sources: fetches once, blocking the caller for up to the
    /// source's timeouts (so call it at startup, never on an I/O thread), then refreshes on a
    /// thread of its own until the provider is destroyed. Returns the first fetch's error
    /// (fetch_aws_credentials: "<source>: <reason>").
    static core::Result<std::shared_ptr<const AwsCredentialsProvider>> start(
        AwsCredentialSource source, AwsRefreshOptions options = {});

    /// Stops refreshing: cancels a fetch in progress and joins the refresher's thread. Must not
    /// run on that thread (nothing there holds the provider).
    ~AwsCredentialsProvider();
    AwsCredentialsProvider(const AwsCredentialsProvider&) = delete;
    AwsCredentialsProvider& operator=(const AwsCredentialsProvider&) = delete;

    /// The credentials to sign with now. Thread-safe and cheap; never waits for a refresh.
    /// Inline, so that code which only signs (and fuzz_llm_stream, built without Asio) does not
    /// link the refresher.
    std::shared_ptr<const AwsCredentials> current() const {
        const std::lock_guard lock(mutex_);
        return current_;
    }
    /// Where the credentials come from, as describe() says it (no secrets).
    const std::string& source() const { return source_; }

private:
    class Refresher;
    AwsCredentialsProvider(std::string source, AwsCredentials credentials);
    void set(AwsCredentials credentials);

    std::string source_;
    mutable std::mutex mutex_;
    std::shared_ptr<const AwsCredentials> current_;  ///< mutex_
    /// Declared last, so destroyed (stopped and joined) first: its thread calls set().
    std::unique_ptr<Refresher> refresher_;
};

}  // namespace ragd::http
