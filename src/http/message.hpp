// ragd's own small HTTP request/response types, so that no header outside http/ includes Beast.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ragd::http {

enum class Method { kGet, kHead, kPost, kPut, kDelete, kPatch, kOptions, kOther };

const char* method_name(Method method);

struct Header {
    std::string name;
    std::string value;
};

struct Request {
    Method method = Method::kGet;
    std::string target;  ///< raw request target, e.g. "/v1/documents/a%2Fb?x=1"
    std::string path;    ///< percent-decoded path without the query, e.g. "/v1/documents/a/b"
    std::string query;   ///< raw query string after '?', may be empty
    std::vector<Header> headers;
    std::string body;
    std::string remote_address;                      ///< client IP
    std::map<std::string, std::string> path_params;  ///< from the route pattern, decoded
    /// The client's X-Request-Id when it is valid (1-128 of [A-Za-z0-9._:-]), else generated
    /// (16 hex digits); echoed in the response's X-Request-Id header.
    std::string request_id;
    /// W3C trace context: the trace this request belongs to (the caller's when it sent a valid
    /// traceparent, else new), and the traceparent/tracestate to forward upstream, which name
    /// ragd's own span as the parent.
    std::string trace_id;
    std::string traceparent;
    std::string tracestate;

    /// First header with this name (case-insensitive), or nullopt.
    std::optional<std::string_view> header(std::string_view name) const;
};

struct Response {
    int status = 200;
    std::string content_type = "application/json";
    std::vector<Header> headers;  ///< extra headers (Content-Type/Length are set by the server)
    std::string body;

    static Response json(int status, std::string body);
    /// `{"error": {"type": type, "message": message}}` with the given status.
    static Response error(int status, std::string_view type, std::string_view message);
};

/// True when `id` may be used as a request id: 1 to 128 characters of [A-Za-z0-9._:-] (so it is
/// safe to log and to forward upstream as-is).
bool is_valid_request_id(std::string_view id);

/// A fresh random request id: 16 lower-case hex digits.
std::string generate_request_id();

/// Decodes %XX escapes; nullopt on a malformed escape. '+' is left alone (paths, not forms).
std::optional<std::string> percent_decode(std::string_view text);

}  // namespace ragd::http
