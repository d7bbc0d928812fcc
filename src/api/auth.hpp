// Access control for the HTTP API: who is calling (an API key from Authorization: Bearer or
// X-API-Key), whether the route's scope and collection allow it, and whether the key is within
// its rate limits. Applied by wrapping route handlers (guard/guard_async in routes.cpp), so
// handlers receive the caller as a Principal and never see a rejected request.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "api/api_keys.hpp"
#include "api/rate_limiter.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "http/async_handler.hpp"
#include "http/message.hpp"
#include "http/router.hpp"

namespace ragd::api {

/// Every document lives in this collection today; routes that read or write documents check
/// it against the key's `collections`.
inline constexpr std::string_view kDefaultCollection = "default";

class Authenticator;

/// The caller of one request: an API key, or the anonymous caller when auth is off (every
/// scope, every collection, no filter, no limits). Cheap to copy: it points into the
/// Authenticator, which outlives every request of the routes it guards.
class Principal {
public:
    Principal() = default;
    Principal(const ApiKey& key, const Authenticator& authenticator)
        : key_(&key), authenticator_(&authenticator) {}

    bool authenticated() const { return key_ != nullptr; }
    /// The key's configured name; "" when anonymous.
    std::string_view name() const;
    /// Metadata every search is restricted to and every ingested document gets; sorted.
    const storage::Metadata& filter() const;
    bool has_scope(Scope scope) const { return key_ == nullptr || key_->has_scope(scope); }
    bool allows_collection(std::string_view collection) const {
        return key_ == nullptr || key_->allows_collection(collection);
    }
    /// Charges LLM tokens to the key's budgets (no-op when anonymous or unlimited).
    void charge_tokens(std::size_t tokens) const;

private:
    const ApiKey* key_ = nullptr;
    const Authenticator* authenticator_ = nullptr;
};

/// What a route requires of its caller.
struct Protection {
    Scope scope = Scope::kQuery;
    /// The collection the route reads or writes (kDefaultCollection); empty for routes about
    /// no collection (stats, metrics).
    std::string collection;
    /// The route may call the LLM: refused (429) while one of the key's token budgets is spent.
    bool uses_tokens = false;
};

/// The verdict on one request.
struct Admission {
    Principal principal;
    /// 401, 403 or 429, ready to send; nullopt when the request may proceed.
    std::optional<http::Response> rejection;
    /// RateLimit-Limit/-Remaining/-Reset for keys with a request limit; added to the response
    /// (also to the rejection already).
    std::vector<http::Header> headers;
};

class Authenticator {
public:
    using Now = std::function<RateClock::time_point()>;

    /// Auth off: every request is admitted as the anonymous principal.
    Authenticator() = default;
    /// Auth on. An empty store refuses every request (fail closed). `limiter` defaults to a
    /// LocalRateLimiter over `keys`; `now` (steady_clock by default) lets tests move time.
    explicit Authenticator(ApiKeyStore keys,
                           std::unique_ptr<RateLimiter> limiter = nullptr,
                           Now now = {});

    bool enabled() const { return enabled_; }

    /// Authenticates `request` (401: no key, a malformed Authorization, an unknown key), checks
    /// `protection` (403: scope or collection not granted) and the key's rate limit (429).
    /// Rejections never contain the presented key, only the configured key name.
    Admission admit(const http::Request& request, const Protection& protection) const;
    /// admit() for coroutines: awaits the limiter's admit_async() (a shared limiter's round trip
    /// to its store) instead of its blocking admit(). `request` and `protection` must outlive
    /// the call (the caller co_awaits it directly).
    boost::asio::awaitable<Admission> admit_async(const http::Request& request,
                                                  const Protection& protection) const;

    void charge_tokens(const ApiKey& key, std::size_t tokens) const;

private:
    /// Authentication and authorisation: a rejection, or the key whose limits apply (null when
    /// auth is off or the request was rejected).
    const ApiKey* identify(const http::Request& request,
                           const Protection& protection,
                           Admission& admission) const;
    /// Adds the decision's headers, and the 429 when it refuses.
    static void apply(const ApiKey& key, const RateDecision& decision, Admission& admission);

    bool enabled_ = false;
    ApiKeyStore keys_;
    std::unique_ptr<RateLimiter> limiter_;
    Now now_;
};

/// The key a request presents: the token of `Authorization: Bearer TOKEN`, else the value of
/// `X-API-Key`; nullopt when neither is there. `malformed` is set when an Authorization
/// header with another scheme (or an empty token) is the only credential.
std::optional<std::string_view> presented_key(const http::Request& request, bool* malformed);

/// A handler that also receives its caller.
using GuardedHandler = std::function<http::Response(const http::Request&, const Principal&)>;
/// An async handler that also receives its caller (by value, like the request).
using GuardedAsyncHandler = std::function<boost::asio::awaitable<void>(
    http::Request, Principal, http::ResponseWriter&, http::RequestContext&)>;

/// Wraps `handler`: rejected requests are answered by `auth` and never reach it; admitted ones
/// get their Principal, and their response the RateLimit-* headers. `auth` must outlive every
/// request the returned handler serves (the router's lifetime).
http::Handler guard(std::shared_ptr<const Authenticator> auth,
                    Protection protection,
                    GuardedHandler handler);
/// The same for async routes; the key's name is also annotated ("api_key") on the request.
http::AsyncHandler guard_async(std::shared_ptr<const Authenticator> auth,
                               Protection protection,
                               GuardedAsyncHandler handler);

/// True when `listen` (server.listen, HOST:PORT or [V6]:PORT) names a loopback address:
/// 127.0.0.0/8, ::1 or "localhost". An empty host (all interfaces) and other host names are not.
bool is_loopback_listen(std::string_view listen);

/// Whether `ragd serve` must authenticate: auth.enabled = true, or auto with keys configured.
/// Without auth on a non-loopback address it fails (a message naming the fixes) unless
/// auth.allow_unauthenticated_remote is set: a server must never be exposed by accident.
core::Result<bool> auth_required(const core::Config& config);

/// Builds the rate limiter for the authenticator's keys.
using LimiterFactory = std::function<std::unique_ptr<RateLimiter>(const ApiKeyStore& keys)>;

/// The authenticator for `config`: off when auth_required() is false, else on with the
/// configured keys and the limiter `limiter` builds (empty: a LocalRateLimiter). When
/// auth_required() fails or a key is invalid it fails closed (on, with no usable keys); `ragd
/// serve` checks auth_required() first and refuses to start instead.
std::shared_ptr<const Authenticator> make_authenticator(const core::Config& config,
                                                        const LimiterFactory& limiter = {});

}  // namespace ragd::api
