// One fetch of temporary AWS credentials from a source of aws_credential_source: STS
// AssumeRoleWithWebIdentity, the container endpoint, or EC2 instance metadata (IMDSv2), over the
// outbound HttpClient. Runs on whatever io_context the caller's coroutine is on.
#pragma once

#include <memory>

#include <boost/asio/awaitable.hpp>

#include "core/cancel_token.hpp"
#include "core/error.hpp"
#include "http/aws_credential_parse.hpp"
#include "http/aws_credential_source.hpp"

namespace ragd::http {

/// Fetches one set of credentials from `source` (any kind but kEnvironment). Each request is
/// bounded by source.timeout; `cancel` (may be null) aborts the fetch. Token files are read
/// anew. Errors say "<describe(source)>: <reason>" and never contain a secret: kUnavailable
/// (unreachable, or an error answer with the service's code and message), kCorrupt (a
/// malformed answer), kIo (a token file cannot be read), kInvalidArgument (kEnvironment).
boost::asio::awaitable<core::Result<AwsTemporaryCredentials>> fetch_aws_credentials(
    AwsCredentialSource source, std::shared_ptr<core::CancelToken> cancel);

}  // namespace ragd::http
