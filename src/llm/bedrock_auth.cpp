// The region and the credential chain are read from the process environment: that is where
// EKS (IRSA, Pod Identity) and ECS put what the AWS SDKs read.
#include "llm/bedrock_auth.hpp"

#include "http/aws_credential_source.hpp"
#include "http/client_url.hpp"

namespace ragd::llm {
namespace {

constexpr std::string_view kNeedsCredentials =
    "bedrock needs credentials: a Bedrock API key in AWS_BEARER_TOKEN_BEDROCK (or the variable "
    "named by api_key_env), AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a web identity token "
    "(AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN), a container credentials endpoint "
    "(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or AWS_CONTAINER_CREDENTIALS_FULL_URI), or an EC2 "
    "instance profile";

std::string prefix(const core::UpstreamConfig& upstream) {
    return "llm upstream '" + upstream.name + "': ";
}

}  // namespace

core::Result<std::string> bedrock_region(const core::UpstreamConfig& upstream) {
    std::string region = upstream.aws_region;
    for (const char* variable : {"AWS_REGION", "AWS_DEFAULT_REGION"}) {
        if (region.empty()) {
            region = http::process_env(variable).value_or(std::string());
        }
    }
    if (region.empty()) {
        return core::fail(core::ErrorCode::kInvalidArgument,
                          prefix(upstream) +
                              "bedrock needs a region: set llm.aws_region (RAGD_LLM_AWS_REGION) "
                              "or AWS_REGION");
    }
    return region;
}

core::Result<std::shared_ptr<const http::AwsCredentialsProvider>> bedrock_credentials(
    const core::UpstreamConfig& upstream, const core::LlmConfig& llm, std::string_view region) {
    auto source = http::select_aws_credential_source(http::process_env, region);
    if (!source) {
        return core::fail(core::ErrorCode::kInvalidArgument,
                          prefix(upstream) + "bedrock credentials: " + source.error().detail);
    }
    if (!*source) {
        return core::fail(core::ErrorCode::kInvalidArgument,
                          prefix(upstream) + std::string(kNeedsCredentials) +
                              " (instance metadata is off: AWS_EC2_METADATA_DISABLED=true)");
    }
    (*source)->ca_file = llm.ca_file;
    const bool guessed = (*source)->kind == http::AwsCredentialSourceKind::kInstanceMetadata;
    auto provider = http::AwsCredentialsProvider::start(std::move(**source));
    if (!provider) {
        // Instance metadata is only tried because nothing else is configured: off EC2, the
        // missing configuration is the news, not the unreachable address.
        if (guessed) {
            return core::fail(core::ErrorCode::kInvalidArgument,
                              prefix(upstream) + std::string(kNeedsCredentials) + "; tried " +
                                  provider.error().detail);
        }
        return core::fail(provider.error().code,
                          prefix(upstream) + "bedrock credentials from " + provider.error().detail);
    }
    return std::move(*provider);
}

}  // namespace ragd::llm
