// Maps (method, path) to a handler. Patterns are literal segments and {name} captures of one
// path segment (captures are percent-decoded, so ids may contain an encoded '/').
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "http/async_handler.hpp"
#include "http/message.hpp"

namespace ragd::http {

using Handler = std::function<Response(const Request&)>;

/// Where a handler runs: inline on the I/O thread (only for trivial handlers such as /health),
/// or on the bounded compute pool (everything that touches indexes or storage).
enum class Dispatch { kInline, kCompute };

struct RouteOptions {
    Dispatch dispatch = Dispatch::kCompute;
    std::size_t max_body_bytes = 1024 * 1024;  ///< larger bodies get 413
    bool json_body = false;  ///< requests with a body must be Content-Type: application/json (415)
};

struct Route {
    Method method = Method::kGet;
    std::string pattern;
    Handler handler;             ///< a synchronous handler, or
    AsyncHandler async_handler;  ///< a coroutine (set exactly one of the two)
    RouteOptions options;
};

struct RouteMatch {
    const Route* route = nullptr;  ///< null when nothing matched
    std::map<std::string, std::string> params;
    std::vector<Method> allowed;  ///< when the path matched but not the method: for 405 + Allow
};

class Router {
public:
    /// Adds a route. `pattern` starts with '/'; a segment is a literal or a whole `{name}`.
    /// Throws std::invalid_argument for a malformed pattern or a duplicate (method, pattern):
    /// both are programming errors caught at startup.
    void add(Method method, std::string pattern, Handler handler, RouteOptions options = {});
    /// `path` is the raw (still percent-encoded) path, so an encoded '/' stays inside a segment.
    /// When several patterns match, the one with a literal segment earliest wins
    /// (`/v1/documents/stats` beats `/v1/documents/{id}`). HEAD falls back to the GET route.
    /// A capture whose percent-escapes are malformed does not match.
    /// Adds a coroutine route: it runs on the connection's strand (so `options.dispatch` does not
    /// apply), awaits what it needs and may stream; CPU work goes through run_compute().
    void add_async(Method method,
                   std::string pattern,
                   AsyncHandler handler,
                   RouteOptions options = {});
    RouteMatch match(Method method, std::string_view raw_path) const;
    const std::vector<Route>& routes() const { return routes_; }

private:
    void add_route(Route route);
    struct Segment {
        std::string text;  ///< literal text, or the capture's name
        bool capture = false;
    };
    std::vector<Route> routes_;
    std::vector<std::vector<Segment>> segments_;  ///< parallel to routes_
};

}  // namespace ragd::http
