// A Bedrock upstream's credentials as the process environment configures them: which source
// wins, startup errors that name the source (and list every source when there is none), a
// quick failure when instance metadata is absent, and no fetch at all with static keys or an
// API key. Each test sets its own AWS_* variables and restores the outer ones afterwards.
#include "llm/bedrock_auth.hpp"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <unistd.h>

#include "../http/fake_aws_credentials_server.hpp"
#include "../support/free_port.hpp"
#include "llm/upstream.hpp"

namespace ragd::llm {
namespace {

using namespace std::chrono_literals;
using http::test::FakeAwsCredentialsServer;
using std::chrono::system_clock;

/// Every variable the chain, the region and the Bedrock API key are read from.
constexpr const char* kAwsVariables[] = {
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_STS",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_EC2_METADATA_DISABLED",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_BEARER_TOKEN_BEDROCK",
};

/// Clears every AWS variable for the test and puts the outer values back afterwards.
class AwsEnvironment {
public:
    AwsEnvironment() {
        for (const char* name : kAwsVariables) {
            if (const char* value = std::getenv(name)) {
                saved_[name] = value;
            }
            ::unsetenv(name);
        }
        // A test that expects a fetch says where; nothing may reach a real IMDS.
        set("AWS_EC2_METADATA_SERVICE_ENDPOINT", dead_url());
    }
    ~AwsEnvironment() {
        for (const char* name : kAwsVariables) {
            const auto found = saved_.find(name);
            if (found == saved_.end()) {
                ::unsetenv(name);
            } else {
                ::setenv(name, found->second.c_str(), 1);
            }
        }
    }
    AwsEnvironment(const AwsEnvironment&) = delete;
    AwsEnvironment& operator=(const AwsEnvironment&) = delete;

    void set(const char* name, const std::string& value) { ::setenv(name, value.c_str(), 1); }

    /// A loopback URL nothing listens on.
    static std::string dead_url() {
        return "http://127.0.0.1:" + std::to_string(ragd::testing::free_loopback_port());
    }

private:
    std::map<std::string, std::string> saved_;
};

class BedrockAuth : public ::testing::Test {
public:
    ~BedrockAuth() override {
        for (const auto& path : files_) {
            std::error_code ignored;
            std::filesystem::remove(path, ignored);
        }
    }

protected:
    core::Result<std::unique_ptr<Upstream>> create() {
        core::UpstreamConfig upstream;
        upstream.name = "bedrock";
        upstream.provider = "bedrock";
        upstream.base_url = "http://127.0.0.1:9";
        upstream.aws_region = "eu-west-1";
        return Upstream::create(io_.get_executor(), upstream, core::LlmConfig{}, nullptr);
    }

    std::string create_error() {
        auto created = create();
        EXPECT_FALSE(created);
        return created ? std::string() : created.error().detail;
    }

    std::string token_file(std::string_view content) {
        const auto path = std::filesystem::temp_directory_path() /
                          ("ragd-bedrock-auth-" + std::to_string(::getpid()) + ".token");
        std::ofstream(path, std::ios::trunc) << content;
        files_.push_back(path);
        return path.string();
    }

    AwsEnvironment env_;
    FakeAwsCredentialsServer fake_;
    const system_clock::time_point expiration_ = system_clock::now() + 1h;

private:
    boost::asio::io_context io_;  // the upstream's client is never used: nothing runs it
    std::vector<std::filesystem::path> files_;
};

TEST_F(BedrockAuth, NoSourceWithInstanceMetadataOffListsEverySource) {
    env_.set("AWS_EC2_METADATA_DISABLED", "true");
    const std::string error = create_error();
    EXPECT_TRUE(error.starts_with("llm upstream 'bedrock': bedrock needs credentials")) << error;
    for (const char* named : {"AWS_BEARER_TOKEN_BEDROCK",
                              "AWS_ACCESS_KEY_ID",
                              "AWS_WEB_IDENTITY_TOKEN_FILE",
                              "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                              "EC2 instance profile",
                              "AWS_EC2_METADATA_DISABLED"}) {
        EXPECT_NE(error.find(named), std::string::npos) << named << " in " << error;
    }
}

TEST_F(BedrockAuth, AbsentInstanceMetadataFailsQuicklyWithTheSameMessage) {
    const std::string endpoint = AwsEnvironment::dead_url();
    env_.set("AWS_EC2_METADATA_SERVICE_ENDPOINT", endpoint);
    const auto started = std::chrono::steady_clock::now();
    const std::string error = create_error();
    EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
    EXPECT_TRUE(error.starts_with("llm upstream 'bedrock': bedrock needs credentials")) << error;
    EXPECT_NE(
        error.find("; tried the EC2 instance metadata service " + endpoint + ": cannot connect"),
        std::string::npos)
        << error;
}

TEST_F(BedrockAuth, InstanceMetadataServesTheUpstream) {
    fake_.hand_out({{"ASIAIMDS", "imds-secret", "imds-token", expiration_}});
    env_.set("AWS_EC2_METADATA_SERVICE_ENDPOINT", fake_.url());
    auto created = create();
    ASSERT_TRUE(created) << created.error().detail;
    EXPECT_EQ(fake_.credential_answers(), 1);
}

TEST_F(BedrockAuth, ContainerFullUriWithAnAuthorizationToken) {
    fake_.hand_out({{"ASIACONTAINER", "container-secret", "container-token", expiration_}});
    fake_.expect_container_token("ecs-agent-token");
    env_.set("AWS_CONTAINER_CREDENTIALS_FULL_URI", fake_.url() + "/container/credentials");
    env_.set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "ecs-agent-token");
    auto created = create();
    ASSERT_TRUE(created) << created.error().detail;
    EXPECT_EQ(fake_.credential_answers(), 1);
    EXPECT_EQ(fake_.requests().at(0).header("authorization"), "ecs-agent-token");
}

TEST_F(BedrockAuth, ContainerFirstFetchFailureNamesTheSource) {
    const std::string url = AwsEnvironment::dead_url() + "/v1/credentials";
    env_.set("AWS_CONTAINER_CREDENTIALS_FULL_URI", url);
    env_.set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "ecs-agent-token");
    const std::string error = create_error();
    EXPECT_TRUE(
        error.starts_with("llm upstream 'bedrock': bedrock credentials from the ECS "
                          "container endpoint " +
                          url + ": cannot connect"))
        << error;
    EXPECT_EQ(error.find("ecs-agent-token"), std::string::npos);
}

TEST_F(BedrockAuth, ContainerFullUriOnAnotherHostIsRefused) {
    env_.set("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://10.1.2.3/v1/credentials");
    const std::string error = create_error();
    EXPECT_TRUE(
        error.starts_with("llm upstream 'bedrock': bedrock credentials: "
                          "AWS_CONTAINER_CREDENTIALS_FULL_URI http://10.1.2.3: refused"))
        << error;
}

TEST_F(BedrockAuth, WebIdentityThroughAnStsEndpointOverride) {
    fake_.hand_out({{"ASIASTS", "sts-secret", "sts-token", expiration_}});
    fake_.expect_web_identity("arn:aws:iam::1:role/ragd", "ragd-replica", "projected-jwt");
    env_.set("AWS_WEB_IDENTITY_TOKEN_FILE", token_file("projected-jwt"));
    env_.set("AWS_ROLE_ARN", "arn:aws:iam::1:role/ragd");
    env_.set("AWS_ROLE_SESSION_NAME", "ragd-replica");
    env_.set("AWS_ENDPOINT_URL", AwsEnvironment::dead_url());  // the STS-specific one wins
    env_.set("AWS_ENDPOINT_URL_STS", fake_.url());
    // Configured lower in the chain: must not be used.
    env_.set("AWS_CONTAINER_CREDENTIALS_FULL_URI", fake_.url() + "/container/credentials");
    auto created = create();
    ASSERT_TRUE(created) << created.error().detail;
    ASSERT_EQ(fake_.requests().size(), 1U);
    EXPECT_EQ(fake_.requests().at(0).method, "POST");
}

TEST_F(BedrockAuth, StsErrorAtStartupIsClear) {
    fake_.expect_web_identity("arn:aws:iam::1:role/ragd", "", "a-different-jwt");
    env_.set("AWS_WEB_IDENTITY_TOKEN_FILE", token_file("projected-jwt"));
    env_.set("AWS_ROLE_ARN", "arn:aws:iam::1:role/ragd");
    env_.set("AWS_ENDPOINT_URL_STS", fake_.url());
    const std::string error = create_error();
    EXPECT_TRUE(
        error.starts_with("llm upstream 'bedrock': bedrock credentials from STS "
                          "AssumeRoleWithWebIdentity at " +
                          fake_.url() +
                          "/ (role arn:aws:iam::1:role/ragd): HTTP 400: "
                          "InvalidIdentityToken"))
        << error;
    EXPECT_EQ(error.find("projected-jwt"), std::string::npos);
}

TEST_F(BedrockAuth, StaticKeysWinAndFetchNothing) {
    env_.set("AWS_ACCESS_KEY_ID", "AKIDSTATIC");
    env_.set("AWS_SECRET_ACCESS_KEY", "static-secret");
    env_.set("AWS_CONTAINER_CREDENTIALS_FULL_URI", fake_.url() + "/container/credentials");
    auto created = create();
    ASSERT_TRUE(created) << created.error().detail;
    EXPECT_TRUE(fake_.requests().empty());
}

TEST_F(BedrockAuth, HalfSetStaticKeysStopStartup) {
    env_.set("AWS_ACCESS_KEY_ID", "AKIDSTATIC");
    env_.set("AWS_CONTAINER_CREDENTIALS_FULL_URI", fake_.url() + "/container/credentials");
    EXPECT_EQ(create_error(),
              "llm upstream 'bedrock': bedrock credentials: AWS_ACCESS_KEY_ID is set but "
              "AWS_SECRET_ACCESS_KEY is not");
    EXPECT_TRUE(fake_.requests().empty());
}

TEST_F(BedrockAuth, AnApiKeyNeedsNoCredentials) {
    env_.set("AWS_BEARER_TOKEN_BEDROCK", "bedrock-api-key");
    env_.set("AWS_CONTAINER_CREDENTIALS_FULL_URI", fake_.url() + "/container/credentials");
    auto created = create();
    ASSERT_TRUE(created) << created.error().detail;
    EXPECT_TRUE(fake_.requests().empty());
}

TEST_F(BedrockAuth, RegionFromTheEnvironment) {
    core::UpstreamConfig upstream;
    upstream.name = "bedrock";
    EXPECT_FALSE(bedrock_region(upstream));
    env_.set("AWS_DEFAULT_REGION", "us-west-2");
    EXPECT_EQ(bedrock_region(upstream).value(), "us-west-2");
    env_.set("AWS_REGION", "eu-central-1");
    EXPECT_EQ(bedrock_region(upstream).value(), "eu-central-1");
    upstream.aws_region = "ap-south-1";
    EXPECT_EQ(bedrock_region(upstream).value(), "ap-south-1");
}

}  // namespace
}  // namespace ragd::llm
