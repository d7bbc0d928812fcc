// How Bedrock requests are scoped and authenticated, decided once when the upstream is created:
// the region, and either a Bedrock API key (sent as a Bearer token by the protocol) or SigV4
// with AWS credentials from the AWS SDKs' default chain (http/aws_credential_source), temporary
// ones kept fresh by http::AwsCredentialsProvider.
#pragma once

#include <memory>
#include <string>

#include "core/config.hpp"
#include "core/error.hpp"
#include "http/aws_credentials.hpp"

namespace ragd::llm {

/// The upstream's aws_region, else AWS_REGION, else AWS_DEFAULT_REGION; kInvalidArgument
/// naming the upstream when none is set.
core::Result<std::string> bedrock_region(const core::UpstreamConfig& upstream);

/// The credentials of the first configured source of the chain. Temporary ones are fetched
/// here, blocking for up to the source's timeouts (1 s for instance metadata). Errors name the
/// upstream and the source, never a secret: kInvalidArgument for a half-set or refused source,
/// or for no credentials at all (the message lists every source); the fetch's own code when the
/// first fetch from a configured source fails.
core::Result<std::shared_ptr<const http::AwsCredentialsProvider>> bedrock_credentials(
    const core::UpstreamConfig& upstream, const core::LlmConfig& llm, std::string_view region);

}  // namespace ragd::llm
