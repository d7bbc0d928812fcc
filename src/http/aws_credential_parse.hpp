// The answers of AWS's temporary-credential services, as pure functions of their bytes: the JSON
// of the ECS/EKS container endpoint and of EC2 instance metadata, and the XML of STS
// AssumeRoleWithWebIdentity. No I/O, so malformed answers are tested without a server.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "http/aws_sigv4.hpp"

namespace ragd::http {

/// Credentials that stop working at `expiration` (all three keys set).
struct AwsTemporaryCredentials {
    AwsCredentials credentials;
    std::chrono::system_clock::time_point expiration;
};

/// "2024-05-01T12:34:56Z", with optional fractional seconds and a "+02:00"-style offset instead
/// of 'Z'. kCorrupt names the text when it is not such a time.
core::Result<std::chrono::system_clock::time_point> parse_iso8601(std::string_view text);

/// {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"} from the container endpoint or
/// instance metadata; instance metadata's "Code" must be "Success" when present. kCorrupt for
/// malformed JSON or a missing field (named); kUnavailable with the service's Code and Message.
/// Messages never contain the secret key or the token.
core::Result<AwsTemporaryCredentials> parse_credentials_json(std::string_view body);

/// An STS AssumeRoleWithWebIdentityResponse: the Credentials element of
/// AssumeRoleWithWebIdentityResult. An ErrorResponse becomes kUnavailable "Code: Message";
/// anything else kCorrupt.
core::Result<AwsTemporaryCredentials> parse_assume_role_response(std::string_view body);

/// "Code: Message" of an STS <ErrorResponse>, or nullopt when `body` is not one.
std::optional<std::string> sts_error_message(std::string_view body);

/// A short, valid-UTF-8 excerpt of an error body, for messages: its first 200 bytes, invalid
/// sequences replaced by U+FFFD, and "..." when it was longer.
std::string body_excerpt(std::string_view body);

}  // namespace ragd::http
