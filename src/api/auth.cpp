// Authentication, authorisation and rate limiting of one request, in that order: an unknown
// caller learns nothing about scopes or limits, and refused requests consume no rate tokens.
#include "api/auth.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "core/log.hpp"

namespace ragd::api {
namespace net = boost::asio;
namespace {

std::string_view trim(std::string_view text) {
    const auto first = text.find_first_not_of(" \t");
    if (first == std::string_view::npos) {
        return {};
    }
    const auto last = text.find_last_not_of(" \t");
    return text.substr(first, last - first + 1);
}

bool starts_with_ignoring_case(std::string_view text, std::string_view prefix) {
    return text.size() >= prefix.size() &&
           std::equal(prefix.begin(), prefix.end(), text.begin(), [](char a, char b) {
               return std::tolower(static_cast<unsigned char>(a)) ==
                      std::tolower(static_cast<unsigned char>(b));
           });
}

http::Response unauthorized(std::string_view message, bool invalid_token) {
    http::Response response = http::Response::error(401, "unauthorized", message);
    // RFC 6750: a missing credential gets the bare challenge, a rejected one says why.
    response.headers.push_back({"WWW-Authenticate",
                                invalid_token ? R"(Bearer realm="ragd", error="invalid_token")"
                                              : R"(Bearer realm="ragd")"});
    return response;
}

http::Response forbidden(const std::string& message) {
    return http::Response::error(403, "forbidden", message);
}

std::vector<http::Header> rate_headers(const RateDecision& decision) {
    if (!decision.limited) {
        return {};
    }
    return {{"RateLimit-Limit", std::to_string(decision.limit)},
            {"RateLimit-Remaining", std::to_string(decision.remaining)},
            {"RateLimit-Reset", std::to_string(decision.reset.count())}};
}

/// Adds the admission's RateLimit-* headers to whatever the wrapped async handler sends.
class HeaderAddingWriter final : public http::ResponseWriter {
public:
    HeaderAddingWriter(http::ResponseWriter& inner, std::vector<http::Header> headers)
        : inner_(&inner), headers_(std::move(headers)) {}

    net::awaitable<bool> send(http::Response response) override {
        response.headers.insert(response.headers.end(), headers_.begin(), headers_.end());
        co_return co_await inner_->send(std::move(response));
    }
    net::awaitable<bool> begin_stream(int status,
                                      std::string content_type,
                                      std::vector<http::Header> headers) override {
        headers.insert(headers.end(), headers_.begin(), headers_.end());
        co_return co_await inner_->begin_stream(
            status, std::move(content_type), std::move(headers));
    }
    net::awaitable<bool> write(std::string_view data) override {
        co_return co_await inner_->write(data);
    }
    net::awaitable<bool> end() override { co_return co_await inner_->end(); }
    bool started() const override { return inner_->started(); }

private:
    http::ResponseWriter* inner_;
    std::vector<http::Header> headers_;
};

struct GuardedAsyncRoute {
    std::shared_ptr<const Authenticator> auth;
    Protection protection;
    GuardedAsyncHandler handler;
};

// A free coroutine with a pointer to the route, not a capturing lambda: the lambda object
// would not outlive the first suspension (see STYLE.md).
net::awaitable<void> run_guarded(const GuardedAsyncRoute* route,
                                 http::Request request,
                                 http::ResponseWriter& writer,
                                 http::RequestContext& context) {
    Admission admission = co_await route->auth->admit_async(request, route->protection);
    if (admission.principal.authenticated()) {
        context.annotate("api_key", std::string(admission.principal.name()));
    }
    if (admission.rejection) {
        co_await writer.send(std::move(*admission.rejection));
        co_return;
    }
    if (admission.headers.empty()) {
        co_await route->handler(std::move(request), admission.principal, writer, context);
        co_return;
    }
    HeaderAddingWriter with_headers(writer, std::move(admission.headers));
    co_await route->handler(std::move(request), admission.principal, with_headers, context);
}

}  // namespace

std::string_view Principal::name() const {
    return key_ == nullptr ? std::string_view() : std::string_view(key_->name);
}

const storage::Metadata& Principal::filter() const {
    static const storage::Metadata kNone;
    return key_ == nullptr ? kNone : key_->filter;
}

void Principal::charge_tokens(std::size_t tokens) const {
    if (key_ != nullptr && authenticator_ != nullptr && key_->limits.limits_tokens()) {
        authenticator_->charge_tokens(*key_, tokens);
    }
}

Authenticator::Authenticator(ApiKeyStore keys, std::unique_ptr<RateLimiter> limiter, Now now)
    : enabled_(true), keys_(std::move(keys)), limiter_(std::move(limiter)), now_(std::move(now)) {
    if (!now_) {
        now_ = [] {
            return RateClock::now();
        };
    }
    if (!limiter_) {
        limiter_ = std::make_unique<LocalRateLimiter>(keys_, now_());
    }
}

const ApiKey* Authenticator::identify(const http::Request& request,
                                      const Protection& protection,
                                      Admission& admission) const {
    if (!enabled_) {
        return nullptr;
    }
    bool malformed = false;
    const std::optional<std::string_view> presented = presented_key(request, &malformed);
    if (!presented) {
        admission.rejection =
            unauthorized(malformed ? "the Authorization header must be 'Bearer KEY'"
                                   : "an API key is required: send 'Authorization: Bearer KEY' or "
                                     "'X-API-Key: KEY'",
                         malformed);
        return nullptr;
    }
    const ApiKey* key = keys_.find(*presented);
    if (key == nullptr) {
        admission.rejection = unauthorized("the API key is not valid", true);
        return nullptr;
    }
    admission.principal = Principal(*key, *this);
    if (!key->has_scope(protection.scope)) {
        admission.rejection =
            forbidden("API key '" + key->name + "' lacks the '" +
                      std::string(scope_name(protection.scope)) + "' scope this route requires");
        return nullptr;
    }
    if (!protection.collection.empty() && !key->allows_collection(protection.collection)) {
        admission.rejection = forbidden("API key '" + key->name + "' may not use collection '" +
                                        protection.collection + "'");
        return nullptr;
    }
    return key;
}

void Authenticator::apply(const ApiKey& key, const RateDecision& decision, Admission& admission) {
    admission.headers = rate_headers(decision);
    if (!decision.allowed) {
        http::Response response = http::Response::error(
            429,
            "rate_limited",
            "API key '" + key.name + "' is over its " + decision.exceeded + " limit; retry in " +
                std::to_string(decision.retry_after.count()) + " s");
        response.headers.push_back({"Retry-After", std::to_string(decision.retry_after.count())});
        response.headers.insert(
            response.headers.end(), admission.headers.begin(), admission.headers.end());
        admission.rejection = std::move(response);
    }
}

Admission Authenticator::admit(const http::Request& request, const Protection& protection) const {
    Admission admission;
    const ApiKey* key = identify(request, protection, admission);
    if (key != nullptr) {
        apply(*key, limiter_->admit(*key, protection.uses_tokens, now_()), admission);
    }
    return admission;
}

net::awaitable<Admission> Authenticator::admit_async(const http::Request& request,
                                                     const Protection& protection) const {
    Admission admission;
    const ApiKey* key = identify(request, protection, admission);
    if (key != nullptr) {
        const RateDecision decision =
            co_await limiter_->admit_async(*key, protection.uses_tokens, now_());
        apply(*key, decision, admission);
    }
    co_return admission;
}

void Authenticator::charge_tokens(const ApiKey& key, std::size_t tokens) const {
    if (limiter_) {
        limiter_->charge_tokens(key, tokens, now_());
    }
}

std::optional<std::string_view> presented_key(const http::Request& request, bool* malformed) {
    bool bad_authorization = false;
    if (auto authorization = request.header("Authorization")) {
        const std::string_view value = trim(*authorization);
        constexpr std::string_view kScheme = "Bearer ";
        if (starts_with_ignoring_case(value, kScheme)) {
            const std::string_view token = trim(value.substr(kScheme.size()));
            if (!token.empty()) {
                return token;
            }
        }
        bad_authorization = true;
    }
    if (auto api_key = request.header("X-API-Key")) {
        const std::string_view value = trim(*api_key);
        if (!value.empty()) {
            return value;
        }
    }
    if (malformed != nullptr) {
        *malformed = bad_authorization;
    }
    return std::nullopt;
}

http::Handler guard(std::shared_ptr<const Authenticator> auth,
                    Protection protection,
                    GuardedHandler handler) {
    return [auth = std::move(auth),
            protection = std::move(protection),
            handler = std::move(handler)](const http::Request& request) {
        Admission admission = auth->admit(request, protection);
        if (admission.rejection) {
            return std::move(*admission.rejection);
        }
        http::Response response = handler(request, admission.principal);
        response.headers.insert(
            response.headers.end(), admission.headers.begin(), admission.headers.end());
        return response;
    };
}

http::AsyncHandler guard_async(std::shared_ptr<const Authenticator> auth,
                               Protection protection,
                               GuardedAsyncHandler handler) {
    auto route = std::make_shared<const GuardedAsyncRoute>(
        GuardedAsyncRoute{std::move(auth), std::move(protection), std::move(handler)});
    return [route](
               http::Request request, http::ResponseWriter& writer, http::RequestContext& context) {
        return run_guarded(route.get(), std::move(request), writer, context);
    };
}

bool is_loopback_listen(std::string_view listen) {
    std::string host;
    if (!listen.empty() && listen.front() == '[') {
        const auto close = listen.find(']');
        if (close == std::string_view::npos) {
            return false;
        }
        host = std::string(listen.substr(1, close - 1));
    } else {
        const auto colon = listen.rfind(':');
        host = std::string(colon == std::string_view::npos ? listen : listen.substr(0, colon));
    }
    std::transform(host.begin(), host.end(), host.begin(), [](unsigned char c) {
        return static_cast<char>(std::tolower(c));
    });
    if (host == "localhost") {
        return true;
    }
    in_addr v4{};
    if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
        return (ntohl(v4.s_addr) >> 24) == 127;
    }
    in6_addr v6{};
    if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
        if (IN6_IS_ADDR_LOOPBACK(&v6)) {
            return true;
        }
        return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
    }
    return false;  // all interfaces (""), or a name that may resolve anywhere
}

core::Result<bool> auth_required(const core::Config& config) {
    const core::AuthConfig& auth = config.auth;
    if (auth.enabled == "true" || (auth.enabled == "auto" && !auth.keys.empty())) {
        return true;
    }
    if (is_loopback_listen(config.server.listen) || auth.allow_unauthenticated_remote) {
        return false;
    }
    const std::string why =
        auth.keys.empty() ? "no [[auth.keys]] are configured" : "auth.enabled is false";
    return core::fail(
        core::ErrorCode::kInvalidArgument,
        "refusing to serve without authentication on server.listen = \"" + config.server.listen +
            "\": it is not a loopback address and " + why +
            ". Create a key with `ragd keys create --name NAME` and add the [[auth.keys]] table "
            "it prints to the config file, or listen on 127.0.0.1, or set "
            "auth.allow_unauthenticated_remote = true if something in front of ragd "
            "authenticates every request");
}

std::shared_ptr<const Authenticator> make_authenticator(const core::Config& config,
                                                        const LimiterFactory& limiter) {
    auto required = auth_required(config);
    if (required && !*required) {
        return std::make_shared<const Authenticator>();
    }
    auto store = ApiKeyStore::from_config(config.auth.keys);
    if (!store) {
        core::log::error("auth: refusing every request", {{"reason", store.error().detail}});
        return std::make_shared<const Authenticator>(ApiKeyStore{});
    }
    std::unique_ptr<RateLimiter> built = limiter ? limiter(*store) : nullptr;
    return std::make_shared<const Authenticator>(std::move(*store), std::move(built));
}

}  // namespace ragd::api
