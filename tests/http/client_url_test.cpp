// Base-URL parsing and proxy selection for the HTTP client (no sockets).
#include "http/client_url.hpp"

#include <map>

#include <gtest/gtest.h>

namespace ragd::http {
namespace {

EnvLookup env_of(std::map<std::string, std::string> values) {
    return [values = std::move(values)](const char* name) -> std::optional<std::string> {
        const auto found = values.find(name);
        if (found == values.end()) {
            return std::nullopt;
        }
        return found->second;
    };
}

TEST(UpstreamUrl, ParsesSchemeHostPortAndPrefix) {
    auto url = parse_upstream_url("https://API.OpenAI.com/openai/v1/");
    ASSERT_TRUE(url) << url.error().detail;
    EXPECT_TRUE(url->https);
    EXPECT_EQ(url->host, "api.openai.com");
    EXPECT_EQ(url->port, 443);
    EXPECT_EQ(url->path_prefix, "/openai/v1");
    EXPECT_EQ(url->host_header(), "api.openai.com");
    EXPECT_EQ(url->authority(), "api.openai.com:443");

    url = parse_upstream_url("http://127.0.0.1:8081");
    ASSERT_TRUE(url);
    EXPECT_FALSE(url->https);
    EXPECT_EQ(url->port, 8081);
    EXPECT_EQ(url->path_prefix, "");
    EXPECT_EQ(url->host_header(), "127.0.0.1:8081");

    url = parse_upstream_url("http://user:p%40ss@[::1]:3128");
    ASSERT_TRUE(url);
    EXPECT_EQ(url->host, "::1");
    EXPECT_EQ(url->port, 3128);
    EXPECT_EQ(url->userinfo, "user:p%40ss");
    EXPECT_EQ(url->authority(), "[::1]:3128");
}

TEST(UpstreamUrl, RejectsMalformedUrlsWithoutEchoingCredentials) {
    for (const char* bad : {"",
                            "api.openai.com",
                            "ftp://host",
                            "http://",
                            "http://:80",
                            "http://host:0",
                            "http://host:65536",
                            "http://host:x",
                            "http://host:",
                            "http://ho st",
                            "http://host/a?b=1",
                            "http://[::1",
                            "http://a_b!c"}) {
        EXPECT_FALSE(parse_upstream_url(bad)) << bad;
    }
    const auto error = parse_upstream_url("http://user:secret@host:99999");
    ASSERT_FALSE(error);
    EXPECT_EQ(error.error().detail.find("secret"), std::string::npos) << error.error().detail;
}

TEST(SelectProxy, ExplicitNoneAndEnvironment) {
    const auto https_target = *parse_upstream_url("https://api.example.com");
    const auto http_target = *parse_upstream_url("http://10.0.0.5:8081");
    const auto env = env_of({{"HTTPS_PROXY", "proxy.corp:3128"},
                             {"http_proxy", "http://plain.corp:80"},
                             {"NO_PROXY", "localhost, .internal.example,10.0.0.5"}});

    auto proxy = select_proxy(https_target, "", env);
    ASSERT_TRUE(proxy);
    ASSERT_TRUE(*proxy);
    EXPECT_EQ((*proxy)->host, "proxy.corp");
    EXPECT_EQ((*proxy)->port, 3128);

    proxy = select_proxy(http_target, "", env);  // NO_PROXY lists the address
    ASSERT_TRUE(proxy);
    EXPECT_FALSE(*proxy);

    proxy = select_proxy(https_target, "none", env);
    ASSERT_TRUE(proxy);
    EXPECT_FALSE(*proxy);

    proxy = select_proxy(https_target, "http://explicit:8080", env_of({}));
    ASSERT_TRUE(proxy);
    ASSERT_TRUE(*proxy);
    EXPECT_EQ((*proxy)->host, "explicit");

    proxy = select_proxy(https_target, "", env_of({}));
    ASSERT_TRUE(proxy);
    EXPECT_FALSE(*proxy);

    EXPECT_FALSE(select_proxy(https_target, "https://tls-proxy:443", env_of({})));
    EXPECT_FALSE(select_proxy(https_target, "", env_of({{"https_proxy", "http://bad host"}})));
}

TEST(SelectProxy, LowerCaseVariablesWin) {
    const auto target = *parse_upstream_url("https://api.example.com");
    const auto proxy =
        select_proxy(target, "", env_of({{"https_proxy", "lower:1"}, {"HTTPS_PROXY", "upper:2"}}));
    ASSERT_TRUE(proxy && *proxy);
    EXPECT_EQ((*proxy)->host, "lower");
}

TEST(NoProxy, MatchesHostsSuffixesPortsAndWildcard) {
    EXPECT_TRUE(no_proxy_matches("*", "anything", 443));
    EXPECT_TRUE(no_proxy_matches("example.com", "example.com", 443));
    EXPECT_TRUE(no_proxy_matches("example.com", "api.example.com", 443));
    EXPECT_TRUE(no_proxy_matches(".example.com", "api.example.com", 443));
    EXPECT_TRUE(no_proxy_matches(".example.com", "example.com", 443));
    EXPECT_FALSE(no_proxy_matches("example.com", "badexample.com", 443));
    EXPECT_TRUE(no_proxy_matches("a, b ,EXAMPLE.com", "example.com", 443));
    EXPECT_TRUE(no_proxy_matches("example.com:443", "example.com", 443));
    EXPECT_FALSE(no_proxy_matches("example.com:8443", "example.com", 443));
    EXPECT_TRUE(no_proxy_matches("127.0.0.1", "127.0.0.1", 80));
    EXPECT_TRUE(no_proxy_matches("[::1]:80", "::1", 80));
    EXPECT_TRUE(no_proxy_matches("::1", "::1", 80));
    EXPECT_FALSE(no_proxy_matches("", "example.com", 443));
}

TEST(BasicCredentials, PercentDecodesThenEncodesBase64) {
    EXPECT_EQ(basic_credentials("Aladdin:open%20sesame"), "QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    EXPECT_EQ(basic_credentials("a:b"), "YTpi");
    EXPECT_EQ(basic_credentials("ab:c"), "YWI6Yw==");
    EXPECT_EQ(basic_credentials("abc:de"), "YWJjOmRl");
}

}  // namespace
}  // namespace ragd::http
