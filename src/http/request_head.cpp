// The request-head checks of the HTTP server (see request_head.hpp).
#include "http/request_head.hpp"

#include <cctype>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

namespace ragd::http::detail {

namespace bhttp = boost::beast::http;

namespace {

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
        case bhttp::verb::patch:
            return Method::kPatch;
        case bhttp::verb::options:
            return Method::kOptions;
        default:
            return Method::kOther;
    }
}

std::string allow_header(const std::vector<Method>& allowed) {
    std::string value;
    for (Method method : allowed) {
        if (!value.empty()) {
            value += ", ";
        }
        value += method_name(method);
    }
    return value;
}

/// "application/json" with optional parameters ("; charset=utf-8"), case-insensitive.
bool is_json_content_type(std::string_view value) {
    const std::size_t semicolon = value.find(';');
    std::string_view media = value.substr(0, semicolon);
    while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) {
        media.remove_suffix(1);
    }
    while (!media.empty() && (media.front() == ' ' || media.front() == '\t')) {
        media.remove_prefix(1);
    }
    constexpr std::string_view kJson = "application/json";
    if (media.size() != kJson.size()) {
        return false;
    }
    for (std::size_t char_idx = 0; char_idx < media.size(); ++char_idx) {
        if (std::tolower(static_cast<unsigned char>(media[char_idx])) != kJson[char_idx]) {
            return false;
        }
    }
    return true;
}

}  // namespace

HeadCheck check_head(const Parser& parser, const Router& router, Request& request) {
    HeadCheck check;
    const auto& head = parser.get();
    request.method = to_method(head.method());
    request.target = std::string(head.target());
    if (request.target.empty() || request.target.front() != '/') {
        check.reject = Response::error(
            400,
            "bad_request",
            "request target \"" + request.target + "\" is not an absolute path (origin-form)");
        return check;
    }
    const std::size_t question = request.target.find('?');
    const std::string_view raw_path = std::string_view(request.target).substr(0, question);
    if (question != std::string::npos) {
        request.query = request.target.substr(question + 1);
    }
    std::optional<std::string> path = percent_decode(raw_path);
    if (!path) {
        check.reject =
            Response::error(400,
                            "bad_request",
                            "malformed percent-escape in path \"" + std::string(raw_path) + "\"");
        return check;
    }
    request.path = std::move(*path);
    for (const auto& field : head) {
        request.headers.push_back(
            Header{std::string(field.name_string()), std::string(field.value())});
    }

    check.match = router.match(request.method, raw_path);
    const std::string method_and_path =
        std::string(head.method_string()) + " " + std::string(raw_path);
    if (check.match.route == nullptr) {
        if (check.match.allowed.empty()) {
            check.reject = Response::error(404, "not_found", "no route for " + method_and_path);
        } else {
            check.reject = Response::error(405,
                                           "method_not_allowed",
                                           "method " + std::string(head.method_string()) +
                                               " is not allowed on " + std::string(raw_path) +
                                               "; allowed: " + allow_header(check.match.allowed));
            check.reject->headers.push_back(Header{"Allow", allow_header(check.match.allowed)});
        }
        return check;
    }

    const RouteOptions& options = check.match.route->options;
    const auto content_length = parser.content_length();
    const bool chunked = parser.chunked();
    const bool writes = request.method == Method::kPost || request.method == Method::kPut;
    if (options.json_body && writes && !content_length && !chunked) {
        check.reject = Response::error(
            411, "length_required", method_and_path + " needs a Content-Length or a chunked body");
        return check;
    }
    if (content_length && *content_length > options.max_body_bytes) {
        check.reject = Response::error(
            413,
            "payload_too_large",
            "request body of " + std::to_string(*content_length) + " bytes exceeds the limit of " +
                std::to_string(options.max_body_bytes) + " bytes for " + method_and_path);
        return check;
    }
    const bool has_body = chunked || (content_length && *content_length > 0);
    if (options.json_body && has_body) {
        const auto content_type = head.find(bhttp::field::content_type);
        if (content_type == head.end() || !is_json_content_type(content_type->value())) {
            const std::string got =
                content_type == head.end()
                    ? std::string("no Content-Type")
                    : "Content-Type \"" + std::string(content_type->value()) + "\"";
            check.reject = Response::error(415,
                                           "unsupported_media_type",
                                           method_and_path + " takes application/json, got " + got);
        }
    }
    return check;
}

}  // namespace ragd::http::detail
