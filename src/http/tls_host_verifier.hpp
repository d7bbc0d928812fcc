// The peer-name check for outbound TLS (HTTP upstreams, rediss://), shared so both report a
// mismatch the same way.
#pragma once

#include <string>
#include <utility>

#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/verify_context.hpp>
#include <openssl/x509_vfy.h>

namespace ragd::http {

/// Host name verification that records a mismatch as X509_V_ERR_HOSTNAME_MISMATCH (or the IP
/// address one), so the handshake error can say why: host_name_verification alone leaves the
/// verify result at "ok" and the handshake error at a bare "certificate verify failed".
class TlsHostVerifier {
public:
    TlsHostVerifier(std::string host, bool is_ip) : check_(std::move(host)), is_ip_(is_ip) {}
    bool operator()(bool preverified, boost::asio::ssl::verify_context& context) const {
        const bool ok = check_(preverified, context);
        if (preverified && !ok) {
            X509_STORE_CTX_set_error(
                context.native_handle(),
                is_ip_ ? X509_V_ERR_IP_ADDRESS_MISMATCH : X509_V_ERR_HOSTNAME_MISMATCH);
        }
        return ok;
    }

private:
    boost::asio::ssl::host_name_verification check_;
    bool is_ip_;
};

}  // namespace ragd::http
