// SigV4 as AWS documents it: canonical request → string to sign → HMAC chain over the date,
// region, service and "aws4_request" → signature. OpenSSL provides SHA-256 and HMAC.
#include "http/aws_sigv4.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <ctime>
#include <utility>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/hash.hpp"

namespace ragd::http {
namespace {

constexpr char kHex[] = "0123456789ABCDEF";
constexpr char kLowerHex[] = "0123456789abcdef";
constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

using Digest = std::array<unsigned char, 32>;

Digest hmac_sha256(std::string_view key, std::string_view data) {
    Digest out{};
    unsigned int length = 0;
    HMAC(EVP_sha256(),
         key.data(),
         static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(data.data()),
         data.size(),
         out.data(),
         &length);
    return out;
}

std::string_view as_view(const Digest& digest) {
    return {reinterpret_cast<const char*>(digest.data()), digest.size()};
}

std::string lower_hex(const Digest& digest) {
    std::string out;
    out.reserve(digest.size() * 2);
    for (unsigned char byte : digest) {
        out.push_back(kLowerHex[byte >> 4U]);
        out.push_back(kLowerHex[byte & 0xFU]);
    }
    return out;
}

bool is_unreserved(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/// %XX sequences decoded; text with a malformed escape is taken as it is.
std::string decoded(std::string_view text) {
    return percent_decode(text).value_or(std::string(text));
}

/// Parameters decoded, re-encoded the canonical way and sorted by name, then value.
std::string canonical_query(std::string_view query) {
    std::vector<std::pair<std::string, std::string>> params;
    while (!query.empty()) {
        const std::size_t amp = query.find('&');
        const std::string_view param = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (param.empty()) {
            continue;
        }
        const std::size_t eq = param.find('=');
        const std::string_view name = param.substr(0, eq);
        const std::string_view value =
            eq == std::string_view::npos ? std::string_view{} : param.substr(eq + 1);
        params.emplace_back(aws_uri_encode(decoded(name), true),
                            aws_uri_encode(decoded(value), true));
    }
    std::sort(params.begin(), params.end());
    std::string out;
    for (const auto& [name, value] : params) {
        if (!out.empty()) {
            out += '&';
        }
        out += name;
        out += '=';
        out += value;
    }
    return out;
}

/// Leading and trailing blanks dropped, inner runs of blanks made one space.
std::string canonical_header_value(std::string_view value) {
    std::string out;
    bool pending_space = false;
    for (char c : value) {
        if (c == ' ' || c == '\t') {
            pending_space = !out.empty();
            continue;
        }
        if (pending_space) {
            out += ' ';
            pending_space = false;
        }
        out += c;
    }
    return out;
}

std::string lower(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
    }
    return out;
}

}  // namespace

std::string aws_uri_encode(std::string_view text, bool encode_slash) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (is_unreserved(byte) || (c == '/' && !encode_slash)) {
            out.push_back(c);
        } else {
            out.push_back('%');
            out.push_back(kHex[byte >> 4U]);
            out.push_back(kHex[byte & 0xFU]);
        }
    }
    return out;
}

std::string aws_amz_date(std::chrono::system_clock::time_point when) {
    const std::time_t seconds = std::chrono::system_clock::to_time_t(when);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    std::array<char, 20> text{};
    const std::size_t length = std::strftime(text.data(), text.size(), "%Y%m%dT%H%M%SZ", &utc);
    return {text.data(), length};
}

SigV4Signature sigv4_sign(const SigV4Request& request,
                          const AwsCredentials& credentials,
                          const AwsScope& scope,
                          std::string_view amz_date) {
    // Canonical headers: lower-case names, sorted; values of a repeated name joined by ','.
    std::vector<std::pair<std::string, std::string>> headers;
    if (request.headers != nullptr) {
        for (const Header& header : *request.headers) {
            headers.emplace_back(lower(header.name), canonical_header_value(header.value));
        }
    }
    std::stable_sort(headers.begin(), headers.end(), [](const auto& a, const auto& b) {
        return a.first < b.first;
    });
    std::string canonical_headers;
    SigV4Signature out;
    for (std::size_t header_idx = 0; header_idx < headers.size(); ++header_idx) {
        const auto& [name, value] = headers[header_idx];
        if (header_idx > 0 && headers[header_idx - 1].first == name) {
            canonical_headers.back() = ',';  // replaces the previous line's '\n'
            canonical_headers += value;
            canonical_headers += '\n';
            continue;
        }
        if (!out.signed_headers.empty()) {
            out.signed_headers += ';';
        }
        out.signed_headers += name;
        canonical_headers += name;
        canonical_headers += ':';
        canonical_headers += value;
        canonical_headers += '\n';
    }

    const std::string path =
        request.path.empty() ? std::string("/") : aws_uri_encode(request.path, false);
    out.canonical_request.append(request.method)
        .append("\n")
        .append(path)
        .append("\n")
        .append(canonical_query(request.query))
        .append("\n")
        .append(canonical_headers)
        .append("\n")
        .append(out.signed_headers)
        .append("\n")
        .append(core::sha256_hex(request.payload));

    const std::string_view date = amz_date.substr(0, 8);
    std::string credential_scope;
    credential_scope.append(date)
        .append("/")
        .append(scope.region)
        .append("/")
        .append(scope.service)
        .append("/aws4_request");
    out.string_to_sign.append(kAlgorithm)
        .append("\n")
        .append(amz_date)
        .append("\n")
        .append(credential_scope)
        .append("\n")
        .append(core::sha256_hex(out.canonical_request));

    const Digest date_key = hmac_sha256("AWS4" + credentials.secret_access_key, date);
    const Digest region_key = hmac_sha256(as_view(date_key), scope.region);
    const Digest service_key = hmac_sha256(as_view(region_key), scope.service);
    const Digest signing_key = hmac_sha256(as_view(service_key), "aws4_request");
    out.signature = lower_hex(hmac_sha256(as_view(signing_key), out.string_to_sign));

    out.authorization.append(kAlgorithm)
        .append(" Credential=")
        .append(credentials.access_key_id)
        .append("/")
        .append(credential_scope)
        .append(", SignedHeaders=")
        .append(out.signed_headers)
        .append(", Signature=")
        .append(out.signature);
    return out;
}

void sigv4_sign_headers(std::vector<Header>& headers,
                        std::string_view method,
                        std::string_view host,
                        std::string_view path,
                        std::string_view query,
                        std::string_view payload,
                        const AwsCredentials& credentials,
                        const AwsScope& scope,
                        std::chrono::system_clock::time_point now) {
    const std::string amz_date = aws_amz_date(now);
    headers.push_back({"X-Amz-Date", amz_date});
    if (!credentials.session_token.empty()) {
        headers.push_back({"X-Amz-Security-Token", credentials.session_token});
    }
    std::vector<Header> signed_headers = headers;
    signed_headers.push_back({"Host", std::string(host)});
    SigV4Request request;
    request.method = method;
    request.path = path;
    request.query = query;
    request.headers = &signed_headers;
    request.payload = payload;
    SigV4Signature signature = sigv4_sign(request, credentials, scope, amz_date);
    headers.push_back({"Authorization", std::move(signature.authorization)});
}

}  // namespace ragd::http
