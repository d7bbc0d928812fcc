// libFuzzer harness: arbitrary bytes through Beast's request_parser with ragd's default limits,
// then through the router and percent-decoding, as the server would (no sockets; cf. Beast's
// test/fuzz/http_request.cpp).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include "core/config.hpp"
#include "http/message.hpp"
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
    router.add(Method::kPost, "/v1/query", ok);
    router.add(Method::kGet, "/v1/collections/{coll}/documents/{id}", ok);
    return router;
}

Method to_method(bhttp::verb verb) {
    switch (verb) {
        case bhttp::verb::get:
            return Method::kGet;
        case bhttp::verb::head:
            return Method::kHead;
        case bhttp::verb::post:
            return Method::kPost;
        case bhttp::verb::put:
            return Method::kPut;
        case bhttp::verb::delete_:
            return Method::kDelete;
        default:
            return Method::kOther;
    }
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
        const std::string_view target = parser.get().target();
        const std::string_view raw_path = target.substr(0, target.find('?'));
        (void)ragd::http::percent_decode(raw_path);
        const auto match = router.match(to_method(parser.get().method()), raw_path);
        if (match.route != nullptr) {
            for (const auto& [name, value] : match.params) {
                (void)ragd::http::Response::error(404, "not_found", name + "=" + value);
            }
        }
        if (!parser.is_done()) {
            break;
        }
    }
    return 0;
}
