// SigV4 against signatures AWS publishes in its Signature Version 4 test suite (the
// "get-vanilla", "get-vanilla-query-order-key-case" and "post-vanilla" requests: credentials
// AKIDEXAMPLE, region us-east-1, service "service", 2015-08-30 12:36:00 UTC), plus the
// canonicalisation rules those requests do not exercise.
#include "http/aws_sigv4.hpp"

#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace ragd::http {
namespace {

const AwsCredentials kExample{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
const AwsScope kScope{"us-east-1", "service"};
constexpr std::string_view kDate = "20150830T123600Z";
constexpr std::string_view kPrefix =
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=";

std::vector<Header> vanilla_headers() {
    return {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", std::string(kDate)}};
}

SigV4Signature sign(std::string_view method,
                    std::string_view path,
                    std::string_view query,
                    const std::vector<Header>& headers,
                    std::string_view payload = {}) {
    SigV4Request request;
    request.method = method;
    request.path = path;
    request.query = query;
    request.headers = &headers;
    request.payload = payload;
    return sigv4_sign(request, kExample, kScope, kDate);
}

std::chrono::system_clock::time_point example_time() {
    return std::chrono::system_clock::time_point(std::chrono::seconds(1440938160));
}

TEST(SigV4, GetVanilla) {
    const auto headers = vanilla_headers();
    const SigV4Signature signature = sign("GET", "/", "", headers);
    EXPECT_EQ(signature.canonical_request,
              "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
              "host;x-amz-date\n"
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(
        signature.authorization,
        std::string(kPrefix) + "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(SigV4, QueryParametersAreSorted) {
    const auto headers = vanilla_headers();
    EXPECT_EQ(sign("GET", "/", "Param2=value2&Param1=value1", headers).signature,
              "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
    EXPECT_EQ(sign("GET", "/", "Param1=value1&Param2=value2", headers).signature,
              "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

TEST(SigV4, PostVanilla) {
    const auto headers = vanilla_headers();
    EXPECT_EQ(sign("POST", "/", "", headers).signature,
              "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
}

TEST(SigV4, AnEmptyPathIsSignedAsSlash) {
    const auto headers = vanilla_headers();
    EXPECT_EQ(sign("GET", "", "", headers).signature, sign("GET", "/", "", headers).signature);
}

TEST(SigV4, HeaderNamesLowerCasedSortedValuesTrimmedAndJoined) {
    const std::vector<Header> headers = {{"X-Amz-Date", std::string(kDate)},
                                         {"My-Header", "  a   b  "},
                                         {"Host", "example.amazonaws.com"},
                                         {"my-header", "c"}};
    const SigV4Signature signature = sign("GET", "/", "", headers);
    EXPECT_EQ(signature.signed_headers, "host;my-header;x-amz-date");
    EXPECT_NE(signature.canonical_request.find("host:example.amazonaws.com\nmy-header:a b,c\n"
                                               "x-amz-date:20150830T123600Z\n\n"),
              std::string::npos)
        << signature.canonical_request;
}

TEST(SigV4, PathIsEncodedOnceMoreAsNonS3ServicesExpect) {
    // Bedrock's model ids contain ':'; sent as %3A, they are signed as %253A.
    const auto headers = vanilla_headers();
    const SigV4Signature signature =
        sign("POST", "/model/anthropic.claude-v2%3A1/converse", "", headers, "{}");
    EXPECT_TRUE(signature.canonical_request.starts_with(
        "POST\n/model/anthropic.claude-v2%253A1/converse\n"))
        << signature.canonical_request;
}

TEST(SigV4, QueryValuesAreReEncodedCanonically) {
    const auto headers = vanilla_headers();
    const SigV4Signature signature = sign("GET", "/", "b=x y&a=%7e~&c", headers);
    EXPECT_TRUE(signature.canonical_request.starts_with("GET\n/\na=~~&b=x%20y&c=\n"))
        << signature.canonical_request;
}

TEST(SigV4, PayloadChangesTheSignature) {
    const auto headers = vanilla_headers();
    EXPECT_NE(sign("POST", "/", "", headers, "a").signature,
              sign("POST", "/", "", headers, "b").signature);
}

TEST(SigV4, UriEncode) {
    EXPECT_EQ(aws_uri_encode("AZaz09-._~", true), "AZaz09-._~");
    EXPECT_EQ(aws_uri_encode("a b/c:d", true), "a%20b%2Fc%3Ad");
    EXPECT_EQ(aws_uri_encode("a b/c:d", false), "a%20b/c%3Ad");
    EXPECT_EQ(aws_uri_encode("\xC3\xA9", true), "%C3%A9");
}

TEST(SigV4, AmzDateIsUtc) {
    EXPECT_EQ(aws_amz_date(example_time()), "20150830T123600Z");
}

TEST(SigV4, SignHeadersMatchesTheVanillaSignature) {
    std::vector<Header> headers;
    sigv4_sign_headers(
        headers, "GET", "example.amazonaws.com", "/", "", "", kExample, kScope, example_time());
    ASSERT_EQ(headers.size(), 2U);
    EXPECT_EQ(headers[0].name, "X-Amz-Date");
    EXPECT_EQ(headers[0].value, "20150830T123600Z");
    EXPECT_EQ(headers[1].name, "Authorization");
    EXPECT_EQ(
        headers[1].value,
        std::string(kPrefix) + "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(SigV4, SessionTokenIsSentAndSigned) {
    AwsCredentials credentials = kExample;
    credentials.session_token = "token-123";
    std::vector<Header> headers = {{"Content-Type", "application/json"}};
    sigv4_sign_headers(headers,
                       "POST",
                       "example.amazonaws.com",
                       "/",
                       "",
                       "{}",
                       credentials,
                       kScope,
                       example_time());
    ASSERT_EQ(headers.size(), 4U);
    EXPECT_EQ(headers[2].name, "X-Amz-Security-Token");
    EXPECT_EQ(headers[2].value, "token-123");
    EXPECT_NE(headers[3].value.find(
                  "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature="),
              std::string::npos)
        << headers[3].value;
}

}  // namespace
}  // namespace ragd::http
