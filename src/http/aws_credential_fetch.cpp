// A fetch makes a client of its own, used for one to three requests and dropped: credentials
// are fetched every few hours, so a pool kept between fetches would only hold idle sockets.
#include "http/aws_credential_fetch.hpp"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <boost/asio/this_coro.hpp>

#include "core/text.hpp"
#include "http/client.hpp"

namespace ragd::http {
namespace net = boost::asio;

namespace {

/// Largest answer read: credentials are a few KB.
constexpr std::size_t kMaxBodyBytes = std::size_t{64} * 1024;
/// IMDSv2 session tokens may live up to 6 h; one is asked for at every fetch anyway.
constexpr std::string_view kImdsTokenTtlSeconds = "21600";
constexpr std::string_view kImdsCredentialsPath = "/latest/meta-data/iam/security-credentials/";

struct Answer {
    int status = 0;
    std::string body;

    bool ok() const { return status >= 200 && status <= 299; }
};

/// The client's message without its "upstream http://host:port: " prefix: the caller names
/// the source (with its path) instead.
std::string client_reason(std::string_view message) {
    constexpr std::string_view kPrefix = "upstream ";
    if (message.starts_with(kPrefix)) {
        const std::size_t colon = message.find(": ", kPrefix.size());
        if (colon != std::string_view::npos) {
            message.remove_prefix(colon + 2);
        }
    }
    return std::string(message);
}

core::Error unavailable(std::string reason) {
    return core::fail(core::ErrorCode::kUnavailable, std::move(reason));
}

/// "HTTP 404: <body excerpt>": error answers carry no credentials, so they may be quoted.
core::Error http_status_error(const Answer& answer) {
    const std::string excerpt = body_excerpt(answer.body);
    return unavailable("HTTP " + std::to_string(answer.status) +
                       (excerpt.empty() ? std::string() : ": " + excerpt));
}

/// A token file's content without surrounding whitespace (a trailing newline would be an
/// invalid header value). Names the variable and the path, never the content.
core::Result<std::string> read_token_file(const std::string& path, std::string_view variable) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        const int error = errno;
        return core::fail(
            core::ErrorCode::kIo,
            "cannot read " + std::string(variable) + " " + path + ": " + std::strerror(error));
    }
    std::ostringstream content;
    content << in.rdbuf();
    std::string token(core::trim_whitespace(content.str()));
    if (token.empty()) {
        return core::fail(core::ErrorCode::kIo, std::string(variable) + " " + path + " is empty");
    }
    return token;
}

ClientOptions client_options(const AwsCredentialSource& source) {
    ClientOptions options;
    options.base_url = source.base_url;
    options.max_connections = 1;
    options.max_idle = 1;  // IMDS's three requests share one connection
    options.connect_timeout = source.timeout;
    options.first_byte_timeout = source.timeout;
    options.read_idle_timeout = source.timeout;
    options.total_timeout = source.timeout;
    options.ca_file = source.ca_file;
    // Link-local and loopback endpoints are never behind a proxy (one could not reach them);
    // STS is a public endpoint and goes through HTTPS_PROXY like the LLM APIs.
    options.proxy_url = source.kind == AwsCredentialSourceKind::kWebIdentity ? "" : "none";
    return options;
}

/// One request and its whole answer; a transport failure is kUnavailable with the client's
/// reason. The caller co_awaits it directly, so `client` outlives the frame.
net::awaitable<core::Result<Answer>> exchange(HttpClient& client,
                                              Method method,
                                              std::string target,
                                              std::vector<Header> headers,
                                              std::string body,
                                              std::shared_ptr<core::CancelToken> cancel) {
    ClientRequest request;
    request.method = method;
    request.target = std::move(target);
    request.headers = std::move(headers);
    request.body = std::move(body);
    auto sent = co_await client.send(std::move(request), std::move(cancel));
    if (!sent) {
        co_return unavailable(client_reason(sent.error().message));
    }
    auto content = co_await (*sent)->read_all(kMaxBodyBytes);
    if (!content) {
        co_return unavailable(client_reason(content.error().message));
    }
    co_return Answer{(*sent)->status(), std::move(*content)};
}

std::string form_field(std::string_view name, std::string_view value) {
    return std::string(name) + "=" + aws_uri_encode(value, true);
}

net::awaitable<core::Result<AwsTemporaryCredentials>> from_sts(
    HttpClient& client, AwsCredentialSource source, std::shared_ptr<core::CancelToken> cancel) {
    auto token = read_token_file(source.web_identity_token_file, "AWS_WEB_IDENTITY_TOKEN_FILE");
    if (!token) {
        co_return token.error();
    }
    // AssumeRoleWithWebIdentity is authorized by the token itself: the request is not signed.
    const std::string form = "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&" +
                             form_field("RoleArn", source.role_arn) + "&" +
                             form_field("RoleSessionName", source.role_session_name) + "&" +
                             form_field("WebIdentityToken", *token);
    // Built before the co_await: g++ 12 rejects a braced vector as a coroutine's argument.
    std::vector<Header> headers{
        {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
    auto answer = co_await exchange(
        client, Method::kPost, source.target, std::move(headers), form, std::move(cancel));
    if (!answer) {
        co_return answer.error();
    }
    if (!answer->ok()) {
        if (auto message = sts_error_message(answer->body)) {
            co_return unavailable("HTTP " + std::to_string(answer->status) + ": " + *message);
        }
        co_return http_status_error(*answer);
    }
    co_return parse_assume_role_response(answer->body);
}

net::awaitable<core::Result<AwsTemporaryCredentials>> from_container(
    HttpClient& client, AwsCredentialSource source, std::shared_ptr<core::CancelToken> cancel) {
    std::vector<Header> headers;
    if (!source.authorization_token_file.empty()) {
        auto token = read_token_file(source.authorization_token_file,
                                     "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
        if (!token) {
            co_return token.error();
        }
        headers.push_back({"Authorization", std::move(*token)});
    } else if (!source.authorization_token.empty()) {
        headers.push_back({"Authorization", source.authorization_token});
    }
    auto answer = co_await exchange(
        client, Method::kGet, source.target, std::move(headers), {}, std::move(cancel));
    if (!answer) {
        co_return answer.error();
    }
    if (!answer->ok()) {
        co_return http_status_error(*answer);
    }
    co_return parse_credentials_json(answer->body);
}

net::awaitable<core::Result<AwsTemporaryCredentials>> from_instance_metadata(
    HttpClient& client, std::shared_ptr<core::CancelToken> cancel) {
    // IMDSv2: a session token from a PUT (which a misconfigured proxy or an SSRF'd GET cannot
    // make), then the role name, then that role's credentials.
    std::vector<Header> ttl{
        {"X-aws-ec2-metadata-token-ttl-seconds", std::string(kImdsTokenTtlSeconds)}};
    auto session =
        co_await exchange(client, Method::kPut, "/latest/api/token", std::move(ttl), {}, cancel);
    if (!session) {
        co_return session.error();
    }
    if (!session->ok()) {
        co_return unavailable("IMDSv2 token request: " + http_status_error(*session).detail);
    }
    const std::vector<Header> with_token{
        {"X-aws-ec2-metadata-token", std::string(core::trim_whitespace(session->body))}};
    auto roles = co_await exchange(
        client, Method::kGet, std::string(kImdsCredentialsPath), with_token, {}, cancel);
    if (!roles) {
        co_return roles.error();
    }
    if (roles->status == 404) {
        co_return unavailable("no IAM role is attached to this instance (HTTP 404)");
    }
    if (!roles->ok()) {
        co_return http_status_error(*roles);
    }
    const std::string_view listing = roles->body;
    const std::string role(core::trim_whitespace(listing.substr(0, listing.find('\n'))));
    if (role.empty()) {
        co_return unavailable("no IAM role is attached to this instance");
    }
    auto credentials =
        co_await exchange(client,
                          Method::kGet,
                          std::string(kImdsCredentialsPath) + aws_uri_encode(role, true),
                          with_token,
                          {},
                          std::move(cancel));
    if (!credentials) {
        co_return credentials.error();
    }
    if (!credentials->ok()) {
        co_return unavailable("role " + role + ": " + http_status_error(*credentials).detail);
    }
    co_return parse_credentials_json(credentials->body);
}

}  // namespace

net::awaitable<core::Result<AwsTemporaryCredentials>> fetch_aws_credentials(
    AwsCredentialSource source, std::shared_ptr<core::CancelToken> cancel) {
    const std::string name = describe(source);
    HttpClient client(co_await net::this_coro::executor, client_options(source));
    core::Result<AwsTemporaryCredentials> fetched =
        core::fail(core::ErrorCode::kInvalidArgument, "static credentials are not fetched");
    switch (source.kind) {
        case AwsCredentialSourceKind::kWebIdentity:
            fetched = co_await from_sts(client, source, cancel);
            break;
        case AwsCredentialSourceKind::kContainer:
            fetched = co_await from_container(client, source, cancel);
            break;
        case AwsCredentialSourceKind::kInstanceMetadata:
            fetched = co_await from_instance_metadata(client, cancel);
            break;
        case AwsCredentialSourceKind::kEnvironment:
            break;
    }
    if (!fetched) {
        co_return core::fail(fetched.error().code, name + ": " + fetched.error().detail);
    }
    co_return fetched;
}

}  // namespace ragd::http
