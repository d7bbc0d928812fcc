// Upstream and proxy URLs for the HTTP client, and the choice of proxy from the environment
// (HTTPS_PROXY / HTTP_PROXY / NO_PROXY, as curl reads them). No I/O; used by client.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace ragd::http {

/// "http[s]://[user:pass@]host[:port][/path]" split into its parts.
struct UpstreamUrl {
    bool https = false;
    std::string host;  ///< without brackets for IPv6 ("::1"), lower-cased
    std::uint16_t port = 0;
    std::string path_prefix;  ///< "" or "/openai/v1" (no trailing '/'), prepended to targets
    std::string userinfo;     ///< "user:pass" as written (percent-encoded), or ""

    /// "host:port" for CONNECT and Host headers ("[::1]:8080" for IPv6).
    std::string authority() const;
    /// The Host header value: the port only when it is not the scheme's default.
    std::string host_header() const;
};

/// kInvalidArgument names the URL's problem; the message includes the URL without userinfo.
core::Result<UpstreamUrl> parse_upstream_url(std::string_view text);

/// Reads an environment variable; empty optional when unset. Injected for tests.
using EnvLookup = std::function<std::optional<std::string>(const char* name)>;

/// The process environment.
std::optional<std::string> process_env(const char* name);

/// The proxy to use for `target`: from `proxy_option` when it is a URL, none when it is "none",
/// else (empty) from https_proxy/HTTPS_PROXY (https targets) or http_proxy/HTTP_PROXY (http
/// targets), unless no_proxy/NO_PROXY matches the target host. Only http:// proxies are
/// supported; kInvalidArgument otherwise.
core::Result<std::optional<UpstreamUrl>> select_proxy(const UpstreamUrl& target,
                                                      std::string_view proxy_option,
                                                      const EnvLookup& env);

/// NO_PROXY matching as curl does it: comma-separated entries; "*" matches every host; an
/// entry matches the host itself and its subdomains (a leading '.' is ignored); "host:port"
/// entries match that port only; IP addresses match exactly (no CIDR ranges).
bool no_proxy_matches(std::string_view no_proxy, std::string_view host, std::uint16_t port);

/// Base64 of "user:pass" after percent-decoding, for Proxy-Authorization: Basic.
std::string basic_credentials(std::string_view userinfo);

}  // namespace ragd::http
