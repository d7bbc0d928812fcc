// The mock's SigV4 check, against signatures made by ragd's signer (http/aws_sigv4): accepted
// as signed, refused once anything signed changes.
#include "mock/sigv4_check.hpp"

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "http/aws_sigv4.hpp"

namespace ragd::mock {
namespace {

constexpr std::string_view kSecret = "mock/secret+key";
constexpr std::string_view kTarget = "/model/a.b-v1%3A0/converse?x=1";
constexpr std::string_view kBody = R"({"messages":[]})";

struct Signed {
    std::map<std::string, std::string> headers;  // lower-case names
    std::string authorization;
};

Signed sign_request(std::string_view body = kBody) {
    std::vector<http::Header> headers = {{"Content-Type", "application/json"}};
    http::sigv4_sign_headers(headers,
                             "POST",
                             "127.0.0.1:9000",
                             "/model/a.b-v1%3A0/converse",
                             "x=1",
                             body,
                             http::AwsCredentials{"AKIDMOCK", std::string(kSecret), ""},
                             http::AwsScope{"us-east-1", "bedrock"},
                             std::chrono::system_clock::now());
    Signed out;
    out.headers["host"] = "127.0.0.1:9000";
    for (const http::Header& header : headers) {
        std::string name = header.name;
        for (char& c : name) {
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        if (name == "authorization") {
            out.authorization = header.value;
        } else {
            out.headers[name] = header.value;
        }
    }
    return out;
}

HeaderLookup lookup(const std::map<std::string, std::string>& headers) {
    return [&headers](std::string_view name) -> std::optional<std::string_view> {
        auto found = headers.find(std::string(name));
        if (found == headers.end()) {
            return std::nullopt;
        }
        return std::string_view(found->second);
    };
}

TEST(MockSigV4, AcceptsWhatTheSignerSigned) {
    const Signed request = sign_request();
    EXPECT_EQ(check_sigv4(
                  request.authorization, lookup(request.headers), "POST", kTarget, kBody, kSecret),
              "");
    EXPECT_EQ(
        check_sigv4(request.authorization, lookup(request.headers), "POST", kTarget, kBody, ""), "")
        << "shape only";
}

TEST(MockSigV4, RefusesChangedBodyPathHeaderOrSecret) {
    Signed request = sign_request();
    const auto check =
        [&](std::string_view target, std::string_view body, std::string_view secret) {
            return check_sigv4(
                request.authorization, lookup(request.headers), "POST", target, body, secret);
        };
    EXPECT_NE(check(kTarget, R"({"messages":[1]})", kSecret).find("signature"), std::string::npos);
    EXPECT_NE(check("/model/other/converse?x=1", kBody, kSecret), "");
    EXPECT_NE(check("/model/a.b-v1%3A0/converse?x=2", kBody, kSecret), "");
    EXPECT_NE(check(kTarget, kBody, "another"), "");
    request.headers["host"] = "127.0.0.1:9001";
    EXPECT_NE(check(kTarget, kBody, kSecret), "");
}

TEST(MockSigV4, RefusesMalformedOrIncompleteHeaders) {
    const Signed request = sign_request();
    const auto headers = lookup(request.headers);
    EXPECT_NE(check_sigv4("Basic abc", headers, "POST", kTarget, kBody, ""), "");
    EXPECT_NE(check_sigv4("AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/bedrock, "
                          "SignedHeaders=host, Signature=00",
                          headers,
                          "POST",
                          kTarget,
                          kBody,
                          ""),
              "");
    std::map<std::string, std::string> without_date = request.headers;
    without_date.erase("x-amz-date");
    EXPECT_NE(check_sigv4(request.authorization, lookup(without_date), "POST", kTarget, kBody, ""),
              "");
    std::map<std::string, std::string> without_type = request.headers;
    without_type.erase("content-type");
    EXPECT_NE(check_sigv4(request.authorization, lookup(without_type), "POST", kTarget, kBody, "")
                  .find("content-type"),
              std::string::npos);
}

}  // namespace
}  // namespace ragd::mock
