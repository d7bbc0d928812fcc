// The mock provider's network side: accept loop, one coroutine per connection, latency and
// pacing timers, error injection and disconnect detection. The only file of src/mock/ that
// includes Beast (used for request parsing only; responses are written as raw bytes, because
// streamed tokens are the hot path: one reused buffer and one write per due batch).
#include "mock/mock_server.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <sys/resource.h>
#include <sys/socket.h>

#include "core/text.hpp"
#include "http/message.hpp"
#include "mock/chat_request.hpp"
#include "mock/embeddings.hpp"
#include "mock/rerank.hpp"
#include "mock/sigv4_check.hpp"
#include "mock/text_generator.hpp"
#include "mock/wire_format.hpp"

namespace ragd::mock {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using Request = bhttp::request<bhttp::string_body>;

namespace {

constexpr auto kNoThrow = net::as_tuple(net::use_awaitable);
/// A keep-alive connection may wait this long for its next request (head and body).
constexpr std::chrono::seconds kIdleTimeout{300};
/// A client that stops reading mid-answer is dropped after this long.
constexpr std::chrono::seconds kWriteTimeout{60};
/// A stalled answer gives up after this long even if the client never leaves.
constexpr std::chrono::minutes kStallLimit{10};
constexpr std::uint32_t kMaxHeaderBytes = 64 * 1024;
constexpr std::uint64_t kMaxBodyBytes = 32ULL * 1024 * 1024;
/// Tokens sent before an injected reset or stall, so the client has seen a stream start.
constexpr std::size_t kResetAfterTokens = 3;
constexpr std::size_t kStallAfterTokens = 2;
/// Most event bytes gathered for one write; bounds a stream's buffer however far behind it is.
constexpr std::size_t kMaxBatchBytes = 16UL * 1024;
/// Output buffers and the read buffer above this size are released between requests, so that
/// thousands of idle keep-alive connections do not each keep their largest response's buffer.
constexpr std::size_t kKeptBufferBytes = 8UL * 1024;
/// Pause after an accept error such as EMFILE, so a full descriptor table does not spin a core.
constexpr std::chrono::milliseconds kAcceptBackoff{100};

/// Connections taken from the listen backlog per wake-up of the accept loop.
constexpr int kAcceptBatch = 64;

/// State every connection shares; owned by MockServer::Impl, which outlives every frame.
struct Shared {
    explicit Shared(MockLlmOptions options_in)
        : options(std::move(options_in)),
          schedule(options.seed, options.error_rate, options.error_kinds) {}

    const MockLlmOptions options;
    const ErrorSchedule schedule;
    /// Numbers LLM requests in arrival order, for the error schedule and response ids.
    std::atomic<std::uint64_t> next_request_index{0};
    MockStats stats;
};

/// One client connection. Lives in a shared_ptr because the peer watch's handler may still be
/// queued when the connection's coroutine ends.
struct Connection {
    explicit Connection(tcp::socket socket)
        : stream(std::move(socket)), timer(stream.get_executor()) {}

    beast::tcp_stream stream;
    /// Latency and pacing waits; the peer watch cancels it when the client leaves.
    net::steady_timer timer;
    /// Survives across requests: with pipelining it already holds the next request's bytes.
    beast::flat_buffer buffer;
    /// Response bytes (SSE events or a whole body) and the head / chunk-size line in front of
    /// them; reused so that streaming allocates nothing per token once they have grown.
    std::string out;
    std::string frame;
    /// The token being encoded.
    std::string token;
    /// Identifies the current watch, so a completion of a cancelled one is ignored.
    std::uint64_t watch_generation = 0;
    bool watch_pending = false;
    /// Set once the peer closed or reset the connection.
    bool peer_gone = false;
};

void watch_peer(const std::shared_ptr<Connection>& conn);

/// Readability during an answer means EOF/RST (the client left) or an early pipelined
/// request; a non-consuming peek tells them apart without disturbing the request parser.
void on_peer_readable(const std::shared_ptr<Connection>& conn,
                      std::uint64_t generation,
                      const boost::system::error_code& ec) {
    if (generation != conn->watch_generation) {
        return;
    }
    conn->watch_pending = false;
    if (ec == net::error::operation_aborted) {
        return;
    }
    if (!ec) {
        char byte = 0;
        const ssize_t peeked =
            ::recv(conn->stream.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        if (peeked > 0) {
            // The next request arrived early: stop watching (a failing write still tells).
            return;
        }
        if (peeked < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            watch_peer(conn);
            return;
        }
    }
    conn->peer_gone = true;
    conn->timer.cancel();
}

void watch_peer(const std::shared_ptr<Connection>& conn) {
    const std::uint64_t generation = ++conn->watch_generation;
    conn->watch_pending = true;
    conn->stream.socket().async_wait(tcp::socket::wait_read,
                                     [conn, generation](const boost::system::error_code& ec) {
                                         on_peer_readable(conn, generation, ec);
                                     });
}

/// Stops watching before the connection reads its next request (which must be the socket's
/// only reader).
void unwatch_peer(Connection& conn) {
    ++conn.watch_generation;
    if (conn.watch_pending) {
        conn.watch_pending = false;
        boost::system::error_code ignored;
        conn.stream.socket().cancel(ignored);
    }
}

/// Waits until `deadline`; false when the client left first (or already had).
net::awaitable<bool> wait_until(Connection& conn, Clock::time_point deadline) {
    if (conn.peer_gone) {
        co_return false;
    }
    if (deadline > Clock::now()) {
        conn.timer.expires_at(deadline);
        auto [ec] = co_await conn.timer.async_wait(kNoThrow);
        (void)ec;
    }
    co_return !conn.peer_gone;
}

/// An injected stall: silence until the client leaves (true) or kStallLimit passes (false).
net::awaitable<bool> wait_for_peer_to_leave(Connection& conn) {
    const bool stayed = co_await wait_until(conn, Clock::now() + kStallLimit);
    co_return !stayed;
}

/// Closes with SO_LINGER 0, so the kernel sends RST instead of FIN: an abrupt provider failure.
void reset_connection(Connection& conn) {
    boost::system::error_code ignored;
    conn.stream.socket().set_option(net::socket_base::linger(true, 0), ignored);
    conn.stream.close();
}

std::string_view to_std(beast::string_view text) {
    return {text.data(), text.size()};
}

std::optional<std::string_view> find_header(const Request& request, std::string_view name) {
    const auto found = request.find(beast::string_view(name.data(), name.size()));
    if (found == request.end()) {
        return std::nullopt;
    }
    return to_std(found->value());
}

bool has_bearer_token(std::string_view authorization) {
    constexpr std::string_view kScheme = "bearer ";
    authorization = core::trim_ows(authorization);
    return authorization.size() > kScheme.size() &&
           beast::iequals(beast::string_view(authorization.data(), kScheme.size()),
                          beast::string_view(kScheme.data(), kScheme.size())) &&
           !core::trim_ows(authorization.substr(kScheme.size())).empty();
}

void append_head(std::string& out,
                 int status,
                 bool keep_alive,
                 std::string_view content_type,
                 std::optional<std::size_t> content_length,
                 std::string_view extra_headers) {
    out += "HTTP/1.1 ";
    out += std::to_string(status);
    out += ' ';
    out += to_std(bhttp::obsolete_reason(bhttp::int_to_status(static_cast<unsigned>(status))));
    out += "\r\nServer: ragd-mock\r\nContent-Type: ";
    out += content_type;
    out += "\r\n";
    if (content_length) {
        out += "Content-Length: ";
        out += std::to_string(*content_length);
        out += "\r\n";
    }
    if (!keep_alive) {
        out += "Connection: close\r\n";
    }
    out += extra_headers;
    out += "\r\n";
}

net::awaitable<bool> write_out(Connection& conn) {
    conn.stream.expires_after(kWriteTimeout);
    auto [ec, bytes] = co_await net::async_write(conn.stream, net::buffer(conn.out), kNoThrow);
    (void)bytes;
    conn.out.clear();
    co_return !ec;
}

/// A whole response with a JSON body. Returns false when the write failed.
net::awaitable<bool> respond(Connection& conn,
                             int status,
                             std::string body,
                             bool keep_alive,
                             std::string_view extra_headers = {}) {
    conn.out.clear();
    append_head(conn.out, status, keep_alive, "application/json", body.size(), extra_headers);
    conn.out += body;
    co_return co_await write_out(conn);
}

/// Writes the pending events in conn.out (with the stream head first when `with_head`), as one
/// HTTP chunk when `chunked`; `last` ends the chunked body.
net::awaitable<bool> flush_events(
    Connection& conn, Api api, bool with_head, bool last, bool keep_alive, bool chunked) {
    conn.frame.clear();
    if (with_head) {
        conn.frame += api == Api::kBedrock
                          ? "HTTP/1.1 200 OK\r\nServer: ragd-mock\r\nContent-Type: "
                            "application/vnd.amazon.eventstream\r\n"
                          : "HTTP/1.1 200 OK\r\nServer: ragd-mock\r\nContent-Type: "
                            "text/event-stream; charset=utf-8\r\nCache-Control: no-cache\r\n";
        if (chunked) {
            conn.frame += "Transfer-Encoding: chunked\r\n";
        }
        if (!keep_alive) {
            conn.frame += "Connection: close\r\n";
        }
        conn.frame += "\r\n";
    }
    std::string_view trailer;
    if (chunked) {
        if (!conn.out.empty()) {
            std::array<char, 20> size_line{};
            const int length =
                std::snprintf(size_line.data(), size_line.size(), "%zx\r\n", conn.out.size());
            conn.frame.append(size_line.data(), static_cast<std::size_t>(length));
            trailer = last ? "\r\n0\r\n\r\n" : "\r\n";
        } else if (last) {
            trailer = "0\r\n\r\n";  // an empty chunk would end the body early otherwise
        }
    }
    const std::array<net::const_buffer, 3> buffers{net::buffer(conn.frame),
                                                   net::buffer(conn.out),
                                                   net::buffer(trailer.data(), trailer.size())};
    conn.stream.expires_after(kWriteTimeout);
    auto [ec, bytes] = co_await net::async_write(conn.stream, buffers, kNoThrow);
    (void)bytes;
    conn.out.clear();
    co_return !ec;
}

/// Everything needed to deliver one LLM answer.
struct Answer {
    Api api = Api::kOpenAi;
    RequestPlan plan;
    /// The generator's input; the text itself is produced only when it is sent.
    std::string last_user_message;
    std::size_t token_count = 0;
    ResponseIdentity identity;
    Usage usage;
    bool truncated = false;
    bool include_usage = false;
};

net::awaitable<bool> send_injected_status(Connection& conn,
                                          Api api,
                                          ErrorKind kind,
                                          bool keep_alive) {
    // Arguments are named locals, never temporaries: GCC 12 double-destroys some temporaries
    // (e.g. inside ?:) that live across a co_await in the same full-expression.
    const std::string kind_header =
        api == Api::kBedrock ? bedrock_error_header(kind == ErrorKind::kRateLimited ? 429 : 500)
                             : std::string();
    if (kind == ErrorKind::kRateLimited) {
        std::string body = error_body(api, 429, "mock-llm: injected rate limit; retry after 1 s");
        const std::string headers = "Retry-After: 1\r\nretry-after-ms: 1000\r\n" + kind_header;
        co_return co_await respond(conn, 429, std::move(body), keep_alive, headers);
    }
    std::string body = error_body(api, 500, "mock-llm: injected server error");
    co_return co_await respond(conn, 500, std::move(body), keep_alive, kind_header);
}

bool is_status_error(const std::optional<ErrorKind>& error) {
    return error == ErrorKind::kServerError || error == ErrorKind::kRateLimited;
}

/// Non-streaming: one body after latency + tokens / tokens_per_second.
net::awaitable<bool> send_answer(std::shared_ptr<Connection> conn,
                                 Shared* shared,
                                 Answer answer,
                                 bool keep_alive) {
    Connection& connection = *conn;
    MockStats& stats = shared->stats;
    const auto start = Clock::now();
    const std::optional<ErrorKind> error = answer.plan.error;
    if (error == ErrorKind::kStall) {
        watch_peer(conn);
        if (co_await wait_for_peer_to_leave(connection)) {
            stats.client_closed_before_response.fetch_add(1, std::memory_order_relaxed);
        }
        co_return false;
    }
    auto wait = std::chrono::duration_cast<Clock::duration>(answer.plan.latency);
    if (!is_status_error(error) && answer.plan.tokens_per_second > 0.0) {
        wait += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
            static_cast<double>(answer.token_count) / answer.plan.tokens_per_second));
    }
    if (wait.count() > 0) {
        watch_peer(conn);
        const bool present = co_await wait_until(connection, start + wait);
        unwatch_peer(connection);
        if (!present) {
            stats.client_closed_before_response.fetch_add(1, std::memory_order_relaxed);
            co_return false;
        }
    }
    if (is_status_error(error)) {
        co_return co_await send_injected_status(connection, answer.api, *error, keep_alive);
    }
    const Completion completion =
        generate_completion(answer.last_user_message, shared->options.seed, answer.token_count);
    std::string body = completion_body(
        answer.api, answer.identity, completion.text, answer.truncated, answer.usage);
    if (error == ErrorKind::kReset) {
        // Half a body, then RST: the client sees a truncated response.
        connection.out.clear();
        append_head(connection.out, 200, keep_alive, "application/json", body.size(), {});
        connection.out.append(body, 0, body.size() / 2);
        co_await write_out(connection);
        reset_connection(connection);
        co_return false;
    }
    stats.tokens_sent.fetch_add(answer.token_count, std::memory_order_relaxed);
    co_return co_await respond(connection, 200, std::move(body), keep_alive);
}

/// Streaming: SSE events, the first after the latency, then paced at tokens_per_second. When
/// the timer wakes late (a loaded machine), the tokens already due go out together, in writes
/// of at most kMaxBatchBytes: a slow reader then holds back the stream instead of growing our
/// buffer.
net::awaitable<bool> stream_answer(std::shared_ptr<Connection> conn,
                                   Shared* shared,
                                   Answer answer,
                                   bool keep_alive,
                                   bool chunked) {
    Connection& connection = *conn;
    MockStats& stats = shared->stats;
    const GaugeGuard streaming(stats.streams_in_flight);
    const std::optional<ErrorKind> error = answer.plan.error;
    watch_peer(conn);
    if (!co_await wait_until(connection, Clock::now() + answer.plan.latency)) {
        stats.client_closed_mid_stream.fetch_add(1, std::memory_order_relaxed);
        co_return false;
    }
    if (is_status_error(error)) {
        unwatch_peer(connection);
        co_return co_await send_injected_status(connection, answer.api, *error, keep_alive);
    }

    const StreamEncoder encoder(answer.api, answer.identity, answer.usage, answer.include_usage);
    TokenGenerator generator(answer.last_user_message, shared->options.seed, answer.token_count);
    std::string().swap(answer.last_user_message);  // prompts can be large; streams can be many
    const std::size_t token_count = answer.token_count;
    std::size_t limit = token_count;
    if (error == ErrorKind::kReset) {
        limit = std::min(kResetAfterTokens, token_count);
    } else if (error == ErrorKind::kStall) {
        limit = std::min(kStallAfterTokens, token_count);
    }
    const bool finishes = !error.has_value();
    const double tokens_per_second = answer.plan.tokens_per_second;
    const auto first_token_at = Clock::now();

    connection.out.clear();
    encoder.append_start(connection.out);
    bool present = true;
    for (bool first_write = true;; first_write = false) {
        std::size_t due = limit;
        if (tokens_per_second > 0.0) {
            const std::chrono::duration<double> elapsed = Clock::now() - first_token_at;
            due =
                std::min(limit, static_cast<std::size_t>(elapsed.count() * tokens_per_second) + 1);
        }
        std::size_t batch = 0;
        while (generator.produced() < due && connection.out.size() < kMaxBatchBytes) {
            connection.token.clear();
            generator.append_next(connection.token);
            encoder.append_token(connection.out, connection.token);
            ++batch;
        }
        stats.tokens_sent.fetch_add(batch, std::memory_order_relaxed);
        const std::size_t sent = generator.produced();
        const bool done = sent == limit;
        if (done && finishes) {
            encoder.append_finish(connection.out, answer.truncated);
        }
        if (!co_await flush_events(
                connection, answer.api, first_write, done && finishes, keep_alive, chunked)) {
            present = false;
            break;
        }
        if (done) {
            break;
        }
        if (sent < due) {
            continue;  // behind schedule: the next batch at once
        }
        const auto next_due =
            first_token_at +
            std::chrono::duration_cast<Clock::duration>(
                std::chrono::duration<double>(static_cast<double>(sent) / tokens_per_second));
        if (!co_await wait_until(connection, next_due)) {
            present = false;
            break;
        }
    }
    if (!present) {
        stats.client_closed_mid_stream.fetch_add(1, std::memory_order_relaxed);
        co_return false;
    }
    if (error == ErrorKind::kReset) {
        reset_connection(connection);
        co_return false;
    }
    if (error == ErrorKind::kStall) {
        if (co_await wait_for_peer_to_leave(connection)) {
            stats.client_closed_mid_stream.fetch_add(1, std::memory_order_relaxed);
        }
        co_return false;
    }
    unwatch_peer(connection);
    stats.streams_completed.fetch_add(1, std::memory_order_relaxed);
    const bool reusable = keep_alive && chunked;
    co_return reusable;
}

/// What a Bedrock path says: /model/{modelId}/converse or /converse-stream.
struct BedrockRoute {
    std::string model;
    bool stream = false;
};

std::optional<BedrockRoute> bedrock_route(std::string_view path) {
    constexpr std::string_view kPrefix = "/model/";
    if (path.substr(0, kPrefix.size()) != kPrefix) {
        return std::nullopt;
    }
    path.remove_prefix(kPrefix.size());
    const std::size_t slash = path.find('/');
    if (slash == 0 || slash == std::string_view::npos) {
        return std::nullopt;
    }
    const std::string_view action = path.substr(slash + 1);
    if (action != "converse" && action != "converse-stream") {
        return std::nullopt;
    }
    const std::string_view model = path.substr(0, slash);
    return BedrockRoute{ragd::http::percent_decode(model).value_or(std::string(model)),
                        action == "converse-stream"};
}

/// Auth, validation, planning; then the answer. Returns whether the connection may be reused.
net::awaitable<bool> handle_llm(const std::shared_ptr<Connection>& conn,
                                Shared& shared,
                                Api api,
                                const Request& request,
                                BedrockRoute bedrock) {
    MockStats& stats = shared.stats;
    Connection& connection = *conn;
    const bool keep_alive = request.keep_alive();
    if (api == Api::kOpenAi) {
        if (!has_bearer_token(to_std(request[bhttp::field::authorization]))) {
            stats.auth_failures.fetch_add(1, std::memory_order_relaxed);
            std::string body = error_body(api,
                                          401,
                                          "You didn't provide an API key. Send it as "
                                          "Authorization: Bearer KEY (mock-llm accepts any "
                                          "non-empty key).");
            co_return co_await respond(connection, 401, std::move(body), keep_alive);
        }
    } else if (api == Api::kBedrock) {
        const std::string_view authorization = to_std(request[bhttp::field::authorization]);
        if (!has_bearer_token(authorization)) {
            const HeaderLookup lookup = [&request](std::string_view name) {
                return find_header(request, name);
            };
            const std::string problem = check_sigv4(authorization,
                                                    lookup,
                                                    to_std(request.method_string()),
                                                    to_std(request.target()),
                                                    request.body(),
                                                    shared.options.aws_secret_access_key);
            if (!problem.empty()) {
                stats.auth_failures.fetch_add(1, std::memory_order_relaxed);
                const int status = authorization.empty() ? 401 : 403;
                std::string body = error_body(api, status, problem);
                co_return co_await respond(connection, status, std::move(body), keep_alive);
            }
        }
    } else {
        if (core::trim_ows(find_header(request, "x-api-key").value_or("")).empty()) {
            stats.auth_failures.fetch_add(1, std::memory_order_relaxed);
            std::string body =
                error_body(api, 401, "x-api-key header is required (mock-llm accepts any value)");
            co_return co_await respond(connection, 401, std::move(body), keep_alive);
        }
        if (core::trim_ows(find_header(request, "anthropic-version").value_or("")).empty()) {
            stats.bad_requests.fetch_add(1, std::memory_order_relaxed);
            std::string body = error_body(api, 400, "anthropic-version: header is required");
            co_return co_await respond(connection, 400, std::move(body), keep_alive);
        }
    }

    auto overrides = parse_overrides(OverrideHeaders{
        find_header(request, "x-mock-latency-ms"),
        find_header(request, "x-mock-tokens-per-second"),
        find_header(request, "x-mock-error"),
        find_header(request, "x-mock-output-tokens"),
    });
    if (!overrides) {
        stats.bad_requests.fetch_add(1, std::memory_order_relaxed);
        std::string body = error_body(api, 400, overrides.error().detail);
        co_return co_await respond(connection, 400, std::move(body), keep_alive);
    }
    auto chat = parse_chat_request(api, request.body());
    if (!chat) {
        stats.bad_requests.fetch_add(1, std::memory_order_relaxed);
        std::string body = error_body(api, 400, chat.error().detail);
        co_return co_await respond(connection, 400, std::move(body), keep_alive);
    }
    if (api == Api::kBedrock) {
        chat->model = std::move(bedrock.model);
        chat->stream = bedrock.stream;
    }

    const std::uint64_t index = shared.next_request_index.fetch_add(1, std::memory_order_relaxed);
    Answer answer;
    answer.api = api;
    answer.plan = plan_request(shared.options, *overrides, shared.schedule, index);
    std::size_t token_count = answer.plan.output_tokens;
    if (chat->max_tokens && *chat->max_tokens < token_count) {
        token_count = *chat->max_tokens;
        answer.truncated = true;
    }
    answer.last_user_message = std::move(chat->last_user_message);
    answer.token_count = token_count;
    answer.identity =
        make_identity(api, std::move(chat->model), shared.options.seed, index, std::time(nullptr));
    answer.usage = Usage{chat->prompt_tokens, token_count};
    answer.include_usage = chat->include_usage;
    if (answer.plan.error) {
        stats.count_error(*answer.plan.error);
    }

    const GaugeGuard in_flight(stats.requests_in_flight);
    if (chat->stream) {
        const bool chunked = request.version() >= 11;
        co_return co_await stream_answer(conn, &shared, std::move(answer), keep_alive, chunked);
    }
    co_return co_await send_answer(conn, &shared, std::move(answer), keep_alive);
}

/// Routes one request. Returns whether the connection may be reused.
net::awaitable<bool> handle_request(const std::shared_ptr<Connection>& conn,
                                    Shared& shared,
                                    const Request& request) {
    MockStats& stats = shared.stats;
    Connection& connection = *conn;
    const bool keep_alive = request.keep_alive();
    std::string_view path = to_std(request.target());
    path = path.substr(0, path.find('?'));
    const bool is_get = request.method() == bhttp::verb::get;
    const bool is_post = request.method() == bhttp::verb::post;

    if (path == "/v1/chat/completions" || path == "/v1/messages") {
        const Api api = path == "/v1/messages" ? Api::kAnthropic : Api::kOpenAi;
        stats.count_request(api == Api::kOpenAi ? Endpoint::kChatCompletions : Endpoint::kMessages);
        if (!is_post) {
            std::string body = error_body(api, 405, std::string(path) + " accepts only POST");
            co_return co_await respond(
                connection, 405, std::move(body), keep_alive, "Allow: POST\r\n");
        }
        // A named local, not a defaulted parameter: GCC 12 double-destroys such temporaries
        // in a coroutine call.
        BedrockRoute none;
        co_return co_await handle_llm(conn, shared, api, request, std::move(none));
    }
    if (auto bedrock = bedrock_route(path)) {
        stats.count_request(Endpoint::kConverse);
        if (!is_post) {
            std::string body =
                error_body(Api::kBedrock, 405, std::string(path) + " accepts only POST");
            co_return co_await respond(
                connection, 405, std::move(body), keep_alive, "Allow: POST\r\n");
        }
        co_return co_await handle_llm(conn, shared, Api::kBedrock, request, std::move(*bedrock));
    }
    if (path == "/v1/embeddings") {
        stats.count_request(Endpoint::kEmbeddings);
        if (!is_post) {
            std::string body = error_body(Api::kOpenAi, 405, "/v1/embeddings accepts only POST");
            co_return co_await respond(
                connection, 405, std::move(body), keep_alive, "Allow: POST\r\n");
        }
        // The same error schedule as answers (--error-rate, --error-kinds), so a test can
        // check that ragd retries embeddings; a reset or stall closes the connection.
        const std::uint64_t index =
            shared.next_request_index.fetch_add(1, std::memory_order_relaxed);
        if (std::optional<ErrorKind> error = shared.schedule.pick(index)) {
            stats.count_error(*error);
            if (is_status_error(error)) {
                co_return co_await send_injected_status(
                    connection, Api::kOpenAi, *error, keep_alive);
            }
            co_return false;
        }
        auto answer = embeddings_response(request.body());
        if (!answer) {
            stats.bad_requests.fetch_add(1, std::memory_order_relaxed);
            std::string body = error_body(Api::kOpenAi, 400, answer.error().detail);
            co_return co_await respond(connection, 400, std::move(body), keep_alive);
        }
        co_return co_await respond(connection, 200, std::move(*answer), keep_alive);
    }
    if (path == "/v1/rerank" || path == "/rerank") {
        stats.count_request(Endpoint::kRerank);
        const bool tei = path == "/rerank";
        if (!is_post) {
            std::string body =
                error_body(Api::kOpenAi, 405, std::string(path) + " accepts only POST");
            co_return co_await respond(
                connection, 405, std::move(body), keep_alive, "Allow: POST\r\n");
        }
        auto answer = rerank_response(tei, request.body());
        if (!answer) {
            stats.bad_requests.fetch_add(1, std::memory_order_relaxed);
            std::string body = error_body(Api::kOpenAi, 400, answer.error().detail);
            co_return co_await respond(connection, 400, std::move(body), keep_alive);
        }
        co_return co_await respond(connection, 200, std::move(*answer), keep_alive);
    }
    if (path == "/health" || path == "/stats") {
        const bool health = path == "/health";
        stats.count_request(health ? Endpoint::kHealth : Endpoint::kStats);
        if (!is_get) {
            std::string body =
                error_body(Api::kOpenAi, 405, std::string(path) + " accepts only GET");
            co_return co_await respond(
                connection, 405, std::move(body), keep_alive, "Allow: GET\r\n");
        }
        std::string body = health ? std::string("{\"status\":\"ok\"}") : stats.to_json();
        co_return co_await respond(connection, 200, std::move(body), keep_alive);
    }
    stats.count_request(Endpoint::kOther);
    std::string body =
        error_body(Api::kOpenAi,
                   404,
                   "mock-llm has no route " + std::string(to_std(request.method_string())) + " " +
                       std::string(path));
    co_return co_await respond(connection, 404, std::move(body), keep_alive);
}

/// Errors caused by the peer's bytes, which deserve an answer before closing.
std::optional<int> status_for_read_error(const beast::error_code& ec) {
    if (ec == bhttp::error::header_limit) {
        return 431;
    }
    if (ec == bhttp::error::body_limit) {
        return 413;
    }
    if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
        ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message &&
        ec != bhttp::error::need_more && ec != bhttp::error::need_buffer) {
        return 400;
    }
    return std::nullopt;
}

/// The request loop of one connection.
net::awaitable<void> run_connection(std::shared_ptr<Connection> conn, Shared* shared) {
    const GaugeGuard open(shared->stats.connections_open);
    Connection& connection = *conn;
    for (;;) {
        bhttp::request_parser<bhttp::string_body> parser;
        parser.header_limit(kMaxHeaderBytes);
        parser.body_limit(kMaxBodyBytes);
        connection.stream.expires_after(kIdleTimeout);
        auto [head_ec, head_bytes] = co_await bhttp::async_read_header(
            connection.stream, connection.buffer, parser, kNoThrow);
        (void)head_bytes;
        beast::error_code read_error = head_ec;
        if (!read_error && !parser.is_done()) {
            const auto expect = parser.get().find(bhttp::field::expect);
            if (expect != parser.get().end() && beast::iequals(expect->value(), "100-continue")) {
                connection.out = "HTTP/1.1 100 Continue\r\n\r\n";
                if (!co_await write_out(connection)) {
                    break;
                }
            }
            auto [body_ec, body_bytes] =
                co_await bhttp::async_read(connection.stream, connection.buffer, parser, kNoThrow);
            (void)body_bytes;
            read_error = body_ec;
        }
        if (read_error) {
            if (const auto status = status_for_read_error(read_error)) {
                shared->stats.bad_requests.fetch_add(1, std::memory_order_relaxed);
                std::string body =
                    error_body(Api::kOpenAi,
                               *status,
                               "mock-llm cannot read the request: " + read_error.message());
                co_await respond(connection, *status, std::move(body), false);
            }
            break;
        }
        const Request request = parser.release();
        if (!co_await handle_request(conn, *shared, request) || !request.keep_alive()) {
            break;
        }
        if (connection.out.capacity() > kKeptBufferBytes) {
            std::string().swap(connection.out);
        }
        if (connection.buffer.size() == 0 && connection.buffer.capacity() > kKeptBufferBytes) {
            connection.buffer.shrink_to_fit();
        }
    }
    unwatch_peer(connection);
    boost::system::error_code ignored;
    connection.stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    connection.stream.close();
}

/// The one place an unexpected exception from a connection is reported; the server goes on.
void report_exception(const std::exception_ptr& error) {
    if (!error) {
        return;
    }
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& exception) {
        std::fprintf(stderr, "ragd mock-llm: connection failed: %s\n", exception.what());
    } catch (...) {
        std::fprintf(stderr, "ragd mock-llm: connection failed with a non-std exception\n");
    }
}

std::string format_endpoint(const tcp::endpoint& endpoint) {
    const std::string host = endpoint.address().to_string();
    const std::string port = std::to_string(endpoint.port());
    return endpoint.address().is_v6() ? "[" + host + "]:" + port : host + ":" + port;
}

void run_context(net::io_context& context) {
    for (;;) {
        try {
            context.run();
            return;
        } catch (const std::exception& error) {
            std::fprintf(
                stderr, "ragd mock-llm: unexpected exception on an I/O thread: %s\n", error.what());
        }
    }
}

/// Each connection is one descriptor: 15,000 streams need more than the usual soft limit.
void raise_open_file_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &limit);
    }
}

}  // namespace

struct MockServer::Impl {
    explicit Impl(MockLlmOptions options) : shared(std::move(options)) {
        const unsigned threads = shared.options.threads != 0
                                     ? shared.options.threads
                                     : std::max(1U, std::thread::hardware_concurrency());
        for (unsigned thread_idx = 0; thread_idx < threads; ++thread_idx) {
            // Concurrency hint 1: each context is run by exactly one thread.
            contexts.push_back(std::make_unique<net::io_context>(1));
            guards.push_back(net::make_work_guard(*contexts.back()));
        }
        acceptor.emplace(*contexts.front());
        signals.emplace(*contexts.front());
    }

    ~Impl() {
        // The acceptor and signal set belong to contexts[0]: release them before any context.
        signals.reset();
        acceptor.reset();
        guards.clear();
        contexts.clear();
    }

    net::awaitable<void> accept_loop();
    void start_connection(tcp::socket socket);

    Shared shared;
    std::vector<std::unique_ptr<net::io_context>> contexts;
    std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
    std::optional<tcp::acceptor> acceptor;
    std::optional<net::signal_set> signals;
    std::string bound;
};

net::awaitable<void> MockServer::Impl::accept_loop() {
    std::size_t next_context = 0;
    // Round-robin: a connection stays on one single-threaded context, so it needs no strand.
    const auto next = [&]() -> net::io_context& {
        return *contexts[next_context++ % contexts.size()];
    };
    while (acceptor->is_open()) {
        tcp::socket socket(next());
        auto [ec] = co_await acceptor->async_accept(socket, kNoThrow);
        if (ec == net::error::operation_aborted || !acceptor->is_open()) {
            co_return;
        }
        if (ec) {
            shared.stats.accept_errors.fetch_add(1, std::memory_order_relaxed);
            net::steady_timer backoff(*contexts.front(), kAcceptBackoff);
            auto [timer_ec] = co_await backoff.async_wait(kNoThrow);
            (void)timer_ec;
            continue;
        }
        start_connection(std::move(socket));
        // Then what else waits in the backlog (the acceptor is non-blocking): one accept per
        // wake-up lets a burst of new connections overflow the listen backlog.
        for (int taken = 0; taken < kAcceptBatch; ++taken) {
            tcp::socket more(next());
            acceptor->accept(more, ec);
            if (ec) {
                break;  // would_block; anything else meets the next async_accept
            }
            start_connection(std::move(more));
        }
    }
}

void MockServer::Impl::start_connection(tcp::socket socket) {
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);  // tokens must not wait for Nagle
    shared.stats.connections_accepted.fetch_add(1, std::memory_order_relaxed);
    const net::any_io_executor executor = socket.get_executor();
    net::co_spawn(executor,
                  run_connection(std::make_shared<Connection>(std::move(socket)), &shared),
                  report_exception);
}

MockServer::MockServer(MockLlmOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

MockServer::~MockServer() = default;

core::Result<void> MockServer::listen() {
    auto address = split_host_port(impl_->shared.options.listen);
    if (!address) {
        return address.error();
    }
    boost::system::error_code ec;
    tcp::endpoint endpoint;
    const net::ip::address ip = net::ip::make_address(address->host, ec);
    if (!ec) {
        endpoint = tcp::endpoint(ip, address->port);
    } else {
        // A host name: resolved once, blocking, before run().
        tcp::resolver resolver(*impl_->contexts.front());
        const auto results = resolver.resolve(address->host, std::to_string(address->port), ec);
        if (ec || results.empty()) {
            return core::fail(core::ErrorCode::kInvalidArgument,
                              "listen address \"" + impl_->shared.options.listen +
                                  "\": cannot resolve host \"" + address->host +
                                  "\": " + ec.message());
        }
        endpoint = results.begin()->endpoint();
    }
    tcp::acceptor& acceptor = *impl_->acceptor;
    if (acceptor.open(endpoint.protocol(), ec);
        !ec && (acceptor.set_option(net::socket_base::reuse_address(true), ec), !ec) &&
        (acceptor.bind(endpoint, ec), !ec)) {
        acceptor.listen(net::socket_base::max_listen_connections, ec);
    }
    if (!ec) {
        acceptor.non_blocking(true, ec);  // accept_loop()'s batch must stop at an empty backlog
    }
    if (ec) {
        return core::fail(
            core::ErrorCode::kIo,
            "cannot listen on \"" + impl_->shared.options.listen + "\": " + ec.message());
    }
    impl_->bound = format_endpoint(acceptor.local_endpoint(ec));
    return {};
}

std::string MockServer::local_endpoint() const {
    return impl_->bound;
}

void MockServer::run() {
    Impl& impl = *impl_;
    impl.signals->add(SIGINT);
    impl.signals->add(SIGTERM);
    impl.signals->async_wait([this](const boost::system::error_code& ec, int) {
        if (!ec) {
            stop();
        }
    });
    net::co_spawn(*impl.contexts.front(), impl.accept_loop(), report_exception);
    std::vector<std::thread> threads;
    for (std::size_t context_idx = 1; context_idx < impl.contexts.size(); ++context_idx) {
        threads.emplace_back(run_context, std::ref(*impl.contexts[context_idx]));
    }
    run_context(*impl.contexts.front());
    for (auto& thread : threads) {
        thread.join();
    }
}

void MockServer::stop() {
    // Open connections and stalled answers are simply dropped when the contexts are destroyed:
    // a mock owes its clients no graceful drain.
    for (const auto& context : impl_->contexts) {
        context->stop();
    }
}

const MockStats& MockServer::stats() const {
    return impl_->shared.stats;
}

int run_mock_llm(const MockLlmOptions& options) {
    if (auto valid = validate_options(options); !valid) {
        std::cerr << "ragd mock-llm: " << valid.error().detail << "\n";
        return 1;
    }
    raise_open_file_limit();
    MockServer server(options);
    if (auto listening = server.listen(); !listening) {
        std::cerr << "ragd mock-llm: " << listening.error().detail << "\n";
        return 1;
    }
    std::cout << "listening on " << server.local_endpoint() << std::endl;
    server.run();
    return 0;
}

}  // namespace ragd::mock
