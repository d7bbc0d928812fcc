// Internal to http/: turns a parsed request head into a Request and decides, before any body is
// read, whether the server answers it itself (400/404/405/411/413/415). Its own file so that the
// request fuzzer (tests/fuzz/fuzz_http_request.cpp) exercises exactly what the server runs.
#pragma once

#include <optional>

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "http/message.hpp"
#include "http/router.hpp"

namespace ragd::http::detail {

using Parser = boost::beast::http::request_parser<boost::beast::http::string_body>;

struct HeadCheck {
    std::optional<Response> reject;  ///< answer this instead of running a handler
    RouteMatch match;
};

/// Fills `request` (method, target, path, query, headers) from the parsed head of `parser` and
/// matches it against `router`. `reject` is set when the server must answer without a handler.
HeadCheck check_head(const Parser& parser, const Router& router, Request& request);

}  // namespace ragd::http::detail
