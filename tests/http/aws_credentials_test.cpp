// Fetching temporary AWS credentials from a loopback stand-in for each source (the container
// endpoint with its token, IMDSv2 with its session token, STS AssumeRoleWithWebIdentity), the
// errors a fetch can end in, and the provider: first fetch, refresh before expiry, retries that
// keep the old credentials, and a stop that cancels a fetch in flight.
#include "http/aws_credentials.hpp"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

#include "../support/free_port.hpp"
#include "core/log.hpp"
#include "fake_aws_credentials_server.hpp"
#include "http/aws_credential_fetch.hpp"
#include "http/client.hpp"

namespace ragd::http {
namespace {

using namespace std::chrono_literals;
using std::chrono::system_clock;
using test::FakeAwsCredentialsServer;
using test::FakeCredentials;
using test::IoRunner;

constexpr std::string_view kSecretA = "secret-A/ragd+test";
constexpr std::string_view kSecretB = "secret-B/ragd+test";
constexpr std::string_view kSessionA = "session-A-token";
constexpr std::string_view kSessionB = "session-B-token";
constexpr std::string_view kRoleArn = "arn:aws:iam::123456789012:role/ragd";

FakeCredentials set_a(system_clock::time_point expiration) {
    return {"ASIAKEYA", std::string(kSecretA), std::string(kSessionA), expiration};
}
FakeCredentials set_b(system_clock::time_point expiration) {
    return {"ASIAKEYB", std::string(kSecretB), std::string(kSessionB), expiration};
}

void expect_no_secret(const std::string& text, const std::vector<std::string>& more = {}) {
    for (const std::string_view secret : {kSecretA, kSecretB, kSessionA, kSessionB}) {
        EXPECT_EQ(text.find(secret), std::string::npos) << text;
    }
    for (const std::string& secret : more) {
        EXPECT_EQ(text.find(secret), std::string::npos) << text;
    }
}

/// Waits up to `timeout` for `done`.
template <class Predicate>
bool eventually(Predicate done, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) {
            return false;
        }
        std::this_thread::sleep_for(10ms);
    }
    return true;
}

/// Collects log lines, rendered as "level message key=value ...", and installs itself.
class CapturingLogger final : public core::Logger {
public:
    CapturingLogger() { core::set_logger(this); }
    ~CapturingLogger() override { core::clear_logger(this); }
    CapturingLogger(const CapturingLogger&) = delete;
    CapturingLogger& operator=(const CapturingLogger&) = delete;

    bool enabled(core::LogLevel) const override { return true; }
    void write(core::LogLevel level, std::string_view message, core::LogFields fields) override {
        std::string line = std::string(core::log_level_name(level)) + " " + std::string(message);
        for (const core::LogField& field : fields) {
            line += " " + std::string(field.key) + "=";
            std::visit(
                [&line](const auto& value) {
                    using T = std::decay_t<decltype(value)>;
                    if constexpr (std::is_same_v<T, std::string_view>) {
                        line += value;
                    } else if constexpr (!std::is_same_v<T, std::monostate>) {
                        line += std::to_string(value);
                    }
                },
                field.value);
        }
        const std::lock_guard lock(mutex_);
        lines_.push_back(std::move(line));
    }
    std::vector<std::string> lines(std::string_view containing) const {
        const std::lock_guard lock(mutex_);
        std::vector<std::string> found;
        for (const std::string& line : lines_) {
            if (line.find(containing) != std::string::npos) {
                found.push_back(line);
            }
        }
        return found;
    }
    std::vector<std::string> all() const {
        const std::lock_guard lock(mutex_);
        return lines_;
    }

private:
    mutable std::mutex mutex_;
    std::vector<std::string> lines_;
};

/// A temporary directory for token files, removed afterwards.
class TokenDir {
public:
    TokenDir() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "ragd-aws-creds-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) {
            ADD_FAILURE() << "mkdtemp failed";
        }
        path_ = pattern;
    }
    ~TokenDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    TokenDir(const TokenDir&) = delete;
    TokenDir& operator=(const TokenDir&) = delete;

    /// Writes `content` to `name` (replacing it) and returns the path.
    std::string write(std::string_view name, std::string_view content) const {
        const auto file = path_ / name;
        std::ofstream(file, std::ios::binary | std::ios::trunc) << content;
        return file.string();
    }

private:
    std::filesystem::path path_;
};

AwsCredentialSource container_source(const FakeAwsCredentialsServer& fake) {
    AwsCredentialSource source;
    source.kind = AwsCredentialSourceKind::kContainer;
    source.base_url = fake.url();
    source.target = std::string(FakeAwsCredentialsServer::kContainerPath);
    return source;
}

AwsCredentialSource imds_source(const FakeAwsCredentialsServer& fake) {
    AwsCredentialSource source;
    source.kind = AwsCredentialSourceKind::kInstanceMetadata;
    source.base_url = fake.url();
    source.timeout = 1000ms;
    return source;
}

AwsCredentialSource sts_source(const FakeAwsCredentialsServer& fake, std::string token_file) {
    AwsCredentialSource source;
    source.kind = AwsCredentialSourceKind::kWebIdentity;
    source.base_url = fake.url();
    source.target = "/";
    source.role_arn = std::string(kRoleArn);
    source.role_session_name = "ragd-test";
    source.web_identity_token_file = std::move(token_file);
    return source;
}

/// Truncated to whole seconds, as ISO 8601 carries them.
system_clock::time_point whole_seconds(system_clock::time_point when) {
    return std::chrono::floor<std::chrono::seconds>(when);
}

/// GET of the instance metadata role listing without a session token: IMDSv1.
boost::asio::awaitable<int> status_of_v1_get(HttpClient& client) {
    ClientRequest request;
    request.method = Method::kGet;
    request.target = "/latest/meta-data/iam/security-credentials/";
    auto sent = co_await client.send(std::move(request));
    co_return sent ? (*sent)->status() : 0;
}

class AwsCredentialsFetch : public ::testing::Test {
protected:
    core::Result<AwsTemporaryCredentials> fetch(const AwsCredentialSource& source) {
        return io_.run(fetch_aws_credentials(source, nullptr));
    }

    FakeAwsCredentialsServer fake_;
    TokenDir tokens_;
    const system_clock::time_point expiration_ = system_clock::now() + 1h;

private:
    IoRunner io_{test::Caller::kBareExecutor};
};

TEST_F(AwsCredentialsFetch, ContainerEndpointSendsTheTokenFileReReadEachTime) {
    fake_.hand_out({set_a(expiration_), set_b(expiration_)});
    AwsCredentialSource source = container_source(fake_);
    source.authorization_token_file = tokens_.write("token", "pod-identity-token-1\n");
    fake_.expect_container_token("pod-identity-token-1");
    auto first = fetch(source);
    ASSERT_TRUE(first) << first.error().detail;
    EXPECT_EQ(first->credentials.access_key_id, "ASIAKEYA");
    EXPECT_EQ(first->credentials.secret_access_key, kSecretA);
    EXPECT_EQ(first->credentials.session_token, kSessionA);
    EXPECT_EQ(first->expiration, whole_seconds(expiration_));

    // The kubelet / ECS agent rotates the token file: the next fetch reads the new one.
    tokens_.write("token", "pod-identity-token-2");
    fake_.expect_container_token("pod-identity-token-2");
    auto second = fetch(source);
    ASSERT_TRUE(second) << second.error().detail;
    EXPECT_EQ(second->credentials.access_key_id, "ASIAKEYB");
    const auto requests = fake_.requests();
    ASSERT_EQ(requests.size(), 2U);
    EXPECT_EQ(requests[0].method, "GET");
    EXPECT_EQ(requests[0].header("authorization"), "pod-identity-token-1");
    EXPECT_EQ(requests[1].header("authorization"), "pod-identity-token-2");
}

TEST_F(AwsCredentialsFetch, ContainerEndpointRefusingTheTokenIsAClearError) {
    fake_.hand_out({set_a(expiration_)});
    fake_.expect_container_token("the-right-token");
    AwsCredentialSource source = container_source(fake_);
    source.authorization_token = "a-wrong-token";
    const auto fetched = fetch(source);
    ASSERT_FALSE(fetched);
    EXPECT_EQ(fetched.error().code, core::ErrorCode::kUnavailable);
    EXPECT_EQ(fetched.error().detail,
              "the ECS container endpoint " + fake_.url() +
                  "/container/credentials: HTTP 401: {\"code\":\"Unauthorized\"}");
    EXPECT_EQ(fake_.requests().at(0).header("authorization"), "a-wrong-token");
    expect_no_secret(fetched.error().detail, {"a-wrong-token", "the-right-token"});
}

TEST_F(AwsCredentialsFetch, UnreadableTokenFileNamesTheVariableAndPath) {
    AwsCredentialSource source = container_source(fake_);
    source.authorization_token_file = "/nonexistent/ragd/token";
    const auto fetched = fetch(source);
    ASSERT_FALSE(fetched);
    EXPECT_EQ(fetched.error().code, core::ErrorCode::kIo);
    EXPECT_NE(fetched.error().detail.find(
                  "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE /nonexistent/ragd/token"),
              std::string::npos)
        << fetched.error().detail;
    EXPECT_TRUE(fake_.requests().empty());
}

TEST_F(AwsCredentialsFetch, InstanceMetadataV2TokenThenRoleThenCredentials) {
    fake_.hand_out({set_a(expiration_)});
    const auto fetched = fetch(imds_source(fake_));
    ASSERT_TRUE(fetched) << fetched.error().detail;
    EXPECT_EQ(fetched->credentials.access_key_id, "ASIAKEYA");
    EXPECT_EQ(fetched->credentials.session_token, kSessionA);
    EXPECT_EQ(fetched->expiration, whole_seconds(expiration_));

    const auto requests = fake_.requests();
    ASSERT_EQ(requests.size(), 3U);
    EXPECT_EQ(requests[0].method, "PUT");
    EXPECT_EQ(requests[0].target, "/latest/api/token");
    EXPECT_EQ(requests[0].header("x-aws-ec2-metadata-token-ttl-seconds"), "21600");
    EXPECT_EQ(requests[1].method, "GET");
    EXPECT_EQ(requests[1].target, "/latest/meta-data/iam/security-credentials/");
    EXPECT_EQ(requests[2].target, "/latest/meta-data/iam/security-credentials/ragd-test-role");
    for (std::size_t idx = 1; idx < 3; ++idx) {
        EXPECT_EQ(requests[idx].header("x-aws-ec2-metadata-token"),
                  FakeAwsCredentialsServer::kImdsSession);
    }
}

TEST_F(AwsCredentialsFetch, FakeInstanceMetadataRefusesV1Requests) {
    // The check above means something only if a GET without the session token is refused.
    IoRunner io;
    HttpClient client(io.io().get_executor(), ClientOptions{.base_url = fake_.url()});
    const auto status = io.run(status_of_v1_get(client));
    EXPECT_EQ(status, 401);
}

TEST_F(AwsCredentialsFetch, InstanceMetadataErrorsAreClear) {
    fake_.hand_out({set_a(expiration_)});
    fake_.fail_next(1, 404);
    auto fetched = fetch(imds_source(fake_));
    ASSERT_FALSE(fetched);
    EXPECT_EQ(fetched.error().detail,
              "the EC2 instance metadata service " + fake_.url() +
                  ": role ragd-test-role: HTTP 404: {\"code\":\"InternalError\",\"message\":\"try "
                  "later\"}");
    fake_.answer_with(R"({"Code":"AssumeRoleUnauthorizedAccess","Message":"no trust"})");
    fetched = fetch(imds_source(fake_));
    ASSERT_FALSE(fetched);
    EXPECT_EQ(fetched.error().code, core::ErrorCode::kUnavailable);
    EXPECT_NE(fetched.error().detail.find("AssumeRoleUnauthorizedAccess: no trust"),
              std::string::npos);
}

TEST_F(AwsCredentialsFetch, WebIdentityPostsTheTokenFileToSts) {
    fake_.hand_out({set_a(expiration_), set_b(expiration_)});
    AwsCredentialSource source = sts_source(fake_, tokens_.write("jwt", "eyJ.jwt-one.sig\n"));
    fake_.expect_web_identity(std::string(kRoleArn), "ragd-test", "eyJ.jwt-one.sig");
    auto first = fetch(source);
    ASSERT_TRUE(first) << first.error().detail;
    EXPECT_EQ(first->credentials.access_key_id, "ASIAKEYA");
    EXPECT_EQ(first->credentials.secret_access_key, kSecretA);
    EXPECT_EQ(first->credentials.session_token, kSessionA);
    EXPECT_EQ(first->expiration, whole_seconds(expiration_));
    const auto request = fake_.requests().at(0);
    EXPECT_EQ(request.method, "POST");
    EXPECT_EQ(request.header("authorization"), "") << "AssumeRoleWithWebIdentity is unsigned";
    const auto form = test::decode_form(request.body);
    EXPECT_EQ(form.at("Action"), "AssumeRoleWithWebIdentity");
    EXPECT_EQ(form.at("Version"), "2011-06-15");
    EXPECT_EQ(form.at("RoleArn"), kRoleArn);
    EXPECT_EQ(form.at("RoleSessionName"), "ragd-test");

    // Re-read at every fetch: the kubelet rotates the projected token.
    tokens_.write("jwt", "eyJ.jwt-two.sig");
    fake_.expect_web_identity(std::string(kRoleArn), "ragd-test", "eyJ.jwt-two.sig");
    auto second = fetch(source);
    ASSERT_TRUE(second) << second.error().detail;
    EXPECT_EQ(second->credentials.access_key_id, "ASIAKEYB");
}

TEST_F(AwsCredentialsFetch, StsErrorResponseIsAClearError) {
    fake_.hand_out({set_a(expiration_)});
    fake_.expect_web_identity(std::string(kRoleArn), "ragd-test", "the-expected-jwt");
    const auto fetched = fetch(sts_source(fake_, tokens_.write("jwt", "an-expired-jwt")));
    ASSERT_FALSE(fetched);
    EXPECT_EQ(fetched.error().code, core::ErrorCode::kUnavailable);
    EXPECT_EQ(fetched.error().detail,
              "STS AssumeRoleWithWebIdentity at " + fake_.url() + "/ (role " +
                  std::string(kRoleArn) +
                  "): HTTP 400: InvalidIdentityToken: Incoming token is not valid & known");
    expect_no_secret(fetched.error().detail, {"an-expired-jwt", "the-expected-jwt"});
}

TEST_F(AwsCredentialsFetch, MalformedAnswersAreClearErrors) {
    fake_.hand_out({set_a(expiration_)});
    fake_.answer_with(R"({"AccessKeyId":"ASIA","SecretAccessKey":"secret-A/ragd+test","Tok)");
    auto fetched = fetch(container_source(fake_));
    ASSERT_FALSE(fetched);
    EXPECT_EQ(fetched.error().code, core::ErrorCode::kCorrupt);
    EXPECT_NE(fetched.error().detail.find("credentials response is not a JSON object"),
              std::string::npos)
        << fetched.error().detail;
    expect_no_secret(fetched.error().detail);

    fake_.answer_with("<AssumeRoleWithWebIdentityResponse><Credentials>");
    fetched = fetch(sts_source(fake_, tokens_.write("jwt", "jwt")));
    ASSERT_FALSE(fetched);
    EXPECT_EQ(fetched.error().code, core::ErrorCode::kCorrupt);
    EXPECT_NE(fetched.error().detail.find("STS response has no"), std::string::npos);
}

TEST_F(AwsCredentialsFetch, UnreachableSourceIsUnavailable) {
    AwsCredentialSource source = container_source(fake_);
    source.base_url = "http://127.0.0.1:" + std::to_string(ragd::testing::free_loopback_port());
    const auto fetched = fetch(source);
    ASSERT_FALSE(fetched);
    EXPECT_EQ(fetched.error().code, core::ErrorCode::kUnavailable);
    EXPECT_TRUE(fetched.error().detail.starts_with("the ECS container endpoint " + source.base_url +
                                                   "/container/credentials: cannot connect"))
        << fetched.error().detail;
}

TEST_F(AwsCredentialsFetch, SilentSourceTimesOut) {
    fake_.hold(true);
    const auto started = std::chrono::steady_clock::now();
    const auto fetched = fetch(imds_source(fake_));  // 1 s timeout
    ASSERT_FALSE(fetched);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 4s);
    EXPECT_NE(fetched.error().detail.find("timeout"), std::string::npos) << fetched.error().detail;
}

// -- refresh schedule ----------------------------------------------------------------------------

TEST(AwsRefreshDelay, MarginOrHalfTheLifetimeWhicheverComesFirst) {
    const AwsRefreshOptions options;  // margin 5 min, min_delay 5 s
    const auto now = system_clock::now();
    EXPECT_EQ(refresh_delay(now + 6h, now, options), 3h);
    EXPECT_EQ(refresh_delay(now + 1h, now, options), 30min);
    EXPECT_EQ(refresh_delay(now + 9min, now, options), 4min);
    EXPECT_EQ(refresh_delay(now + 5min + 20s, now, options), 20s);
    EXPECT_EQ(refresh_delay(now + 4min, now, options), 2min);     // shorter than the margin
    EXPECT_EQ(refresh_delay(now + 5min + 2s, now, options), 5s);  // at least min_delay
    EXPECT_EQ(refresh_delay(now - 1min, now, options), 5s);       // already expired
    AwsRefreshOptions eager;
    eager.min_delay = 0ms;
    EXPECT_EQ(refresh_delay(now + 5min + 2s, now, eager), 2s);
}

// -- provider ------------------------------------------------------------------------------------

TEST(AwsCredentialsProvider, StaticCredentialsStartNoRefresher) {
    AwsCredentialSource source;
    source.kind = AwsCredentialSourceKind::kEnvironment;
    source.static_credentials = {"AKIDSTATIC", "static-secret", ""};
    const auto provider = AwsCredentialsProvider::start(source);
    ASSERT_TRUE(provider) << provider.error().detail;
    EXPECT_EQ((*provider)->current()->access_key_id, "AKIDSTATIC");
    EXPECT_EQ((*provider)->source(), "the environment (AWS_ACCESS_KEY_ID)");
    const auto fixed = AwsCredentialsProvider::fixed({"AKIDFIXED", "s", "t"});
    EXPECT_EQ(fixed->current()->session_token, "t");
}

TEST(AwsCredentialsProvider, FirstFetchFailureIsReturned) {
    FakeAwsCredentialsServer fake;
    fake.expect_container_token("expected");
    const auto provider = AwsCredentialsProvider::start(container_source(fake));
    ASSERT_FALSE(provider);
    EXPECT_TRUE(provider.error().detail.starts_with("the ECS container endpoint " + fake.url()))
        << provider.error().detail;
    EXPECT_NE(provider.error().detail.find("HTTP 401"), std::string::npos);
}

TEST(AwsCredentialsProvider, RefreshesBeforeExpiryAndSwapsForEveryReader) {
    CapturingLogger log;
    FakeAwsCredentialsServer fake;
    // Due for a refresh 2 s from now: its expiration is 5 min (the margin) and 2 s away.
    fake.hand_out({set_a(system_clock::now() + 5min + 2s), set_b(system_clock::now() + 1h)});
    AwsRefreshOptions options;
    options.min_delay = 0ms;
    auto started = AwsCredentialsProvider::start(container_source(fake), options);
    ASSERT_TRUE(started) << started.error().detail;
    const std::shared_ptr<const AwsCredentialsProvider> provider = *started;
    const std::shared_ptr<const AwsCredentials> first = provider->current();
    EXPECT_EQ(first->access_key_id, "ASIAKEYA");
    EXPECT_EQ(first->secret_access_key, kSecretA);

    // Signers on several threads meanwhile (TSan checks the swap).
    std::atomic<bool> stop{false};
    std::atomic<int> saw_b{0};
    std::vector<std::thread> readers;
    readers.reserve(4);
    for (int thread_idx = 0; thread_idx < 4; ++thread_idx) {
        readers.emplace_back([&] {
            while (!stop.load()) {
                const auto credentials = provider->current();
                if (credentials->access_key_id == "ASIAKEYB") {
                    EXPECT_EQ(credentials->secret_access_key, kSecretB);
                    EXPECT_EQ(credentials->session_token, kSessionB);
                    ++saw_b;
                }
                std::this_thread::yield();
            }
        });
    }
    EXPECT_TRUE(eventually([&] { return provider->current()->access_key_id == "ASIAKEYB"; }));
    stop = true;
    for (std::thread& reader : readers) {
        reader.join();
    }
    EXPECT_GT(saw_b.load(), 0);
    EXPECT_EQ(first->access_key_id, "ASIAKEYA") << "a signer's copy is not changed under it";
    EXPECT_EQ(fake.credential_answers(), 2);
    EXPECT_EQ(log.lines("aws credentials refreshed").size(), 1U);
    for (const std::string& line : log.all()) {
        expect_no_secret(line);
    }
}

TEST(AwsCredentialsProvider, FailedRefreshKeepsTheOldCredentialsAndRetries) {
    CapturingLogger log;
    FakeAwsCredentialsServer fake;
    fake.hand_out({set_a(system_clock::now() + 5min + 3s), set_b(system_clock::now() + 1h)});
    AwsRefreshOptions options;
    options.min_delay = 0ms;
    options.retry_delay = 20ms;
    options.max_retry_delay = 80ms;
    auto provider = AwsCredentialsProvider::start(container_source(fake), options);
    ASSERT_TRUE(provider) << provider.error().detail;
    fake.fail_next(1000, 503);  // the refresh is 2-3 s away

    ASSERT_TRUE(eventually([&] { return fake.credential_answers() >= 5; }));
    EXPECT_EQ((*provider)->current()->access_key_id, "ASIAKEYA");
    EXPECT_EQ((*provider)->current()->secret_access_key, kSecretA);
    const auto warnings = log.lines("aws credentials refresh failed");
    ASSERT_GE(warnings.size(), 3U);
    EXPECT_TRUE(warnings[0].starts_with("warn ")) << warnings[0];
    EXPECT_NE(warnings[0].find("the ECS container endpoint " + fake.url()), std::string::npos)
        << warnings[0];
    EXPECT_NE(warnings[0].find("HTTP 503"), std::string::npos) << warnings[0];
    EXPECT_NE(warnings[0].find("retry_in_ms=20"), std::string::npos) << warnings[0];
    EXPECT_NE(warnings[2].find("retry_in_ms=80"), std::string::npos) << "backoff capped";

    fake.fail_next(0);
    EXPECT_TRUE(eventually([&] { return (*provider)->current()->access_key_id == "ASIAKEYB"; }));
    for (const std::string& line : log.all()) {
        expect_no_secret(line);
    }
}

// The cancelled fetch is shutting down, not a failed refresh: no warning about it.
TEST(AwsCredentialsProvider, DestructionCancelsARefreshInFlight) {
    CapturingLogger log;
    FakeAwsCredentialsServer fake;
    fake.hand_out({set_a(system_clock::now() + 5min + 2s)});
    AwsRefreshOptions options;
    options.min_delay = 0ms;
    auto provider = AwsCredentialsProvider::start(container_source(fake), options);
    ASSERT_TRUE(provider) << provider.error().detail;
    fake.hold(true);  // the refresh, 1-2 s away, is never answered (its timeout is 5 s)
    ASSERT_TRUE(eventually([&] { return fake.requests().size() >= 2; }));
    ASSERT_EQ(fake.credential_answers(), 1) << "the refresh is held, not answered";
    const auto stopping = std::chrono::steady_clock::now();
    provider->reset();
    EXPECT_LT(std::chrono::steady_clock::now() - stopping, 2s);
    EXPECT_TRUE(log.lines("aws credentials refresh failed").empty());
}

TEST(AwsCredentialsProvider, DestructionWhileWaitingForTheNextRefreshIsPrompt) {
    FakeAwsCredentialsServer fake;
    fake.hand_out({set_a(system_clock::now() + 6h)});
    auto provider = AwsCredentialsProvider::start(container_source(fake));
    ASSERT_TRUE(provider) << provider.error().detail;
    const auto stopping = std::chrono::steady_clock::now();
    provider->reset();
    EXPECT_LT(std::chrono::steady_clock::now() - stopping, 1s);
    EXPECT_EQ(fake.credential_answers(), 1);
}

}  // namespace
}  // namespace ragd::http
