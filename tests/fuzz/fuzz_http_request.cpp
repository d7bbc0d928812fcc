// libFuzzer harness: arbitrary bytes through Beast's request_parser with ragd's default limits,
// then through the server's own head checks (detail::check_head), as a connection would (no
// sockets; cf. Beast's test/fuzz/http_request.cpp).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include "core/config.hpp"
#include "http/message.hpp"
#include "http/request_head.hpp"
#include "http/router.hpp"

namespace {

namespace bhttp = boost::beast::http;
using ragd::http::Method;

ragd::http::Router make_router() {
    ragd::http::Router router;
    const auto ok = [](const ragd::http::Request&) {
        return ragd::http::Response::json(200, "{}");
    };
    router.add(Method::kGet, "/health", ok);
    router.add(Method::kGet, "/v1/documents/{id}", ok);
    router.add(Method::kDelete, "/v1/documents/{id}", ok);
    router.add(Method::kGet, "/v1/documents/stats", ok);
    ragd::http::RouteOptions json_route;
    json_route.json_body = true;  // reaches the 411, 413 and 415 checks
    json_route.max_body_bytes = 1024;
    router.add(Method::kPost, "/v1/query", ok, json_route);
    router.add(Method::kGet, "/v1/collections/{coll}/documents/{id}", ok);
    return router;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const ragd::http::Router router = make_router();
    static const ragd::core::ServerConfig config;

    // Several requests per input, as on a pipelined keep-alive connection.
    std::string_view input(reinterpret_cast<const char*>(data), size);
    for (int request_idx = 0; request_idx < 8 && !input.empty(); ++request_idx) {
        bhttp::request_parser<bhttp::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(config.max_header_bytes));
        parser.body_limit(config.max_query_body_bytes);
        parser.eager(true);
        boost::beast::error_code ec;
        const std::size_t used = parser.put(boost::asio::buffer(input.data(), input.size()), ec);
        if (ec || used == 0) {
            break;
        }
        input.remove_prefix(used);
        if (!parser.is_header_done()) {
            break;
        }
        // The server's own head checks: request construction, routing, 400/404/405/411/413/415.
        ragd::http::Request request;
        auto check = ragd::http::detail::check_head(parser, router, request);
        if (check.reject && (check.reject->status < 400 || check.reject->body.empty())) {
            __builtin_trap();  // a rejection must be a client error with a JSON body
        }
        if (!check.reject && check.match.route == nullptr) {
            __builtin_trap();  // accepted requests always have a route
        }
        if (!parser.is_done()) {
            break;
        }
    }
    return 0;
}
