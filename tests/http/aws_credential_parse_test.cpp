// The credential services' answers as bytes: ISO 8601 times, the container / instance metadata
// JSON, STS's XML and its ErrorResponse; malformed answers are clear errors that quote no secret.
#include "http/aws_credential_parse.hpp"

#include <chrono>
#include <string>

#include <gtest/gtest.h>

namespace ragd::http {
namespace {

using std::chrono::system_clock;

constexpr std::string_view kSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYzEXAMPLEKEY";
constexpr std::string_view kToken = "IQoJb3JpZ2luX2VjEXAMPLE/TOKEN+=";

system_clock::time_point at(std::int64_t seconds) {
    return system_clock::time_point(std::chrono::seconds(seconds));
}

std::string container_json(std::string_view expiration = "2024-05-01T12:34:56Z") {
    return R"({"RoleArn":"arn:aws:iam::1:role/ragd","AccessKeyId":"ASIAEXAMPLE",)"
           R"("SecretAccessKey":")" +
           std::string(kSecret) + R"(","Token":")" + std::string(kToken) + R"(","Expiration":")" +
           std::string(expiration) + R"("})";
}

void expect_no_secret(const std::string& text) {
    EXPECT_EQ(text.find(kSecret), std::string::npos) << text;
    EXPECT_EQ(text.find(kToken), std::string::npos) << text;
}

TEST(AwsIso8601, UtcFractionsAndOffsets) {
    constexpr std::int64_t kWhen = 1714566896;  // 2024-05-01T12:34:56Z
    EXPECT_EQ(parse_iso8601("2024-05-01T12:34:56Z").value(), at(kWhen));
    EXPECT_EQ(parse_iso8601("2024-05-01T12:34:56.789Z").value(), at(kWhen));
    EXPECT_EQ(parse_iso8601("2024-05-01t12:34:56z").value(), at(kWhen));
    EXPECT_EQ(parse_iso8601(" 2024-05-01T14:34:56+02:00\n").value(), at(kWhen));
    EXPECT_EQ(parse_iso8601("2024-05-01T07:04:56-0530").value(), at(kWhen));
    EXPECT_EQ(parse_iso8601("1970-01-01T00:00:00Z").value(), at(0));
    EXPECT_EQ(parse_iso8601("2024-02-29T00:00:00Z").value(), at(1709164800));
}

TEST(AwsIso8601, RejectsWhatIsNotATime) {
    for (const char* text : {"",
                             "2024-05-01",
                             "2024-05-01T12:34:56",  // no zone: which one?
                             "2024-13-01T12:34:56Z",
                             "2023-02-29T12:34:56Z",
                             "2024-05-01T24:00:00Z",
                             "2024-05-01 12:34:56Z",
                             "2024-05-01T12:34:56.Z",
                             "2024-05-01T12:34:56Zjunk",
                             "2024-05-01T12:34:56+2",
                             "1714566896",
                             // Beyond what system_clock holds: the conversion overflowed
                             // (UBSan, found by fuzz_aws_credentials).
                             "1013-12-02T18:00:00Z",
                             "9999-12-31T23:59:59Z"}) {
        const auto parsed = parse_iso8601(text);
        ASSERT_FALSE(parsed) << text;
        EXPECT_EQ(parsed.error().code, core::ErrorCode::kCorrupt);
        EXPECT_NE(parsed.error().detail.find("ISO 8601"), std::string::npos);
    }
}

TEST(AwsCredentialsJson, ContainerShape) {
    const auto parsed = parse_credentials_json(container_json());
    ASSERT_TRUE(parsed) << parsed.error().detail;
    EXPECT_EQ(parsed->credentials.access_key_id, "ASIAEXAMPLE");
    EXPECT_EQ(parsed->credentials.secret_access_key, kSecret);
    EXPECT_EQ(parsed->credentials.session_token, kToken);
    EXPECT_EQ(parsed->expiration, at(1714566896));
}

TEST(AwsCredentialsJson, InstanceMetadataShapeAndItsCode) {
    const std::string success =
        R"({"Code":"Success","LastUpdated":"2024-05-01T06:00:00Z","Type":"AWS-HMAC",)"
        R"("AccessKeyId":"ASIAIMDS","SecretAccessKey":"s","Token":"t",)"
        R"("Expiration":"2024-05-01T12:34:56Z"})";
    const auto parsed = parse_credentials_json(success);
    ASSERT_TRUE(parsed) << parsed.error().detail;
    EXPECT_EQ(parsed->credentials.access_key_id, "ASIAIMDS");

    const auto failed = parse_credentials_json(
        R"({"Code":"AssumeRoleUnauthorizedAccess","Message":"EC2 cannot assume the role"})");
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.error().code, core::ErrorCode::kUnavailable);
    EXPECT_EQ(failed.error().detail, "AssumeRoleUnauthorizedAccess: EC2 cannot assume the role");
}

TEST(AwsCredentialsJson, MalformedIsAClearErrorWithoutSecrets) {
    const std::string full = container_json();
    for (const std::string& body : {std::string(),
                                    std::string("null"),
                                    std::string("[]"),
                                    std::string("<html>oops</html>"),
                                    full.substr(0, full.size() / 2),  // cut off after the secret
                                    std::string(R"({"AccessKeyId":"A"})"),
                                    std::string(R"({"AccessKeyId":"A","SecretAccessKey":7})")}) {
        const auto parsed = parse_credentials_json(body);
        ASSERT_FALSE(parsed) << body;
        EXPECT_EQ(parsed.error().code, core::ErrorCode::kCorrupt) << body;
        EXPECT_NE(parsed.error().detail.find("credentials response"), std::string::npos);
        expect_no_secret(parsed.error().detail);
    }
    const auto no_token = parse_credentials_json(
        R"({"AccessKeyId":"A","SecretAccessKey":"S","Expiration":"2024-05-01T12:34:56Z"})");
    ASSERT_FALSE(no_token);
    EXPECT_EQ(no_token.error().detail, "credentials response has no \"Token\"");
    const auto bad_time = parse_credentials_json(container_json("tomorrow"));
    ASSERT_FALSE(bad_time);
    EXPECT_NE(bad_time.error().detail.find("Expiration"), std::string::npos);
    expect_no_secret(bad_time.error().detail);
}

// AWS's documented example, abridged, with a token holding XML-escaped characters.
constexpr std::string_view kStsAnswer = R"(<AssumeRoleWithWebIdentityResponse
    xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>amzn1.account.AF6RHO7KZU5X</SubjectFromWebIdentityToken>
    <Audience>client.5498841531868486423.1548@apps.example.com</Audience>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/FederatedWebIdentityRole/app1</Arn>
      <AssumedRoleId>AROACLKWSDQRAOEXAMPLE:app1</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <SessionToken>AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE&amp;&#43;&#x2F;</SessionToken>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <Expiration>2014-10-24T23:00:23Z</Expiration>
      <AccessKeyId>ASgeIAIOSFODNN7EXAMPLE</AccessKeyId>
    </Credentials>
    <SourceIdentity>SourceIdentityValue</SourceIdentity>
    <Provider>www.amazon.com</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata>
    <RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId>
  </ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>)";

TEST(AwsStsXml, AssumeRoleWithWebIdentityResult) {
    const auto parsed = parse_assume_role_response(kStsAnswer);
    ASSERT_TRUE(parsed) << parsed.error().detail;
    EXPECT_EQ(parsed->credentials.access_key_id, "ASgeIAIOSFODNN7EXAMPLE");
    EXPECT_EQ(parsed->credentials.secret_access_key, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY");
    EXPECT_EQ(parsed->credentials.session_token,
              "AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE&+/");
    EXPECT_EQ(parsed->expiration, at(1414191623));
}

TEST(AwsStsXml, ErrorResponseBecomesCodeAndMessage) {
    const std::string body =
        R"(<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error>
    <Type>Sender</Type>
    <Code>InvalidIdentityToken</Code>
    <Message>Token audience &quot;sts&quot; is not valid</Message>
  </Error>
  <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
</ErrorResponse>)";
    EXPECT_EQ(sts_error_message(body), "InvalidIdentityToken: Token audience \"sts\" is not valid");
    const auto parsed = parse_assume_role_response(body);
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error().code, core::ErrorCode::kUnavailable);
    EXPECT_EQ(parsed.error().detail, "InvalidIdentityToken: Token audience \"sts\" is not valid");
    EXPECT_EQ(sts_error_message(kStsAnswer), std::nullopt);
    EXPECT_EQ(sts_error_message("<ErrorResponse><Error/></ErrorResponse>"), "STS error");
}

TEST(AwsStsXml, MalformedIsAClearErrorWithoutSecrets) {
    const std::string full(kStsAnswer);
    const std::string secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY";
    std::string no_token = full;
    no_token.erase(no_token.find("<SessionToken>"),
                   no_token.find("</SessionToken>") + 15 - no_token.find("<SessionToken>"));
    std::string bad_time = full;
    bad_time.replace(bad_time.find("2014-10-24T23:00:23Z"), 20, "soon");
    for (const std::string& body : {std::string(),
                                    std::string("{}"),
                                    std::string("<"),
                                    std::string("<AssumeRoleWithWebIdentityResult>"),
                                    full.substr(0, full.find("</SecretAccessKey>") + 3),
                                    no_token,
                                    bad_time}) {
        const auto parsed = parse_assume_role_response(body);
        ASSERT_FALSE(parsed) << body;
        EXPECT_EQ(parsed.error().code, core::ErrorCode::kCorrupt) << body;
        EXPECT_NE(parsed.error().detail.find("STS response"), std::string::npos);
        EXPECT_EQ(parsed.error().detail.find(secret), std::string::npos) << parsed.error().detail;
    }
    const auto missing = parse_assume_role_response(no_token);
    EXPECT_EQ(missing.error().detail, "STS response's Credentials has no SessionToken");
}

TEST(AwsBodyExcerpt, ShortValidUtf8) {
    EXPECT_EQ(body_excerpt("  not found \n"), "not found");
    const std::string long_body(1000, 'x');
    EXPECT_EQ(body_excerpt(long_body), std::string(200, 'x') + "...");
    EXPECT_EQ(body_excerpt("caf\xc3"), "caf\xef\xbf\xbd");
}

}  // namespace
}  // namespace ragd::http
