#include "cache/redis_tls.hpp"

#include <utility>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/verify_context.hpp>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "http/tls_host_verifier.hpp"

namespace ragd::cache {
namespace net = boost::asio;
namespace ssl = net::ssl;
using core::ErrorCode;
using core::fail;

namespace {

bool is_ip_literal(const std::string& host) {
    boost::system::error_code ec;
    (void)net::ip::make_address(host, ec);
    return !ec;
}

}  // namespace

core::Result<std::shared_ptr<ssl::context>> make_redis_tls_context(const std::string& ca_file,
                                                                   bool verify) {
    auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
    boost::system::error_code ec;
    context->set_default_verify_paths(ec);
    if (ec) {
        return fail(ErrorCode::kInvalidArgument,
                    "TLS: cannot load the system CA store: " + ec.message());
    }
    if (!ca_file.empty()) {
        context->load_verify_file(ca_file, ec);
        if (ec) {
            return fail(
                ErrorCode::kInvalidArgument,
                "TLS CA file '" + ca_file + "' is not a readable PEM CA bundle: " + ec.message());
        }
    }
    context->set_verify_mode(verify ? ssl::verify_peer : ssl::verify_none);
    return context;
}

core::Result<void> prepare_redis_tls(RedisTlsStream& stream, const std::string& host, bool verify) {
    const bool ip = is_ip_literal(host);
    // RFC 6066: SNI carries host names only, never addresses.
    if (!ip && SSL_set_tlsext_host_name(stream.native_handle(), host.c_str()) != 1) {
        return fail(ErrorCode::kInternal, "cannot set the TLS server name '" + host + "'");
    }
    if (verify) {
        stream.set_verify_callback(http::TlsHostVerifier(host, ip));
    }
    return {};
}

std::string describe_tls_failure(const boost::system::error_code& ec,
                                 RedisTlsStream& stream,
                                 const std::string& host,
                                 bool verify) {
    std::string reason = "TLS handshake failed: " + ec.message();
    if (!verify) {
        return reason;  // the verify result is computed anyway, but it did not fail anything
    }
    const long verify_result = SSL_get_verify_result(stream.native_handle());
    if (verify_result != X509_V_OK) {
        reason += " (" + std::string(X509_verify_cert_error_string(verify_result));
        if (verify_result == X509_V_ERR_HOSTNAME_MISMATCH ||
            verify_result == X509_V_ERR_IP_ADDRESS_MISMATCH) {
            reason += ": the certificate is not for '" + host + "'";
        }
        reason += ")";
    }
    return reason;
}

}  // namespace ragd::cache
