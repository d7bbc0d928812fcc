// Route matching on the raw path: segments are split before percent-decoding, so an encoded '/'
// inside an id ("a%2Fb") stays one segment; only captures are decoded afterwards.
#include "http/router.hpp"

#include <algorithm>
#include <stdexcept>

namespace ragd::http {

namespace {

/// "/a/b" -> {"a", "b"}; "/" -> {""}. The caller has checked the leading '/'.
std::vector<std::string_view> split_path(std::string_view path) {
    std::vector<std::string_view> parts;
    path.remove_prefix(1);
    for (;;) {
        const std::size_t slash = path.find('/');
        parts.push_back(path.substr(0, slash));
        if (slash == std::string_view::npos) {
            break;
        }
        path.remove_prefix(slash + 1);
    }
    return parts;
}

}  // namespace

void Router::add(Method method, std::string pattern, Handler handler, RouteOptions options) {
    Route route;
    route.method = method;
    route.pattern = std::move(pattern);
    route.handler = std::move(handler);
    route.options = options;
    add_route(std::move(route));
}

void Router::add_async(Method method,
                       std::string pattern,
                       AsyncHandler handler,
                       RouteOptions options) {
    Route route;
    route.method = method;
    route.pattern = std::move(pattern);
    route.async_handler = std::move(handler);
    route.options = options;
    add_route(std::move(route));
}

void Router::add_route(Route route) {
    const Method method = route.method;
    const std::string& pattern = route.pattern;
    if (pattern.empty() || pattern.front() != '/') {
        throw std::invalid_argument("route pattern \"" + pattern + "\" must start with '/'");
    }
    std::vector<Segment> segments;
    for (std::string_view part : split_path(pattern)) {
        const bool opens = part.find('{') != std::string_view::npos;
        const bool closes = part.find('}') != std::string_view::npos;
        if (!opens && !closes) {
            segments.push_back(Segment{std::string(part), false});
            continue;
        }
        if (part.size() < 3 || part.front() != '{' || part.back() != '}' ||
            part.find_first_of("{}", 1) != part.size() - 1) {
            throw std::invalid_argument("route pattern \"" + pattern +
                                        "\": a capture must be a whole segment \"{name}\"");
        }
        segments.push_back(Segment{std::string(part.substr(1, part.size() - 2)), true});
    }
    for (const Route& existing : routes_) {
        if (existing.method == method && existing.pattern == pattern) {
            throw std::invalid_argument(std::string("route ") + method_name(method) + " " +
                                        pattern + " is registered twice");
        }
    }
    routes_.push_back(std::move(route));
    segments_.push_back(std::move(segments));
}

RouteMatch Router::match(Method method, std::string_view raw_path) const {
    RouteMatch result;
    if (raw_path.empty() || raw_path.front() != '/') {
        return result;
    }
    const std::vector<std::string_view> parts = split_path(raw_path);

    // Specificity: the literal/capture shape of the best match so far; literals rank higher,
    // compared left to right, so the order of add() calls does not decide overlaps.
    std::vector<bool> best_shape;
    const Route* best = nullptr;
    std::map<std::string, std::string> best_params;
    int best_method_rank = 0;  // 2: exact method, 1: GET serving a HEAD

    for (std::size_t route_idx = 0; route_idx < routes_.size(); ++route_idx) {
        const std::vector<Segment>& segments = segments_[route_idx];
        if (segments.size() != parts.size()) {
            continue;
        }
        std::map<std::string, std::string> params;
        std::vector<bool> shape;
        bool matched = true;
        for (std::size_t seg_idx = 0; seg_idx < segments.size() && matched; ++seg_idx) {
            const Segment& segment = segments[seg_idx];
            shape.push_back(!segment.capture);
            if (!segment.capture) {
                matched = segment.text == parts[seg_idx];
                continue;
            }
            std::optional<std::string> decoded = percent_decode(parts[seg_idx]);
            matched = decoded.has_value() && !decoded->empty();
            if (matched) {
                params[segment.text] = std::move(*decoded);
            }
        }
        if (!matched) {
            continue;
        }

        const Route& route = routes_[route_idx];
        int method_rank = 0;
        if (route.method == method) {
            method_rank = 2;
        } else if (method == Method::kHead && route.method == Method::kGet) {
            method_rank = 1;
        }
        if (method_rank == 0) {
            if (std::find(result.allowed.begin(), result.allowed.end(), route.method) ==
                result.allowed.end()) {
                result.allowed.push_back(route.method);
            }
            continue;
        }
        const bool better = best == nullptr || shape > best_shape ||
                            (shape == best_shape && method_rank > best_method_rank);
        if (better) {
            best = &route;
            best_shape = std::move(shape);
            best_params = std::move(params);
            best_method_rank = method_rank;
        }
    }

    if (best != nullptr) {
        result.route = best;
        result.params = std::move(best_params);
        result.allowed.clear();
        return result;
    }
    // A GET route also answers HEAD, so 405's Allow says so.
    const bool has_get = std::find(result.allowed.begin(), result.allowed.end(), Method::kGet) !=
                         result.allowed.end();
    const bool has_head = std::find(result.allowed.begin(), result.allowed.end(), Method::kHead) !=
                          result.allowed.end();
    if (has_get && !has_head) {
        result.allowed.push_back(Method::kHead);
    }
    return result;
}

}  // namespace ragd::http
