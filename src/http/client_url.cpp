// URL parsing is deliberately narrow: the client only needs scheme, host, port and a path prefix
// of a configured base URL, and error messages must never echo credentials.
#include "http/client_url.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>

#include "core/text.hpp"
#include "http/message.hpp"

namespace ragd::http {

namespace {

core::Error invalid(std::string_view shown, std::string_view reason) {
    return core::fail(core::ErrorCode::kInvalidArgument,
                      "URL \"" + std::string(shown) + "\": " + std::string(reason));
}

/// The URL with any "user:pass@" replaced by "***@", for messages.
std::string redact(std::string_view text) {
    const std::size_t scheme_end = text.find("://");
    const std::size_t authority_begin = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
    const std::size_t authority_end = text.find_first_of("/?#", authority_begin);
    const std::string_view authority =
        text.substr(authority_begin, authority_end - authority_begin);
    const std::size_t at = authority.rfind('@');
    if (at == std::string_view::npos) {
        return std::string(text);
    }
    return std::string(text.substr(0, authority_begin)) + "***@" +
           std::string(text.substr(authority_begin + at + 1));
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
        return static_cast<char>(std::tolower(c));
    });
    return out;
}

bool is_host_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' || c == '_';
}

std::optional<std::string> env_pair(const EnvLookup& env,
                                    const char* lower_name,
                                    const char* upper_name) {
    // curl prefers the lower-case spelling.
    auto value = env(lower_name);
    if (!value || value->empty()) {
        value = env(upper_name);
    }
    if (value && value->empty()) {
        return std::nullopt;
    }
    return value;
}

}  // namespace

std::string UpstreamUrl::authority() const {
    const bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string UpstreamUrl::host_header() const {
    const bool v6 = host.find(':') != std::string::npos;
    std::string out = v6 ? "[" + host + "]" : host;
    if (port != (https ? 443 : 80)) {
        out += ":" + std::to_string(port);
    }
    return out;
}

core::Result<UpstreamUrl> parse_upstream_url(std::string_view text) {
    const std::string shown = redact(text);
    for (const char c : text) {
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
            return invalid(shown, "contains a space or control character");
        }
    }
    UpstreamUrl url;
    const std::size_t scheme_end = text.find("://");
    if (scheme_end == std::string_view::npos) {
        return invalid(shown, "has no scheme (expected http:// or https://)");
    }
    const std::string_view scheme = text.substr(0, scheme_end);
    if (iequals(scheme, "https")) {
        url.https = true;
    } else if (!iequals(scheme, "http")) {
        return invalid(shown, "scheme \"" + std::string(scheme) + "\" is not http or https");
    }
    std::string_view rest = text.substr(scheme_end + 3);
    const std::size_t authority_end = rest.find_first_of("/?#");
    std::string_view authority = rest.substr(0, authority_end);
    std::string_view path =
        authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
    if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
        url.userinfo = std::string(authority.substr(0, at));
        authority.remove_prefix(at + 1);
    }
    std::string_view host;
    std::string_view port_text;
    if (!authority.empty() && authority.front() == '[') {
        const std::size_t close = authority.find(']');
        if (close == std::string_view::npos) {
            return invalid(shown, "IPv6 host has no closing ']'");
        }
        host = authority.substr(1, close - 1);
        const std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                return invalid(shown, "unexpected text after the IPv6 host");
            }
            port_text = after.substr(1);
        }
        if (host.empty() || !std::all_of(host.begin(), host.end(), [](char c) {
                return std::isxdigit(static_cast<unsigned char>(c)) != 0 || c == ':' || c == '.';
            })) {
            return invalid(shown, "IPv6 host is malformed");
        }
    } else {
        const std::size_t colon = authority.find(':');
        host = authority.substr(0, colon);
        if (colon != std::string_view::npos) {
            port_text = authority.substr(colon + 1);
        }
        if (host.empty()) {
            return invalid(shown, "has no host");
        }
        if (!std::all_of(host.begin(), host.end(), is_host_char)) {
            return invalid(shown, "host contains characters other than letters, digits, '-._'");
        }
    }
    url.host = lower(host);
    url.port = url.https ? 443 : 80;
    if (authority.find(':') != std::string_view::npos && port_text.empty() &&
        authority.front() != '[') {
        return invalid(shown, "port is empty");
    }
    if (!port_text.empty()) {
        unsigned port = 0;
        const auto [end, error] =
            std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
        if (error != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
            port > 65535) {
            return invalid(
                shown, "port \"" + std::string(port_text) + "\" is not a number from 1 to 65535");
        }
        url.port = static_cast<std::uint16_t>(port);
    }
    if (path.find_first_of("?#") != std::string_view::npos) {
        return invalid(shown, "a base URL cannot have a query or fragment");
    }
    while (!path.empty() && path.back() == '/') {
        path.remove_suffix(1);
    }
    url.path_prefix = std::string(path);
    return url;
}

std::optional<std::string> process_env(const char* name) {
    const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read-only use
    if (value == nullptr) {
        return std::nullopt;
    }
    return std::string(value);
}

bool no_proxy_matches(std::string_view no_proxy, std::string_view host, std::uint16_t port) {
    while (!no_proxy.empty()) {
        const std::size_t comma = no_proxy.find(',');
        std::string_view entry = core::trim_whitespace(no_proxy.substr(0, comma));
        no_proxy =
            comma == std::string_view::npos ? std::string_view() : no_proxy.substr(comma + 1);
        if (entry.empty()) {
            continue;
        }
        if (entry == "*") {
            return true;
        }
        std::string_view entry_host = entry;
        std::optional<unsigned> entry_port;
        if (entry.front() == '[') {
            const std::size_t close = entry.find(']');
            if (close == std::string_view::npos) {
                continue;
            }
            entry_host = entry.substr(1, close - 1);
            if (close + 1 < entry.size() && entry[close + 1] == ':') {
                unsigned parsed = 0;
                const std::string_view text = entry.substr(close + 2);
                std::from_chars(text.data(), text.data() + text.size(), parsed);
                entry_port = parsed;
            }
        } else if (const std::size_t colon = entry.find(':');
                   colon != std::string_view::npos && entry.find(':', colon + 1) == entry.npos) {
            unsigned parsed = 0;
            const std::string_view text = entry.substr(colon + 1);
            std::from_chars(text.data(), text.data() + text.size(), parsed);
            entry_port = parsed;
            entry_host = entry.substr(0, colon);
        }
        if (entry_port && *entry_port != port) {
            continue;
        }
        while (!entry_host.empty() && entry_host.front() == '.') {
            entry_host.remove_prefix(1);
        }
        if (entry_host.empty()) {
            continue;
        }
        if (iequals(host, entry_host)) {
            return true;
        }
        if (host.size() > entry_host.size() &&
            iequals(host.substr(host.size() - entry_host.size()), entry_host) &&
            host[host.size() - entry_host.size() - 1] == '.') {
            return true;
        }
    }
    return false;
}

core::Result<std::optional<UpstreamUrl>> select_proxy(const UpstreamUrl& target,
                                                      std::string_view proxy_option,
                                                      const EnvLookup& env) {
    std::optional<std::string> proxy_text;
    if (iequals(proxy_option, "none")) {
        return std::optional<UpstreamUrl>();
    }
    if (!proxy_option.empty()) {
        proxy_text = std::string(proxy_option);
    } else {
        proxy_text = target.https ? env_pair(env, "https_proxy", "HTTPS_PROXY")
                                  : env_pair(env, "http_proxy", "HTTP_PROXY");
        if (!proxy_text) {
            return std::optional<UpstreamUrl>();
        }
        const auto no_proxy = env_pair(env, "no_proxy", "NO_PROXY");
        if (no_proxy && no_proxy_matches(*no_proxy, target.host, target.port)) {
            return std::optional<UpstreamUrl>();
        }
    }
    // Environment proxies are often written without a scheme ("proxy:3128").
    if (proxy_text->find("://") == std::string::npos) {
        proxy_text = "http://" + *proxy_text;
    }
    auto proxy = parse_upstream_url(*proxy_text);
    if (!proxy) {
        return core::fail(core::ErrorCode::kInvalidArgument, "proxy " + proxy.error().detail);
    }
    if (proxy->https) {
        return core::fail(
            core::ErrorCode::kInvalidArgument,
            "proxy URL \"" + redact(*proxy_text) + "\": only http:// proxies are supported");
    }
    return std::optional<UpstreamUrl>(std::move(*proxy));
}

std::string basic_credentials(std::string_view userinfo) {
    static constexpr std::string_view kAlphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const std::string plain = percent_decode(userinfo).value_or(std::string(userinfo));
    std::string out;
    out.reserve((plain.size() + 2) / 3 * 4);
    std::size_t idx = 0;
    for (; idx + 2 < plain.size(); idx += 3) {
        const auto triple =
            (static_cast<unsigned>(static_cast<unsigned char>(plain[idx])) << 16U) |
            (static_cast<unsigned>(static_cast<unsigned char>(plain[idx + 1])) << 8U) |
            static_cast<unsigned>(static_cast<unsigned char>(plain[idx + 2]));
        out += kAlphabet[(triple >> 18U) & 63U];
        out += kAlphabet[(triple >> 12U) & 63U];
        out += kAlphabet[(triple >> 6U) & 63U];
        out += kAlphabet[triple & 63U];
    }
    if (idx < plain.size()) {
        unsigned triple = static_cast<unsigned>(static_cast<unsigned char>(plain[idx])) << 16U;
        const bool two = idx + 1 < plain.size();
        if (two) {
            triple |= static_cast<unsigned>(static_cast<unsigned char>(plain[idx + 1])) << 8U;
        }
        out += kAlphabet[(triple >> 18U) & 63U];
        out += kAlphabet[(triple >> 12U) & 63U];
        out += two ? kAlphabet[(triple >> 6U) & 63U] : '=';
        out += '=';
    }
    return out;
}

}  // namespace ragd::http
