// The SDKs skip a half-configured source silently and go on down the chain; ragd refuses to
// start instead, because on EKS that fall-through would quietly sign with the node's instance
// role rather than the pod's.
#include "http/aws_credential_source.hpp"

#include <algorithm>
#include <cctype>

#include <boost/asio/ip/address.hpp>
#include <unistd.h>

namespace ragd::http {
namespace {

constexpr std::string_view kEcsHost = "http://169.254.170.2";
constexpr std::string_view kImdsUrl = "http://169.254.169.254";
constexpr std::string_view kImdsIpv6Url = "http://[fd00:ec2::254]";
constexpr std::chrono::milliseconds kImdsTimeout{1000};

/// The variable's value; unset and empty are the same.
std::string get(const EnvLookup& env, const char* name) {
    auto value = env(name);
    return value ? std::move(*value) : std::string();
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

core::Error invalid(std::string detail) {
    return core::fail(core::ErrorCode::kInvalidArgument, std::move(detail));
}

/// "scheme://host[:port]" as the client's base_url (the port only when not the default).
std::string base_of(const UpstreamUrl& url) {
    return (url.https ? "https://" : "http://") + url.host_header();
}

/// Splits `text` into its validated scheme and authority and its path and query as written
/// ("/" when there is none); `variable` names where the URL came from, for the message.
core::Result<std::pair<UpstreamUrl, std::string>> split_url(std::string_view text,
                                                            std::string_view variable) {
    const std::size_t scheme_end = text.find("://");
    const std::size_t path_begin = scheme_end == std::string_view::npos
                                       ? std::string_view::npos
                                       : text.find_first_of("/?", scheme_end + 3);
    const std::string_view base = text.substr(0, path_begin);
    auto url = parse_upstream_url(base);
    if (!url) {
        return invalid(std::string(variable) + ": " + url.error().detail);
    }
    std::string target(path_begin == std::string_view::npos ? "/" : text.substr(path_begin));
    if (target.front() == '?') {
        target.insert(0, "/");
    }
    return std::pair{std::move(*url), std::move(target)};
}

core::Result<std::optional<AwsCredentialSource>> from_static_keys(const EnvLookup& env) {
    AwsCredentialSource source;
    source.kind = AwsCredentialSourceKind::kEnvironment;
    source.static_credentials.access_key_id = get(env, "AWS_ACCESS_KEY_ID");
    source.static_credentials.secret_access_key = get(env, "AWS_SECRET_ACCESS_KEY");
    source.static_credentials.session_token = get(env, "AWS_SESSION_TOKEN");
    const bool has_id = !source.static_credentials.access_key_id.empty();
    const bool has_secret = !source.static_credentials.secret_access_key.empty();
    if (has_id != has_secret) {
        return invalid(has_id ? "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"
                              : "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not");
    }
    if (!has_id) {
        return std::nullopt;
    }
    return source;
}

core::Result<std::optional<AwsCredentialSource>> from_web_identity(const EnvLookup& env,
                                                                   std::string_view region) {
    AwsCredentialSource source;
    source.kind = AwsCredentialSourceKind::kWebIdentity;
    source.web_identity_token_file = get(env, "AWS_WEB_IDENTITY_TOKEN_FILE");
    source.role_arn = get(env, "AWS_ROLE_ARN");
    if (source.web_identity_token_file.empty() != source.role_arn.empty()) {
        return invalid(source.role_arn.empty()
                           ? "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not"
                           : "AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not");
    }
    if (source.role_arn.empty()) {
        return std::nullopt;
    }
    source.role_session_name = get(env, "AWS_ROLE_SESSION_NAME");
    if (source.role_session_name.empty()) {
        // Shows in CloudTrail: which replica assumed the role.
        source.role_session_name = "ragd-" + std::to_string(::getpid());
    }
    const char* variable = "AWS_ENDPOINT_URL_STS";
    std::string endpoint = get(env, variable);
    if (endpoint.empty()) {
        variable = "AWS_ENDPOINT_URL";
        endpoint = get(env, variable);
    }
    if (endpoint.empty()) {
        if (region.empty()) {
            return invalid("web identity credentials need a region for STS");
        }
        variable = "the STS endpoint";
        endpoint = "https://sts." + std::string(region) + ".amazonaws.com";
    }
    auto url = split_url(endpoint, variable);
    if (!url) {
        return url.error();
    }
    source.base_url = base_of(url->first);
    source.target = std::move(url->second);
    return source;
}

core::Result<std::optional<AwsCredentialSource>> from_container(const EnvLookup& env) {
    AwsCredentialSource source;
    source.kind = AwsCredentialSourceKind::kContainer;
    source.authorization_token_file = get(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    if (source.authorization_token_file.empty()) {
        source.authorization_token = get(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
    }
    if (std::string relative = get(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
        !relative.empty()) {
        source.base_url = std::string(kEcsHost);
        source.target = relative.front() == '/' ? std::move(relative) : "/" + relative;
        return source;
    }
    const std::string full = get(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    if (full.empty()) {
        return std::nullopt;
    }
    auto url = split_url(full, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    if (!url) {
        return url.error();
    }
    if (!container_url_allowed(url->first)) {
        return invalid("AWS_CONTAINER_CREDENTIALS_FULL_URI " + base_of(url->first) +
                       ": refused: a plain-http URL must be on a loopback address, "
                       "169.254.170.2, 169.254.170.23 or fd00:ec2::23 (else use https)");
    }
    source.base_url = base_of(url->first);
    source.target = std::move(url->second);
    return source;
}

core::Result<std::optional<AwsCredentialSource>> from_instance_metadata(const EnvLookup& env) {
    if (iequals(get(env, "AWS_EC2_METADATA_DISABLED"), "true")) {
        return std::nullopt;
    }
    const char* variable = "AWS_EC2_METADATA_SERVICE_ENDPOINT";
    std::string endpoint = get(env, variable);
    if (endpoint.empty()) {
        variable = "the instance metadata endpoint";
        endpoint = iequals(get(env, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE"), "ipv6")
                       ? std::string(kImdsIpv6Url)
                       : std::string(kImdsUrl);
    }
    auto url = split_url(endpoint, variable);
    if (!url) {
        return url.error();
    }
    AwsCredentialSource source;
    source.kind = AwsCredentialSourceKind::kInstanceMetadata;
    source.base_url = base_of(url->first);
    source.timeout = kImdsTimeout;
    return source;
}

}  // namespace

std::string describe(const AwsCredentialSource& source) {
    switch (source.kind) {
        case AwsCredentialSourceKind::kEnvironment:
            return "the environment (AWS_ACCESS_KEY_ID)";
        case AwsCredentialSourceKind::kWebIdentity:
            return "STS AssumeRoleWithWebIdentity at " + source.base_url + source.target +
                   " (role " + source.role_arn + ")";
        case AwsCredentialSourceKind::kContainer:
            return "the ECS container endpoint " + source.base_url + source.target;
        case AwsCredentialSourceKind::kInstanceMetadata:
            return "the EC2 instance metadata service " + source.base_url;
    }
    return "AWS credentials";
}

core::Result<std::optional<AwsCredentialSource>> select_aws_credential_source(
    const EnvLookup& env, std::string_view region) {
    // The first source that is configured wins; a misconfigured one stops the search.
    auto source = from_static_keys(env);
    if (!source || *source) {
        return source;
    }
    source = from_web_identity(env, region);
    if (!source || *source) {
        return source;
    }
    source = from_container(env);
    if (!source || *source) {
        return source;
    }
    return from_instance_metadata(env);
}

bool container_url_allowed(const UpstreamUrl& url) {
    namespace ip = boost::asio::ip;
    if (url.https || url.host == "localhost") {
        return true;
    }
    boost::system::error_code ec;
    ip::address address = ip::make_address(url.host, ec);
    if (ec) {
        return false;  // a name other than localhost could resolve anywhere
    }
    if (address.is_v6() && address.to_v6().is_v4_mapped()) {
        address = ip::make_address_v4(ip::v4_mapped, address.to_v6());
    }
    // Compared as addresses, so that fd00:0ec2:0:0:0:0:0:23 is fd00:ec2::23.
    return address.is_loopback() || address == ip::make_address("169.254.170.2") ||
           address == ip::make_address("169.254.170.23") ||
           address == ip::make_address("fd00:ec2::23");
}

}  // namespace ragd::http
