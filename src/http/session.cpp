// One coroutine per connection: read head, match route, enforce limits, read body, run the
// handler (inline or on the compute pool), write, repeat. With request_head.cpp (parser headers
// only), the only TU besides asio_impl.cpp that includes Beast: Beast-heavy files cost ~30 s each
// to compile.
#include "http/session.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <optional>
#include <string>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "http/request_head.hpp"

namespace ragd::http::detail {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

namespace {

constexpr auto kNoThrow = net::as_tuple(net::use_awaitable);
/// Bytes asked for per read while waiting for the next request on an idle connection.
constexpr std::size_t kReadChunkBytes = 4096;
/// After an error response that leaves request bytes unread, read and discard this much
/// (for at most kLingerTime) before closing, so the client sees our response, not a reset.
constexpr std::size_t kLingerBytes = 256 * 1024;
constexpr std::chrono::milliseconds kLingerTime{500};

using BeastResponse = bhttp::response<bhttp::string_body>;

/// Counts one compute request from admission until the session has its response back (or its
/// frame is destroyed at shutdown), so the bound covers queued and running work.
class ComputeSlot {
public:
    explicit ComputeSlot(std::atomic<std::size_t>& counter) : counter_(&counter) {}
    ComputeSlot(const ComputeSlot&) = delete;
    ComputeSlot& operator=(const ComputeSlot&) = delete;
    ~ComputeSlot() { counter_->fetch_sub(1, std::memory_order_relaxed); }

private:
    std::atomic<std::size_t>* counter_;
};

/// Tells the observer about one request: started on construction, then done() once, or
/// abandoned when the frame ends first (peer gone mid-body, or the server shut down under it).
/// Everything is skipped when no observer is set.
class RequestReport {
public:
    explicit RequestReport(ServerObserver* observer) : observer_(observer) {
        if (observer_ != nullptr) {
            started_ = std::chrono::steady_clock::now();
            observer_->on_request_started();
        }
    }
    RequestReport(const RequestReport&) = delete;
    RequestReport& operator=(const RequestReport&) = delete;
    ~RequestReport() {
        if (observer_ != nullptr) {
            observer_->on_request_abandoned();
        }
    }

    /// Call right after the response's write finished (successfully or not).
    void done(std::string_view route_pattern, Method method, int status) {
        if (observer_ == nullptr) {
            return;
        }
        const std::chrono::duration<double> elapsed =
            std::chrono::steady_clock::now() - started_;
        observer_->on_request_done(route_pattern, method, status, elapsed.count());
        observer_ = nullptr;
    }

private:
    ServerObserver* observer_;
    std::chrono::steady_clock::time_point started_;
};

/// Reports a connection's end however its frame ends (including destruction at shutdown).
class ConnectionReport {
public:
    explicit ConnectionReport(ServerObserver* observer) : observer_(observer) {
        if (observer_ != nullptr) {
            observer_->on_connection_opened();
        }
    }
    ConnectionReport(const ConnectionReport&) = delete;
    ConnectionReport& operator=(const ConnectionReport&) = delete;
    ~ConnectionReport() {
        if (observer_ != nullptr) {
            observer_->on_connection_closed();
        }
    }

private:
    ServerObserver* observer_;
};

/// The status to_beast() actually sends.
int sent_status(int status) {
    return status >= 100 && status <= 999 ? status : 500;
}

/// The one place a handler's exception is caught: logged, answered 500, never rethrown.
Response invoke_handler(const Route& route, const Request& request) noexcept {
    try {
        return route.handler(request);
    } catch (const std::exception& error) {
        std::fprintf(stderr,
                     "ragd http: handler for %s %s threw: %s\n",
                     method_name(request.method),
                     route.pattern.c_str(),
                     error.what());
    } catch (...) {
        std::fprintf(stderr,
                     "ragd http: handler for %s %s threw a non-std exception\n",
                     method_name(request.method),
                     route.pattern.c_str());
    }
    try {
        return Response::error(500,
                               "internal",
                               std::string("internal error while handling ") +
                                   method_name(request.method) + " " + route.pattern);
    } catch (...) {
        Response fallback;
        fallback.status = 500;
        return fallback;
    }
}

/// Runs on the compute pool. Parameters by value: the frame owns them (GCC 12 trap).
net::awaitable<Response> run_handler(const Route* route, Request request) {
    co_return invoke_handler(*route, request);
}

BeastResponse to_beast(Response response, unsigned version, bool keep_alive, bool head_only) {
    BeastResponse out;
    out.version(version);
    const bool valid_status = response.status >= 100 && response.status <= 999;
    out.result(static_cast<unsigned>(valid_status ? response.status : 500));
    out.set(bhttp::field::server, "ragd");
    if (!response.content_type.empty()) {
        out.set(bhttp::field::content_type, response.content_type);
    }
    for (const Header& header : response.headers) {
        out.insert(header.name, header.value);
    }
    out.body() = std::move(response.body);
    out.keep_alive(keep_alive);
    out.prepare_payload();
    if (head_only) {
        // HEAD: the headers GET would send, including its Content-Length, and no body.
        const std::size_t length = out.body().size();
        out.body().clear();
        out.content_length(length);
    }
    return out;
}

/// The outcome of inspecting a request head, before any body byte is read.
/// Errors from the peer's bytes (as opposed to the socket): they deserve a 400.
bool is_malformed_request(const beast::error_code& ec) {
    return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
           ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message &&
           ec != bhttp::error::need_more && ec != bhttp::error::need_buffer;
}

/// Sends `response`. Returns false when the write failed (the session then ends).
net::awaitable<bool> write_response(beast::tcp_stream& stream,
                                    const core::ServerConfig& config,
                                    Response response,
                                    unsigned version,
                                    bool keep_alive,
                                    bool head_only,
                                    std::string request_id) {
    response.headers.push_back(Header{"X-Request-Id", std::move(request_id)});
    BeastResponse out = to_beast(std::move(response), version, keep_alive, head_only);
    stream.expires_after(config.body_timeout);
    auto [ec, bytes] = co_await bhttp::async_write(stream, out, kNoThrow);
    (void)bytes;
    co_return !ec;
}

/// Half-closes, then discards what the client is still sending for a moment: closing with
/// unread bytes makes the kernel send RST, which can destroy the response we just wrote.
net::awaitable<void> close_gracefully(beast::tcp_stream& stream) {
    beast::error_code ignored;
    stream.socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
    stream.expires_after(kLingerTime);
    std::array<char, 4096> sink{};
    std::size_t discarded = 0;
    while (discarded < kLingerBytes) {
        auto [ec, bytes] = co_await stream.async_read_some(net::buffer(sink), kNoThrow);
        if (ec) {
            break;
        }
        discarded += bytes;
    }
    stream.close();
}

/// The request loop. `stream` and `state` outlive it: run_session co_awaits it directly.
net::awaitable<void> serve(beast::tcp_stream& stream, ServerState& state) {
    const core::ServerConfig& config = state.config;
    beast::error_code endpoint_error;
    const auto remote = stream.socket().remote_endpoint(endpoint_error);
    const std::string remote_address = endpoint_error ? "" : remote.address().to_string();

    // Survives across requests: with pipelining it already holds the next request's bytes.
    beast::flat_buffer buffer;
    for (bool first = true; !state.stopping.load(std::memory_order_relaxed); first = false) {
        if (!first && buffer.size() == 0) {
            // Between requests the idle timeout applies; the head timeout starts at its first byte.
            stream.expires_after(config.idle_timeout);
            auto [ec, bytes] =
                co_await stream.async_read_some(buffer.prepare(kReadChunkBytes), kNoThrow);
            if (ec) {
                co_return;
            }
            buffer.commit(bytes);
        }

        Parser parser;
        parser.header_limit(
            static_cast<std::uint32_t>(std::min<std::size_t>(config.max_header_bytes, UINT32_MAX)));
        // The body limit depends on the route, known only after the head; Beast would otherwise
        // reject a large Content-Length against its 1 MiB default while parsing the head.
        parser.body_limit(boost::none);
        stream.expires_after(config.header_timeout);
        auto [head_ec, head_bytes] =
            co_await bhttp::async_read_header(stream, buffer, parser, kNoThrow);
        (void)head_bytes;
        if (head_ec == bhttp::error::header_limit) {
            RequestReport report(state.observer);
            co_await write_response(
                stream,
                config,
                Response::error(431,
                                "request_header_fields_too_large",
                                "request head exceeds the limit of " +
                                    std::to_string(config.max_header_bytes) + " bytes"),
                11,
                false,
                false,
                generate_request_id());
            report.done(kUnmatchedRoute, Method::kOther, 431);
            co_await close_gracefully(stream);
            co_return;
        }
        if (head_ec) {
            if (is_malformed_request(head_ec)) {
                RequestReport report(state.observer);
                co_await write_response(
                    stream,
                    config,
                    Response::error(
                        400, "bad_request", "malformed request head: " + head_ec.message()),
                    11,
                    false,
                    false,
                    generate_request_id());
                report.done(kUnmatchedRoute, Method::kOther, 400);
                co_await close_gracefully(stream);
            }
            // Timeouts, resets, EOF between requests and stop() just end the connection.
            co_return;
        }

        RequestReport report(state.observer);
        const unsigned version = parser.get().version();
        Request request;
        request.remote_address = remote_address;
        HeadCheck check = check_head(parser, state.router, request);
        if (auto given = request.header("X-Request-Id"); given && is_valid_request_id(*given)) {
            request.request_id = std::string(*given);
        } else {
            request.request_id = generate_request_id();
        }
        const std::string request_id = request.request_id;  // request moves to the pool
        const Method method = request.method;
        const bool head_only = method == Method::kHead;
        bool keep_alive = parser.get().keep_alive();

        if (check.reject) {
            // An unread body would be parsed as the next request: close instead of skipping it.
            const int status = check.reject->status;
            const bool body_unread = !parser.is_done();
            keep_alive = keep_alive && !body_unread && status != 400 && status != 413 &&
                         !state.stopping.load(std::memory_order_relaxed);
            const bool written = co_await write_response(
                stream, config, std::move(*check.reject), version, keep_alive, head_only, request_id);
            // 411/413/415 matched a route; 400/404/405 did not.
            report.done(check.match.route != nullptr ? std::string_view(check.match.route->pattern)
                                                     : kUnmatchedRoute,
                        method,
                        sent_status(status));
            if (!written) {
                co_return;
            }
            if (!keep_alive) {
                co_await close_gracefully(stream);
                co_return;
            }
            continue;
        }

        const Route& route = *check.match.route;
        request.path_params = std::move(check.match.params);
        if (!parser.is_done()) {
            parser.body_limit(route.options.max_body_bytes);
            const auto expect = parser.get().find(bhttp::field::expect);
            if (expect != parser.get().end() && beast::iequals(expect->value(), "100-continue")) {
                bhttp::response<bhttp::empty_body> proceed{bhttp::status::continue_, version};
                stream.expires_after(config.body_timeout);
                auto [continue_ec, continue_bytes] =
                    co_await bhttp::async_write(stream, proceed, kNoThrow);
                (void)continue_bytes;
                if (continue_ec) {
                    co_return;
                }
            }
            stream.expires_after(config.body_timeout);
            auto [body_ec, body_bytes] =
                co_await bhttp::async_read(stream, buffer, parser, kNoThrow);
            (void)body_bytes;
            if (body_ec == bhttp::error::body_limit) {
                co_await write_response(
                    stream,
                    config,
                    Response::error(413,
                                    "payload_too_large",
                                    "request body exceeds the limit of " +
                                        std::to_string(route.options.max_body_bytes) +
                                        " bytes for " + method_name(request.method) + " " +
                                        route.pattern),
                    version,
                    false,
                    head_only,
                    request_id);
                report.done(route.pattern, method, 413);
                co_await close_gracefully(stream);
                co_return;
            }
            if (body_ec) {
                if (is_malformed_request(body_ec)) {
                    co_await write_response(
                        stream,
                        config,
                        Response::error(
                            400, "bad_request", "malformed request body: " + body_ec.message()),
                        version,
                        false,
                        head_only,
                        request_id);
                    report.done(route.pattern, method, 400);
                    co_await close_gracefully(stream);
                }
                co_return;
            }
            request.body = std::move(parser.get().body());
        }

        Response response;
        if (route.options.dispatch == Dispatch::kInline) {
            response = invoke_handler(route, request);
        } else {
            const std::size_t in_flight =
                state.compute_in_flight.fetch_add(1, std::memory_order_relaxed) + 1;
            ComputeSlot slot(state.compute_in_flight);
            if (in_flight > config.max_queued_requests) {
                response = Response::error(503,
                                           "overloaded",
                                           "compute queue is full (limit " +
                                               std::to_string(config.max_queued_requests) +
                                               " requests queued or running); retry later");
                response.headers.push_back(Header{"Retry-After", "1"});
                if (state.observer != nullptr) {
                    state.observer->on_shed();
                }
            } else {
                // Resumes on this session's strand once the pool has run the handler.
                response = co_await net::co_spawn(
                    state.compute, run_handler(&route, std::move(request)), net::use_awaitable);
            }
        }

        keep_alive = keep_alive && !state.stopping.load(std::memory_order_relaxed);
        const int status = sent_status(response.status);
        const bool written = co_await write_response(
            stream, config, std::move(response), version, keep_alive, head_only, request_id);
        report.done(route.pattern, method, status);
        if (!written) {
            co_return;
        }
        if (!keep_alive) {
            co_await close_gracefully(stream);
            co_return;
        }
    }
}

/// Makes the registry forget the session when the frame goes, whichever way it goes.
class Registration {
public:
    Registration(ServerState& state, std::uint64_t id) : state_(&state), id_(id) {}
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;
    ~Registration() {
        if (state_ != nullptr) {
            state_->unregister_session(id_);
        }
    }
    /// Unregisters now; true when the server is stopping and this was the last session.
    bool release() {
        const bool drained = state_->unregister_session(id_);
        state_ = nullptr;
        return drained;
    }

private:
    ServerState* state_;
    std::uint64_t id_;
};

}  // namespace

net::awaitable<void> run_session(net::ip::tcp::socket socket, ServerState* state) {
    const ConnectionReport connection_report(state->observer);
    beast::tcp_stream stream(std::move(socket));
    beast::tcp_stream* stream_ptr = &stream;
    Registration registration(*state, state->register_session(stream.get_executor(), [stream_ptr] {
        stream_ptr->close();
    }));
    try {
        if (!state->stopping.load(std::memory_order_relaxed)) {
            co_await serve(stream, *state);
        }
    } catch (const std::exception& error) {
        std::fprintf(stderr, "ragd http: connection failed: %s\n", error.what());
    }
    if (registration.release() && state->on_drained) {
        state->on_drained();
    }
}

}  // namespace ragd::http::detail
