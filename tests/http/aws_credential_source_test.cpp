// The credential chain's choice, from an injected environment: the order (static keys, web
// identity, container, instance metadata), each source's endpoint and variables, half-set
// sources and container URLs the SDKs refuse.
#include "http/aws_credential_source.hpp"

#include <map>
#include <string>

#include <gtest/gtest.h>
#include <unistd.h>

namespace ragd::http {
namespace {

using Kind = AwsCredentialSourceKind;
using Env = std::map<std::string, std::string>;

core::Result<std::optional<AwsCredentialSource>> select(const Env& env,
                                                        std::string_view region = "eu-west-1") {
    return select_aws_credential_source(
        [&env](const char* name) -> std::optional<std::string> {
            const auto found = env.find(name);
            return found == env.end() ? std::nullopt : std::optional(found->second);
        },
        region);
}

/// The selected source; fails the test when there is none or an error.
AwsCredentialSource selected(const Env& env) {
    auto source = select(env);
    EXPECT_TRUE(source) << source.error().detail;
    EXPECT_TRUE(source && *source);
    return source && *source ? **source : AwsCredentialSource{};
}

std::string refused(const Env& env) {
    auto source = select(env);
    EXPECT_FALSE(source);
    if (source) {
        return {};
    }
    EXPECT_EQ(source.error().code, core::ErrorCode::kInvalidArgument);
    return source.error().detail;
}

const Env static_keys{{"AWS_ACCESS_KEY_ID", "AKID"},
                      {"AWS_SECRET_ACCESS_KEY", "secret"},
                      {"AWS_SESSION_TOKEN", "session"}};
const Env web_identity{{"AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/token"},
                       {"AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/ragd"}};
const Env container{{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc"}};

Env merged(std::initializer_list<Env> parts) {
    Env out;
    for (const Env& part : parts) {
        out.insert(part.begin(), part.end());
    }
    return out;
}

TEST(AwsCredentialSource, NothingSetGuessesInstanceMetadataWithAShortTimeout) {
    const auto source = selected({});
    EXPECT_EQ(source.kind, Kind::kInstanceMetadata);
    EXPECT_EQ(source.base_url, "http://169.254.169.254");
    EXPECT_EQ(source.timeout, std::chrono::milliseconds(1000));
    EXPECT_EQ(describe(source), "the EC2 instance metadata service http://169.254.169.254");
}

TEST(AwsCredentialSource, InstanceMetadataCanBeMovedOrSwitchedOff) {
    EXPECT_EQ(selected({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9999/"}}).base_url,
              "http://127.0.0.1:9999");
    EXPECT_EQ(selected({{"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6"}}).base_url,
              "http://[fd00:ec2::254]");
    for (const char* off : {"true", "TRUE", "True"}) {
        const auto source = select({{"AWS_EC2_METADATA_DISABLED", off}});
        ASSERT_TRUE(source) << source.error().detail;
        EXPECT_EQ(*source, std::nullopt) << off;
    }
    EXPECT_EQ(selected({{"AWS_EC2_METADATA_DISABLED", "false"}}).kind, Kind::kInstanceMetadata);
    EXPECT_NE(refused({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", "169.254.169.254"}})
                  .find("AWS_EC2_METADATA_SERVICE_ENDPOINT"),
              std::string::npos);
}

TEST(AwsCredentialSource, StaticKeysComeFirst) {
    const auto source = selected(merged({static_keys, web_identity, container}));
    EXPECT_EQ(source.kind, Kind::kEnvironment);
    EXPECT_EQ(source.static_credentials.access_key_id, "AKID");
    EXPECT_EQ(source.static_credentials.secret_access_key, "secret");
    EXPECT_EQ(source.static_credentials.session_token, "session");
    EXPECT_EQ(describe(source), "the environment (AWS_ACCESS_KEY_ID)");
    // Empty values count as unset.
    EXPECT_EQ(
        selected(merged({{{"AWS_ACCESS_KEY_ID", ""}, {"AWS_SECRET_ACCESS_KEY", ""}}, container}))
            .kind,
        Kind::kContainer);
}

TEST(AwsCredentialSource, HalfSetStaticKeysAreRefused) {
    EXPECT_EQ(refused(merged({{{"AWS_ACCESS_KEY_ID", "AKID"}}, container})),
              "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
    EXPECT_EQ(refused({{"AWS_SECRET_ACCESS_KEY", "secret"}}),
              "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not");
}

TEST(AwsCredentialSource, WebIdentityBeforeContainer) {
    const auto source = selected(merged({web_identity, container}));
    EXPECT_EQ(source.kind, Kind::kWebIdentity);
    EXPECT_EQ(source.base_url, "https://sts.eu-west-1.amazonaws.com");
    EXPECT_EQ(source.target, "/");
    EXPECT_EQ(source.role_arn, "arn:aws:iam::123456789012:role/ragd");
    EXPECT_EQ(source.web_identity_token_file, "/var/run/token");
    EXPECT_EQ(source.role_session_name, "ragd-" + std::to_string(::getpid()));
    EXPECT_EQ(source.timeout, std::chrono::milliseconds(5000));
    EXPECT_EQ(describe(source),
              "STS AssumeRoleWithWebIdentity at https://sts.eu-west-1.amazonaws.com/ (role "
              "arn:aws:iam::123456789012:role/ragd)");
}

TEST(AwsCredentialSource, WebIdentityEndpointOverridesAndSessionName) {
    auto env = merged(
        {web_identity,
         {{"AWS_ENDPOINT_URL", "http://127.0.0.1:4566"}, {"AWS_ROLE_SESSION_NAME", "replica-7"}}});
    auto source = selected(env);
    EXPECT_EQ(source.base_url, "http://127.0.0.1:4566");
    EXPECT_EQ(source.role_session_name, "replica-7");
    env["AWS_ENDPOINT_URL_STS"] = "https://sts.internal:8443/sts";  // the service's own wins
    source = selected(env);
    EXPECT_EQ(source.base_url, "https://sts.internal:8443");
    EXPECT_EQ(source.target, "/sts");
    env["AWS_ENDPOINT_URL_STS"] = "ftp://sts";
    EXPECT_NE(refused(env).find("AWS_ENDPOINT_URL_STS"), std::string::npos);
    const auto no_region = select(web_identity, "");
    ASSERT_FALSE(no_region);
    EXPECT_NE(no_region.error().detail.find("region"), std::string::npos);
}

TEST(AwsCredentialSource, HalfSetWebIdentityIsRefused) {
    EXPECT_EQ(refused({{"AWS_ROLE_ARN", "arn:aws:iam::1:role/x"}}),
              "AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not");
    EXPECT_EQ(refused(merged({{{"AWS_WEB_IDENTITY_TOKEN_FILE", "/t"}}, container})),
              "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not");
}

TEST(AwsCredentialSource, ContainerRelativeUriIsOnTheEcsAddress) {
    const auto source = selected(merged(
        {container, {{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/ignored"}}}));
    EXPECT_EQ(source.kind, Kind::kContainer);
    EXPECT_EQ(source.base_url, "http://169.254.170.2");
    EXPECT_EQ(source.target, "/v2/credentials/abc");
    EXPECT_EQ(source.timeout, std::chrono::milliseconds(5000));
    EXPECT_EQ(describe(source),
              "the ECS container endpoint http://169.254.170.2/v2/credentials/abc");
    EXPECT_EQ(selected({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "v2/credentials/abc"}}).target,
              "/v2/credentials/abc");
}

TEST(AwsCredentialSource, ContainerFullUriAndItsToken) {
    auto source = selected(
        {{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://169.254.170.23/v1/credentials?role=a"},
         {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "inline-token"}});
    EXPECT_EQ(source.base_url, "http://169.254.170.23");
    EXPECT_EQ(source.target, "/v1/credentials?role=a");
    EXPECT_EQ(source.authorization_token, "inline-token");
    EXPECT_EQ(source.authorization_token_file, "");
    EXPECT_EQ(describe(source).find("inline-token"), std::string::npos);

    // The token file wins over the inline token, as in the SDKs.
    source = selected({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:8080/creds"},
                       {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "inline-token"},
                       {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "/var/run/token"}});
    EXPECT_EQ(source.base_url, "http://127.0.0.1:8080");
    EXPECT_EQ(source.authorization_token_file, "/var/run/token");
    EXPECT_EQ(source.authorization_token, "");
}

TEST(AwsCredentialSource, ContainerFullUriHostRestriction) {
    for (const char* allowed : {"http://127.0.0.1:8080/c",
                                "http://127.1.2.3/c",
                                "http://localhost:1/c",
                                "http://[::1]:9/c",
                                "http://[::ffff:127.0.0.1]/c",
                                "http://169.254.170.2/c",
                                "http://169.254.170.23/v1/credentials",
                                "http://[fd00:ec2::23]/v1/credentials",
                                "http://[fd00:0ec2:0:0:0:0:0:23]/v1/credentials",
                                "https://creds.example.com/c"}) {
        const auto source = select({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", allowed}});
        ASSERT_TRUE(source) << allowed << ": " << source.error().detail;
        EXPECT_TRUE(*source) << allowed;
    }
    for (const char* refused_url : {"http://creds.example.com/c",
                                    "http://10.0.0.1/c",
                                    "http://169.254.169.254/latest",
                                    "http://[fd00:ec2::254]/c",
                                    "http://localhost.example.com/c"}) {
        const std::string detail = refused({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", refused_url}});
        EXPECT_NE(detail.find("AWS_CONTAINER_CREDENTIALS_FULL_URI"), std::string::npos) << detail;
        EXPECT_NE(detail.find("refused"), std::string::npos) << detail;
        EXPECT_NE(detail.find("loopback"), std::string::npos) << detail;
    }
    EXPECT_NE(refused({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "not a url"}})
                  .find("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
              std::string::npos);
}

}  // namespace
}  // namespace ragd::http
