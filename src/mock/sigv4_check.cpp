// Parses "AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request,
// SignedHeaders=a;b, Signature=HEX" and recomputes the signature with http/aws_sigv4.
#include "mock/sigv4_check.hpp"

#include <vector>

#include "core/text.hpp"
#include "http/aws_sigv4.hpp"

namespace ragd::mock {
namespace {

/// The value of "name=value" among the comma-separated parts of `fields`, or "".
std::string_view field(std::string_view fields, std::string_view name) {
    while (!fields.empty()) {
        const std::size_t comma = fields.find(',');
        const std::string_view part = core::trim_ows(fields.substr(0, comma));
        fields = comma == std::string_view::npos ? std::string_view{} : fields.substr(comma + 1);
        if (part.size() > name.size() && part.substr(0, name.size()) == name &&
            part[name.size()] == '=') {
            return part.substr(name.size() + 1);
        }
    }
    return {};
}

std::vector<std::string_view> split(std::string_view text, char separator) {
    std::vector<std::string_view> parts;
    while (true) {
        const std::size_t at = text.find(separator);
        parts.push_back(text.substr(0, at));
        if (at == std::string_view::npos) {
            return parts;
        }
        text.remove_prefix(at + 1);
    }
}

}  // namespace

std::string check_sigv4(std::string_view authorization,
                        const HeaderLookup& header,
                        std::string_view method,
                        std::string_view target,
                        std::string_view body,
                        std::string_view secret) {
    constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256 ";
    authorization = core::trim_ows(authorization);
    if (authorization.substr(0, kAlgorithm.size()) != kAlgorithm) {
        return "Authorization is neither a Bearer token nor AWS4-HMAC-SHA256";
    }
    const std::string_view fields = authorization.substr(kAlgorithm.size());
    const std::vector<std::string_view> credential = split(field(fields, "Credential"), '/');
    const std::string_view signed_headers = field(fields, "SignedHeaders");
    const std::string_view signature = field(fields, "Signature");
    if (credential.size() != 5 || credential[4] != "aws4_request" || signed_headers.empty() ||
        signature.empty()) {
        return "Authorization header is malformed";
    }
    const auto amz_date = header("x-amz-date");
    if (!amz_date || amz_date->substr(0, 8) != credential[1]) {
        return "X-Amz-Date is missing or does not match the credential scope's date";
    }
    std::vector<http::Header> headers;
    for (std::string_view name : split(signed_headers, ';')) {
        const auto value = header(name);
        if (!value) {
            return "signed header '" + std::string(name) + "' is not in the request";
        }
        headers.push_back({std::string(name), std::string(*value)});
    }
    if (secret.empty()) {
        return {};
    }
    const std::size_t question = target.find('?');
    http::SigV4Request request;
    request.method = method;
    request.path = target.substr(0, question);
    request.query =
        question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);
    request.headers = &headers;
    request.payload = body;
    const http::SigV4Signature expected =
        http::sigv4_sign(request,
                         http::AwsCredentials{std::string(credential[0]), std::string(secret), ""},
                         http::AwsScope{std::string(credential[2]), std::string(credential[3])},
                         *amz_date);
    if (expected.signature != signature) {
        return "The request signature we calculated does not match the signature you provided.";
    }
    return {};
}

}  // namespace ragd::mock
