// TLS for the Redis client (rediss://): the context a RedisClient shares between its
// connections, what each connection sets before its handshake, and the words for a handshake
// that failed. Only redis_client.cpp includes it, so the OpenSSL headers stay out of the rest.
#pragma once

#include <memory>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/system/error_code.hpp>

#include "core/error.hpp"

namespace ragd::cache {

/// TLS over a socket that the connection owns: closing that socket (a deadline does) ends a
/// pending TLS operation exactly as it ends a plain one, and the stream object stays valid.
using RedisTlsStream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>;

/// TLS 1.2 or later, trusting the system store plus `ca_file` (when not ""), verifying the
/// peer's chain when `verify`. kInvalidArgument naming `ca_file` when it is not a readable PEM
/// bundle (report it at startup). The context is thread-safe to share between connections.
core::Result<std::shared_ptr<boost::asio::ssl::context>> make_redis_tls_context(
    const std::string& ca_file, bool verify);

/// Before the handshake: SNI for a host name (never for an address, RFC 6066) and, when
/// `verify`, the check that the certificate names `host` (a DNS name or an IP address SAN).
/// kInternal when OpenSSL refuses the name.
core::Result<void> prepare_redis_tls(RedisTlsStream& stream, const std::string& host, bool verify);

/// "TLS handshake failed: <OpenSSL's reason>", plus, when `verify` and the chain or the name
/// did not verify, why (e.g. "(unable to get local issuer certificate)" or "(hostname mismatch:
/// the certificate is not for 'redis.internal')"). Names no secret.
std::string describe_tls_failure(const boost::system::error_code& ec,
                                 RedisTlsStream& stream,
                                 const std::string& host,
                                 bool verify);

}  // namespace ragd::cache
