// Router matching and the message helpers, without sockets.
#include "http/router.hpp"

#include <stdexcept>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "core/utf8.hpp"
#include "http/message.hpp"

namespace ragd::http {
namespace {

Handler named(std::string name) {
    return [name](const Request&) {
        return Response::json(200, name);
    };
}

std::string call(const RouteMatch& match) {
    return match.route == nullptr ? "<none>" : match.route->handler(Request{}).body;
}

TEST(Router, MatchesLiteralsAndCaptures) {
    Router router;
    router.add(Method::kGet, "/health", named("health"));
    router.add(Method::kGet, "/v1/documents/{id}", named("get_doc"));
    router.add(Method::kDelete, "/v1/documents/{id}", named("delete_doc"));
    router.add(Method::kGet, "/v1/collections/{coll}/documents/{id}", named("nested"));

    EXPECT_EQ(call(router.match(Method::kGet, "/health")), "health");
    const RouteMatch doc = router.match(Method::kGet, "/v1/documents/abc");
    EXPECT_EQ(call(doc), "get_doc");
    EXPECT_EQ(doc.params.at("id"), "abc");
    EXPECT_EQ(call(router.match(Method::kDelete, "/v1/documents/abc")), "delete_doc");
    const RouteMatch nested = router.match(Method::kGet, "/v1/collections/c1/documents/d2");
    EXPECT_EQ(nested.params.at("coll"), "c1");
    EXPECT_EQ(nested.params.at("id"), "d2");
}

TEST(Router, CapturesArePercentDecodedAfterSplitting) {
    Router router;
    router.add(Method::kGet, "/v1/documents/{id}", named("get_doc"));
    const RouteMatch match = router.match(Method::kGet, "/v1/documents/a%2Fb%20c");
    ASSERT_NE(match.route, nullptr);
    EXPECT_EQ(match.params.at("id"), "a/b c");
    // A raw '/' is a separator, so it does not match a one-segment capture.
    EXPECT_EQ(router.match(Method::kGet, "/v1/documents/a/b").route, nullptr);
    // A malformed escape or an empty capture matches nothing.
    EXPECT_EQ(router.match(Method::kGet, "/v1/documents/a%2").route, nullptr);
    EXPECT_EQ(router.match(Method::kGet, "/v1/documents/").route, nullptr);
}

TEST(Router, NoMatchOrWrongMethod) {
    Router router;
    router.add(Method::kGet, "/v1/documents/{id}", named("get_doc"));
    router.add(Method::kDelete, "/v1/documents/{id}", named("delete_doc"));
    router.add(Method::kPost, "/v1/query", named("query"));

    const RouteMatch missing = router.match(Method::kGet, "/nope");
    EXPECT_EQ(missing.route, nullptr);
    EXPECT_TRUE(missing.allowed.empty());

    const RouteMatch wrong = router.match(Method::kPut, "/v1/documents/x");
    EXPECT_EQ(wrong.route, nullptr);
    EXPECT_EQ(wrong.allowed, (std::vector<Method>{Method::kGet, Method::kDelete, Method::kHead}));

    const RouteMatch get_query = router.match(Method::kGet, "/v1/query");
    EXPECT_EQ(get_query.allowed, std::vector<Method>{Method::kPost});
    EXPECT_EQ(router.match(Method::kGet, "relative").route, nullptr);
    EXPECT_EQ(router.match(Method::kGet, "").route, nullptr);
}

TEST(Router, HeadFallsBackToGetButPrefersHeadRoute) {
    Router router;
    router.add(Method::kGet, "/a", named("get_a"));
    router.add(Method::kGet, "/b", named("get_b"));
    router.add(Method::kHead, "/b", named("head_b"));
    EXPECT_EQ(call(router.match(Method::kHead, "/a")), "get_a");
    EXPECT_EQ(call(router.match(Method::kHead, "/b")), "head_b");
}

TEST(Router, LiteralBeatsCaptureWhateverTheOrder) {
    Router router;
    router.add(Method::kGet, "/v1/documents/{id}", named("get_doc"));
    router.add(Method::kGet, "/v1/documents/stats", named("stats"));
    EXPECT_EQ(call(router.match(Method::kGet, "/v1/documents/stats")), "stats");
    EXPECT_EQ(call(router.match(Method::kGet, "/v1/documents/other")), "get_doc");
}

TEST(Router, RootAndTrailingSlashAreDistinct) {
    Router router;
    router.add(Method::kGet, "/", named("root"));
    router.add(Method::kGet, "/a", named("a"));
    EXPECT_EQ(call(router.match(Method::kGet, "/")), "root");
    EXPECT_EQ(router.match(Method::kGet, "/a/").route, nullptr);
}

TEST(Router, RejectsMalformedPatternsAndDuplicates) {
    Router router;
    EXPECT_THROW(router.add(Method::kGet, "no-slash", named("x")), std::invalid_argument);
    EXPECT_THROW(router.add(Method::kGet, "/a/{}", named("x")), std::invalid_argument);
    EXPECT_THROW(router.add(Method::kGet, "/a/x{id}", named("x")), std::invalid_argument);
    EXPECT_THROW(router.add(Method::kGet, "/a/{id", named("x")), std::invalid_argument);
    router.add(Method::kGet, "/a/{id}", named("x"));
    EXPECT_THROW(router.add(Method::kGet, "/a/{id}", named("y")), std::invalid_argument);
    EXPECT_NO_THROW(router.add(Method::kPost, "/a/{id}", named("y")));
}

TEST(Message, PercentDecode) {
    EXPECT_EQ(percent_decode("a%2Fb"), "a/b");
    EXPECT_EQ(percent_decode("%41%62c"), "Abc");
    EXPECT_EQ(percent_decode("a+b"), "a+b");
    EXPECT_EQ(percent_decode(""), "");
    EXPECT_EQ(percent_decode("%00"), std::string(1, '\0'));
    EXPECT_EQ(percent_decode("%"), std::nullopt);
    EXPECT_EQ(percent_decode("%4"), std::nullopt);
    EXPECT_EQ(percent_decode("%zz"), std::nullopt);
    EXPECT_EQ(percent_decode("ab%"), std::nullopt);
}

TEST(Message, HeaderLookupIsCaseInsensitive) {
    Request request;
    request.headers = {{"Content-Type", "application/json"}, {"X-A", "1"}, {"x-a", "2"}};
    EXPECT_EQ(request.header("content-type"), "application/json");
    EXPECT_EQ(request.header("X-A"), "1");
    EXPECT_EQ(request.header("missing"), std::nullopt);
}

TEST(Message, ErrorBodyIsEscapedJson) {
    const Response response = Response::error(400, "bad_request", "bad \"x\"\n\\ \x01");
    EXPECT_EQ(response.status, 400);
    EXPECT_EQ(response.content_type, "application/json");
    const boost::json::value parsed = boost::json::parse(response.body);
    EXPECT_EQ(parsed.at("error").at("type").as_string(), "bad_request");
    EXPECT_EQ(parsed.at("error").at("message").as_string(), "bad \"x\"\n\\ \x01");
}

TEST(Message, MethodNames) {
    EXPECT_STREQ(method_name(Method::kGet), "GET");
    EXPECT_STREQ(method_name(Method::kDelete), "DELETE");
    EXPECT_STREQ(method_name(Method::kOptions), "OPTIONS");
}

}  // namespace
}  // namespace ragd::http

namespace ragd::http {
namespace {

TEST(Utf8Repair, ErrorBodiesQuotingClientBytesAreValidJson) {
    // A 404 for /v1/documents/%FF%FE once echoed the raw bytes, making the body invalid UTF-8.
    const Response response = Response::error(404, "not_found", "no document with id '\xFF\xFE'");
    EXPECT_TRUE(core::is_valid_utf8(response.body));
    EXPECT_NE(response.body.find("\xEF\xBF\xBD"), std::string::npos);
}

}  // namespace
}  // namespace ragd::http
