// AWS Signature Version 4 for one HTTP request (the Authorization header Bedrock's runtime API
// takes). Pure functions of the request's bytes, the credentials and a time, so the signer is
// checked against AWS's published test-suite signatures without a clock or a network.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.hpp"

namespace ragd::http {

/// Static credentials, as the AWS SDKs read them from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
/// and AWS_SESSION_TOKEN.
struct AwsCredentials {
    std::string access_key_id;
    std::string secret_access_key;
    std::string session_token;  ///< "" for long-term keys
};

/// What a signature is scoped to: "us-east-1" and "bedrock".
struct AwsScope {
    std::string region;
    std::string service;
};

/// The request as it goes on the wire.
struct SigV4Request {
    std::string_view method;  ///< "POST"
    std::string_view path;    ///< percent-encoded as sent, without the query ("/model/a%3A0/x")
    std::string_view query;   ///< as sent, without '?'
    /// Headers to sign (host and x-amz-date among them); names in any case.
    const std::vector<Header>* headers = nullptr;
    std::string_view payload;
};

/// The signature and the strings it was computed from (for tests and for debugging a 403).
struct SigV4Signature {
    std::string canonical_request;
    std::string string_to_sign;
    std::string signed_headers;  ///< "content-type;host;x-amz-date"
    std::string signature;       ///< lower-case hex
    std::string authorization;   ///< the Authorization header's value
};

/// RFC 3986 percent-encoding as SigV4 defines it: unreserved characters (A-Z a-z 0-9 - . _ ~)
/// as they are, every other byte as %XX (upper-case hex); '/' kept unless `encode_slash`.
std::string aws_uri_encode(std::string_view text, bool encode_slash);

/// The X-Amz-Date form of `when`: "20150830T123600Z" (UTC).
std::string aws_amz_date(std::chrono::system_clock::time_point when);

/// Signs `request`. `amz_date` must be the value of its x-amz-date header. The canonical path
/// encodes the sent path once more, as every AWS service but S3 expects (so a model id's ':'
/// sent as %3A is signed as %253A).
SigV4Signature sigv4_sign(const SigV4Request& request,
                          const AwsCredentials& credentials,
                          const AwsScope& scope,
                          std::string_view amz_date);

/// Adds X-Amz-Date, X-Amz-Security-Token (with a session token) and Authorization to
/// `headers`, signing `host` (the Host header the client will send) and every header already in
/// `headers`.
void sigv4_sign_headers(std::vector<Header>& headers,
                        std::string_view method,
                        std::string_view host,
                        std::string_view path,
                        std::string_view query,
                        std::string_view payload,
                        const AwsCredentials& credentials,
                        const AwsScope& scope,
                        std::chrono::system_clock::time_point now);

}  // namespace ragd::http
