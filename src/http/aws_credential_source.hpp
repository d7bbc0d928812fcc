// Where AWS credentials come from, chosen from the environment in the order of the AWS SDKs'
// default chain: static keys, web identity (EKS IRSA), the container endpoint (ECS task role,
// EKS Pod Identity), then EC2 instance metadata. A pure function of the environment; fetching
// is aws_credential_fetch's job, keeping them fresh aws_credentials'.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "http/aws_sigv4.hpp"
#include "http/client_url.hpp"

namespace ragd::http {

enum class AwsCredentialSourceKind {
    kEnvironment,       ///< AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN)
    kWebIdentity,       ///< STS AssumeRoleWithWebIdentity with a token file
    kContainer,         ///< the ECS / EKS Pod Identity credentials endpoint
    kInstanceMetadata,  ///< EC2 IMDSv2
};

struct AwsCredentialSource {
    AwsCredentialSourceKind kind = AwsCredentialSourceKind::kEnvironment;
    /// kEnvironment: the keys themselves (never refreshed).
    AwsCredentials static_credentials;
    /// Where to fetch: "scheme://host[:port]", no path. STS endpoint, container endpoint or IMDS.
    std::string base_url;
    /// kWebIdentity: the STS path ("/" or an override's path); kContainer: the endpoint's path
    /// and query as given.
    std::string target;
    /// kWebIdentity.
    std::string role_arn;
    std::string role_session_name;
    std::string web_identity_token_file;  ///< re-read at every fetch: the kubelet rotates it
    /// kContainer: the Authorization header's value is read from this file at every fetch, or
    /// when it is empty taken from authorization_token (both may be empty: no header).
    std::string authorization_token_file;
    std::string authorization_token;
    /// Connect and total timeout of each request to the source: 1 s for instance metadata (a
    /// guess when nothing else is configured, so a laptop without it fails fast), else 5 s.
    std::chrono::milliseconds timeout{5000};
    /// Extra CA bundle for an https source (the caller's llm.ca_file); "" = system store only.
    std::string ca_file;
};

/// Names the source and where it is, never a secret: "the ECS container endpoint
/// http://169.254.170.2/v2/credentials/ID", "STS AssumeRoleWithWebIdentity at
/// https://sts.eu-west-1.amazonaws.com (role arn:...)".
std::string describe(const AwsCredentialSource& source);

/// The first configured source, in the SDKs' order:
///  1. AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN);
///  2. AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN (+ AWS_ROLE_SESSION_NAME, default
///     "ragd-<pid>"); STS at AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, else
///     https://sts.<region>.amazonaws.com;
///  3. AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (on http://169.254.170.2), else
///     AWS_CONTAINER_CREDENTIALS_FULL_URI, with AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE or
///     AWS_CONTAINER_AUTHORIZATION_TOKEN;
///  4. instance metadata at AWS_EC2_METADATA_SERVICE_ENDPOINT (default http://169.254.169.254)
///     unless AWS_EC2_METADATA_DISABLED is "true".
/// nullopt when none applies. kInvalidArgument for a half-set source (a key id without its
/// secret, a token file without a role) and for a FULL_URI that container_url_allowed refuses.
core::Result<std::optional<AwsCredentialSource>> select_aws_credential_source(
    const EnvLookup& env, std::string_view region);

/// As the SDKs allow: https, or a host that is a loopback address ("localhost", 127.0.0.0/8,
/// ::1), the ECS endpoint 169.254.170.2 or EKS Pod Identity's 169.254.170.23 / fd00:ec2::23.
/// A token sent elsewhere over plain HTTP could be read on the way.
bool container_url_allowed(const UpstreamUrl& url);

}  // namespace ragd::http
