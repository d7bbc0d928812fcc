// One coroutine per connection: read head, match route, enforce limits, read body, run the
// handler (inline or on the compute pool), write, repeat. With request_head.cpp (parser headers
// only), the only TU besides asio_impl.cpp that includes Beast: Beast-heavy files cost ~30 s each
// to compile.
#include "http/session.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <sys/socket.h>

#include "http/request_head.hpp"
#include "http/trace_context.hpp"

namespace ragd::http::detail {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

namespace {

constexpr auto kNoThrow = net::as_tuple(net::use_awaitable);
/// After an error response that leaves request bytes unread, read and discard this much
/// (for at most kLingerTime) before closing, so the client sees our response, not a reset.
constexpr std::size_t kLingerBytes = 256 * 1024;
constexpr std::chrono::milliseconds kLingerTime{500};
/// Longest write of the error event that ends a stream at server.max_stream_ms: a client that
/// stopped reading must not hold the connection a body timeout longer.
constexpr std::chrono::milliseconds kStreamEndWriteTime{1000};
/// server.stream_flush_ms holds back at most this much before sending at once.
constexpr std::size_t kMaxHeldBytes = 16 * 1024;
/// ... and sends it on a grid of this step, shared by every stream of an I/O thread.
constexpr std::chrono::milliseconds kFlushGrid{10};

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

    /// What is known once the head was checked (copied: the request moves to its handler).
    void describe(const Request& request) {
        if (observer_ != nullptr) {
            request_id_ = request.request_id;
            trace_id_ = request.trace_id;
            path_ = request.path;
            remote_ = request.remote_address;
        }
    }
    void set_request_id(std::string_view id) {
        if (observer_ != nullptr) {
            request_id_ = id;
        }
    }
    void set_bytes(std::uint64_t in, std::uint64_t out) {
        bytes_in_ = in;
        bytes_out_ = out;
    }
    void set_annotations(const std::vector<Header>* annotations) { annotations_ = annotations; }

    /// Call right after the response's write finished (successfully or not).
    void done(std::string_view route_pattern, Method method, int status) {
        if (observer_ == nullptr) {
            return;
        }
        const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started_;
        RequestRecord record;
        record.route_pattern = route_pattern;
        record.method = method;
        record.status = status;
        record.seconds = elapsed.count();
        record.request_id = request_id_;
        record.trace_id = trace_id_;
        record.path = path_;
        record.remote_address = remote_;
        record.bytes_in = bytes_in_;
        record.bytes_out = bytes_out_;
        record.annotations = annotations_;
        observer_->on_request_done(record);
        observer_ = nullptr;
    }

private:
    ServerObserver* observer_;
    std::chrono::steady_clock::time_point started_;
    std::string request_id_;
    std::string trace_id_;
    std::string path_;
    std::string remote_;
    std::uint64_t bytes_in_ = 0;
    std::uint64_t bytes_out_ = 0;
    const std::vector<Header>* annotations_ = nullptr;
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

/// What the rest of a session needs to know about the request in progress: whether it is busy
/// (a drain must let it finish) and its cancel token (fired when the server stops under it);
/// and, between requests, until when it may stay idle (steady_clock ticks, 0 when not idle:
/// the server's idle sweep reads it, see ServerState::close_idle_sessions).
struct ActiveRequest {
    bool busy = false;
    std::shared_ptr<core::CancelToken> cancel;
    std::atomic<std::int64_t> idle_until{0};
};

/// Runs on the compute pool for RequestContext::run_compute; the caller awaits it, so the
/// pointers outlive the call.
net::awaitable<void> run_work(std::function<void()>* work, std::exception_ptr* error) {
    try {
        (*work)();
    } catch (...) {
        *error = std::current_exception();
    }
    co_return;
}

/// Watches the socket while an async handler runs: a peer that closes (EOF) or resets cancels
/// the request, so an upstream LLM call is not kept waiting for a client that left. Bytes
/// arriving instead (a pipelined request) end the watch: they are left for the next read.
/// The callback runs on the session's strand; `done` is set before the socket can go away.
class DisconnectWatch : public std::enable_shared_from_this<DisconnectWatch> {
public:
    DisconnectWatch(beast::tcp_stream& stream, std::shared_ptr<core::CancelToken> cancel)
        : stream_(&stream), cancel_(std::move(cancel)) {}

    void arm() {
        stream_->socket().async_wait(
            net::ip::tcp::socket::wait_read,
            [self = shared_from_this()](const beast::error_code& ec) { self->on_readable(ec); });
    }

    /// The handler finished: stop watching (the pending wait completes as aborted).
    void finish() {
        done_ = true;
        beast::error_code ignored;
        stream_->socket().cancel(ignored);
    }

private:
    void on_readable(const beast::error_code& ec) {
        if (done_ || ec == net::error::operation_aborted) {
            return;
        }
        if (ec) {
            cancel_->cancel();
            return;
        }
        char byte = 0;
        const ssize_t peeked =
            ::recv(stream_->socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        if (peeked == 0 || (peeked < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            cancel_->cancel();
        } else if (peeked < 0) {
            arm();  // spurious wake-up
        }
    }

    beast::tcp_stream* stream_;
    std::shared_ptr<core::CancelToken> cancel_;
    bool done_ = false;
};

/// What the server.max_stream_ms timer's handler touches. Shared, because the handler may be
/// queued on the strand when the writer goes away; `armed` (cleared on the strand) then
/// makes it do nothing.
struct StreamExpiry {
    bool armed = true;
    bool expired = false;
    std::shared_ptr<core::CancelToken> cancel;
};

/// True when `content_type` is text/event-stream (parameters and case ignored).
bool is_event_stream(std::string_view content_type) {
    constexpr std::string_view kEventStream = "text/event-stream";
    const std::string_view media = content_type.substr(0, content_type.find(';'));
    const std::size_t first = media.find_first_not_of(" \t");
    const std::size_t last = media.find_last_not_of(" \t");
    return first != std::string_view::npos &&
           beast::iequals(media.substr(first, last - first + 1), kEventStream);
}

/// ResponseWriter over the session's stream: a whole response, or a chunked stream whose every
/// write() is flushed at once (SSE). A stream lasts at most server.max_stream_ms: then the
/// request's cancel token fires, write() and end() report false, and the body ends with an SSE
/// `error` event (for text/event-stream, when the last write ended an event) or is cut (other
/// types: no last chunk, so the client sees an incomplete body); the session then closes.
class SessionWriter final : public ResponseWriter {
public:
    SessionWriter(beast::tcp_stream& stream,
                  const core::ServerConfig& config,
                  unsigned version,
                  bool keep_alive,
                  bool head_only,
                  std::string request_id,
                  const std::shared_ptr<core::CancelToken>& cancel,
                  const std::atomic<bool>& stopping)
        : stream_(&stream),
          config_(&config),
          version_(version),
          keep_alive_(keep_alive),
          head_only_(head_only),
          request_id_(std::move(request_id)),
          cancel_(&cancel),
          stopping_(&stopping) {}
    SessionWriter(const SessionWriter&) = delete;
    SessionWriter& operator=(const SessionWriter&) = delete;
    ~SessionWriter() override {
        disarm();
        if (flush_alive_) {
            *flush_alive_ = false;  // a flush already queued on the strand must not touch us
        }
    }

    net::awaitable<bool> send(Response response) override {
        if (phase_ != Phase::kNone) {
            co_return false;
        }
        phase_ = Phase::kDone;
        keep_alive_ = keep_alive_ && !stopping_->load(std::memory_order_relaxed);
        status_ = sent_status(response.status);
        bytes_out_ += response.body.size();
        ok_ = co_await write_response(*stream_,
                                      *config_,
                                      std::move(response),
                                      version_,
                                      keep_alive_,
                                      head_only_,
                                      request_id_);
        if (!ok_) {
            (*cancel_)->cancel();
        }
        co_return ok_;
    }

    net::awaitable<bool> begin_stream(int status,
                                      std::string content_type,
                                      std::vector<Header> headers) override {
        if (phase_ != Phase::kNone) {
            co_return false;
        }
        phase_ = Phase::kStreaming;
        keep_alive_ = keep_alive_ && !stopping_->load(std::memory_order_relaxed);
        status_ = sent_status(status);
        bhttp::response<bhttp::empty_body> head;
        head.version(version_);
        head.result(static_cast<unsigned>(status_));
        head.set(bhttp::field::server, "ragd");
        head.set(bhttp::field::content_type, content_type);
        head.set(bhttp::field::cache_control, "no-cache");
        for (const Header& header : headers) {
            head.insert(header.name, header.value);
        }
        head.set("X-Request-Id", request_id_);
        // HTTP/1.0 has no chunked encoding: the body then ends when the connection closes.
        chunked_ = version_ >= 11;
        if (chunked_) {
            head.chunked(true);
        } else {
            keep_alive_ = false;
        }
        head.keep_alive(keep_alive_);
        bhttp::serializer<false, bhttp::empty_body> serializer(head);
        event_stream_ = is_event_stream(content_type);
        arm(config_->max_stream);
        stream_->expires_after(write_time());
        auto [ec, bytes] = co_await bhttp::async_write_header(*stream_, serializer, kNoThrow);
        (void)bytes;
        co_return check(ec);
    }

    net::awaitable<bool> write(std::string_view data) override {
        if (phase_ != Phase::kStreaming || !ok_) {
            co_return false;
        }
        if (stream_expired()) {
            co_await end_expired_stream();
            co_return false;
        }
        if (data.empty() || head_only_) {
            co_return true;  // an empty chunk would end the body
        }
        bytes_out_ += data.size();
        at_event_boundary_ =
            data.ends_with("\n\n") || data.ends_with("\r\r") || data.ends_with("\r\n\r\n");
        const auto interval = config_->stream_flush;
        if (interval.count() > 0) {
            const auto now = std::chrono::steady_clock::now();
            const bool recent = now - last_send_ < interval;
            if (recent || !held_.empty()) {
                append_framed(held_, data);
                if (!recent || held_.size() >= kMaxHeldBytes) {
                    co_return co_await send_held(write_time());
                }
                arm_flush(last_send_ + interval);
                co_return ok_;
            }
            last_send_ = now;
        }
        std::size_t written = 0;
        if (!try_write_now(data, written)) {
            co_return false;
        }
        if (written == framed_size(data.size())) {
            co_return true;
        }
        // The socket took part of the frame or none of it: the rest goes on the timed path.
        append_framed(held_, data);
        held_.erase(0, written);
        co_return co_await write_held(write_time());
    }

    net::awaitable<bool> end() override {
        if (phase_ != Phase::kStreaming || !ok_) {
            co_return false;
        }
        if (stream_expired()) {
            co_await end_expired_stream();
            co_return false;
        }
        phase_ = Phase::kDone;
        disarm();
        if (!held_.empty()) {
            if (chunked_) {
                held_ += "0\r\n\r\n";  // the last chunk goes out with what was held back
            }
            co_return co_await send_held(write_time());
        }
        if (!chunked_ || head_only_) {
            co_return true;
        }
        stream_->expires_after(write_time());
        auto [ec, bytes] = co_await net::async_write(*stream_, bhttp::make_chunk_last(), kNoThrow);
        (void)bytes;
        co_return check(ec);
    }

    /// After the handler returned: when server.max_stream_ms ended its stream while it was not
    /// writing, finish the body as write() would have (the error event), so the client learns
    /// why the stream ended.
    /// Also sends what server.stream_flush_ms held back when the handler returned without
    /// end(): the client gets every byte written (the connection then closes on a cut body).
    net::awaitable<void> finish_stream() {
        if (phase_ != Phase::kStreaming || !ok_) {
            co_return;
        }
        if (stream_expired()) {
            co_await end_expired_stream();
        } else if (!held_.empty()) {
            co_await send_held(write_time());
        }
        disarm();
    }

    bool started() const override { return phase_ != Phase::kNone; }
    /// A complete response went out and the connection may be reused.
    bool complete() const { return phase_ == Phase::kDone && ok_ && !expired(); }
    /// server.max_stream_ms ended the stream: the session must close the connection.
    bool expired() const { return expiry_ && expiry_->expired; }
    bool keep_alive() const { return keep_alive_; }
    int status() const { return status_; }
    std::uint64_t bytes_out() const { return bytes_out_; }

private:
    enum class Phase { kNone, kStreaming, kDone };

    /// The bytes write() puts on the wire for `size` bytes of body.
    std::size_t framed_size(std::size_t size) const {
        if (!chunked_) {
            return size;
        }
        std::size_t digits = 1;
        for (std::size_t rest = size >> 4; rest != 0; rest >>= 4) {
            ++digits;
        }
        return digits + 2 + size + 2;  // hex size CRLF, data, CRLF
    }

    /// Streams write small pieces (SSE events) that the socket buffer almost always takes at
    /// once: a non-blocking send now skips the timer, the composed async write and a suspension
    /// per event, which were most of the CPU of relaying a token (bench/README.md). `written`
    /// gets what was sent (0 when the buffer is full); false means the connection failed.
    bool try_write_now(std::string_view data, std::size_t& written) {
        auto& socket = stream_->socket();
        beast::error_code ec;
        if (!socket.non_blocking()) {
            socket.non_blocking(true, ec);  // only synchronous calls look at this flag
            if (ec) {
                return true;  // leave it to the async path
            }
        }
        std::array<net::const_buffer, 3> pieces{};  // chunk size line, data, CRLF
        char hex[20];
        pieces[1] = net::const_buffer(data.data(), data.size());
        if (chunked_) {
            int length = std::snprintf(hex, sizeof hex, "%zx\r\n", data.size());
            pieces[0] = net::const_buffer(hex, static_cast<std::size_t>(length));
            pieces[2] = net::const_buffer("\r\n", 2);
        }
        written = socket.write_some(pieces, ec);
        if (ec == net::error::would_block || ec == net::error::try_again) {
            written = 0;
            return true;
        }
        return check(ec);
    }

    bool check(const beast::error_code& ec) {
        if (ec) {
            ok_ = false;
            (*cancel_)->cancel();
        }
        return ok_;
    }

    /// Starts the stream's lifetime: when it passes, the request is cancelled (so upstream work
    /// stops even while the handler waits rather than writes).
    void arm(std::chrono::milliseconds lifetime) {
        stream_deadline_ = std::chrono::steady_clock::now() + lifetime;
        expiry_ = std::make_shared<StreamExpiry>();
        expiry_->cancel = *cancel_;
        stream_timer_.emplace(stream_->get_executor(), stream_deadline_);
        stream_timer_->async_wait([expiry = expiry_](const beast::error_code& ec) {
            if (ec || !expiry->armed) {
                return;
            }
            expiry->expired = true;
            expiry->cancel->cancel();
        });
    }

    void disarm() {
        if (expiry_) {
            expiry_->armed = false;
            stream_timer_->cancel();
        }
        if (flush_timer_) {
            flush_timer_->cancel();
        }
    }

    /// Also true when the deadline passed but the timer's handler has not run yet.
    bool stream_expired() {
        if (!expiry_) {
            return false;
        }
        if (!expiry_->expired && expiry_->armed &&
            std::chrono::steady_clock::now() >= stream_deadline_) {
            expiry_->expired = true;
            expiry_->cancel->cancel();
        }
        return expiry_->expired;
    }

    /// A write's time limit: the body timeout, but never past the stream's deadline (a client
    /// that stops reading cannot stretch a stream beyond server.max_stream_ms).
    std::chrono::steady_clock::duration write_time() const {
        if (!expiry_) {
            return config_->body_timeout;
        }
        const auto left = stream_deadline_ - std::chrono::steady_clock::now();
        return std::clamp<std::chrono::steady_clock::duration>(
            left, std::chrono::milliseconds(1), config_->body_timeout);
    }

    /// Ends an expired stream once: an SSE error event and the last chunk when that can be
    /// done cleanly, else nothing (the connection closes on a cut body).
    net::awaitable<void> end_expired_stream() {
        phase_ = Phase::kDone;
        disarm();
        expiry_->expired = true;
        if (!ok_ || head_only_) {
            co_return;
        }
        if (event_stream_ && at_event_boundary_) {
            const std::string message = "streamed response exceeded server.max_stream_ms (" +
                                        std::to_string(config_->max_stream.count()) + " ms)";
            const std::string event =
                "event: error\ndata: " + Response::error(504, "timeout", message).body + "\n\n";
            append_framed(held_, event);
            if (chunked_) {
                held_ += "0\r\n\r\n";
            }
            bytes_out_ += event.size();
        }
        // Else the body is cut where it is (the connection closes); what was held back still
        // goes out first.
        if (!held_.empty()) {
            co_await send_held(std::min<std::chrono::steady_clock::duration>(config_->body_timeout,
                                                                             kStreamEndWriteTime));
        }
    }

    /// Appends `data` to `out` as write() puts it on the wire (one chunk when chunked).
    void append_framed(std::string& out, std::string_view data) const {
        if (chunked_) {
            char hex[20];
            const int length = std::snprintf(hex, sizeof hex, "%zx\r\n", data.size());
            out.append(hex, static_cast<std::size_t>(length));
            out.append(data);
            out += "\r\n";
        } else {
            out.append(data);
        }
    }

    /// Writes held_ now: a non-blocking send first, the rest on the timed async path.
    net::awaitable<bool> send_held(std::chrono::steady_clock::duration time_limit) {
        if (!send_held_now()) {
            co_return false;
        }
        co_return co_await write_held(time_limit);
    }

    /// Writes all of held_ on the timed async path (the flush timer stays off meanwhile).
    net::awaitable<bool> write_held(std::chrono::steady_clock::duration time_limit) {
        if (held_.empty()) {
            co_return true;
        }
        async_writing_ = true;
        stream_->expires_after(time_limit);
        auto [ec, bytes] = co_await net::async_write(*stream_, net::buffer(held_), kNoThrow);
        (void)bytes;
        async_writing_ = false;
        held_.clear();
        co_return check(ec);
    }

    /// One non-blocking send of held_, keeping what the socket did not take; false when the
    /// connection failed.
    bool send_held_now() {
        last_send_ = std::chrono::steady_clock::now();
        auto& socket = stream_->socket();
        beast::error_code ec;
        if (!socket.non_blocking()) {
            socket.non_blocking(true, ec);
            if (ec) {
                return true;  // leave it to the async path
            }
        }
        const std::size_t written = socket.write_some(net::buffer(held_), ec);
        if (ec == net::error::would_block || ec == net::error::try_again) {
            return true;
        }
        if (!check(ec)) {
            held_.clear();
            return false;
        }
        held_.erase(0, written);
        return true;
    }

    /// server.stream_flush_ms: sends what write() held back at `at`, unless the handler's own
    /// write or end() sent it first. The timer runs on the session's strand, between the
    /// handler's steps; it never starts an async write of its own (only the handler's coroutine
    /// does), so a client that stops reading is retried each interval and otherwise left to
    /// the next write() or end().
    void arm_flush(std::chrono::steady_clock::time_point at) {
        if (flush_armed_) {
            return;
        }
        if (!flush_timer_) {
            flush_timer_.emplace(stream_->get_executor());
            flush_alive_ = std::make_shared<bool>(true);
        }
        flush_armed_ = true;
        // Due times rounded up to a shared grid: the flushes of many streams then fire in one
        // wake-up of the I/O thread instead of one wake-up each (which cost what the saved
        // sends did).
        const auto grid =
            std::min<std::chrono::steady_clock::duration>(config_->stream_flush, kFlushGrid);
        const auto since_epoch = at.time_since_epoch();
        flush_timer_->expires_at(std::chrono::steady_clock::time_point(
            (since_epoch + grid - std::chrono::steady_clock::duration(1)) / grid * grid));
        flush_timer_->async_wait([this, alive = flush_alive_](const beast::error_code& ec) {
            if (!*alive) {
                return;
            }
            flush_armed_ = false;
            if (ec || !ok_ || async_writing_ || held_.empty()) {
                return;
            }
            const auto due = last_send_ + config_->stream_flush;
            if (std::chrono::steady_clock::now() < due) {
                arm_flush(due);  // the handler sent meanwhile: keep the interval from then
                return;
            }
            if (send_held_now() && !held_.empty()) {
                arm_flush(last_send_ + config_->stream_flush);
            }
        });
    }

    beast::tcp_stream* stream_;
    const core::ServerConfig* config_;
    unsigned version_;
    bool keep_alive_;
    bool head_only_;
    std::string request_id_;
    const std::shared_ptr<core::CancelToken>* cancel_;
    const std::atomic<bool>* stopping_;
    std::optional<net::steady_timer> stream_timer_;  ///< made when a stream begins
    std::chrono::steady_clock::time_point stream_deadline_{};
    std::shared_ptr<StreamExpiry> expiry_;  ///< set once the stream has begun
    Phase phase_ = Phase::kNone;
    bool chunked_ = true;
    bool event_stream_ = false;
    /// The body so far ends between SSE events (nothing written yet counts), so an error event
    /// appended now is parsed as an event of its own.
    bool at_event_boundary_ = true;
    bool ok_ = true;
    int status_ = 500;
    std::uint64_t bytes_out_ = 0;
    /// server.stream_flush_ms: framed bytes written by the handler and not yet sent, so that
    /// pieces written close together leave in one send (one system call and one wake-up of
    /// the client instead of one per token).
    std::string held_;
    /// When bytes last went to the socket (the interval counts from here).
    std::chrono::steady_clock::time_point last_send_{};
    std::optional<net::steady_timer> flush_timer_;  ///< made on the first held write
    std::shared_ptr<bool> flush_alive_;             ///< false once this writer is gone
    bool flush_armed_ = false;
    bool async_writing_ = false;  ///< the handler's coroutine has an async write of held_ out
};

class SessionContext final : public RequestContext {
public:
    SessionContext(ServerState& state,
                   std::shared_ptr<core::CancelToken> cancel,
                   net::any_io_executor executor)
        : state_(&state), cancel_(std::move(cancel)), executor_(std::move(executor)) {}

    const std::shared_ptr<core::CancelToken>& cancel() const override { return cancel_; }
    net::any_io_executor executor() const override { return executor_; }

    net::awaitable<bool> run_compute(std::function<void()> work) override {
        return run(std::move(work), Placement::kPool);
    }

    net::awaitable<bool> run_quick(std::function<void()> work) override {
        const core::ServerConfig& config = state_->config;
        return run(std::move(work),
                   config.inline_queries        ? Placement::kHere
                   : config.inline_idle_queries ? Placement::kHereWhenIdle
                                                : Placement::kPool);
    }

    void annotate(std::string_view key, std::string value) override {
        annotations_.push_back(Header{std::string(key), std::move(value)});
    }
    const std::vector<Header>& annotations() const { return annotations_; }

private:
    enum class Placement {
        kPool,  ///< on the compute pool
        kHere,  ///< on this I/O thread
        /// On this I/O thread when this is the only compute work running or queued (the
        /// count includes it): the pool would have nothing to do in parallel, and the trip
        /// there and back costs two thread wake-ups. Otherwise on the pool, where the queue
        /// bounds and sheds.
        kHereWhenIdle,
    };

    net::awaitable<bool> run(std::function<void()> work, Placement placement) {
        const std::size_t in_flight =
            state_->compute_in_flight.fetch_add(1, std::memory_order_relaxed) + 1;
        ComputeSlot slot(state_->compute_in_flight);
        if (in_flight > state_->config.max_queued_requests) {
            if (state_->observer != nullptr) {
                state_->observer->on_shed();
            }
            co_return false;
        }
        const bool here = placement == Placement::kHere ||
                          (placement == Placement::kHereWhenIdle && in_flight == 1);
        if (here) {
            work();  // exceptions propagate to the awaiting handler, as from the pool
            co_return true;
        }
        std::exception_ptr error;
        co_await net::co_spawn(state_->compute, run_work(&work, &error), net::use_awaitable);
        if (error) {
            std::rethrow_exception(error);
        }
        co_return true;
    }

    ServerState* state_;
    std::shared_ptr<core::CancelToken> cancel_;
    net::any_io_executor executor_;
    std::vector<Header> annotations_;
};

/// Runs an async route. Exceptions are caught here (logged, answered 500 when nothing was sent
/// yet); returns how the response went.
net::awaitable<void> invoke_async_handler(const Route& route,
                                          Request request,
                                          SessionWriter& writer,
                                          SessionContext& context) {
    std::string failure;
    try {
        co_await route.async_handler(std::move(request), writer, context);
    } catch (const std::exception& error) {
        failure = error.what();
    } catch (...) {
        failure = "a non-std exception";
    }
    if (!failure.empty()) {
        std::fprintf(stderr,
                     "ragd http: handler for %s %s threw: %s\n",
                     method_name(route.method),
                     route.pattern.c_str(),
                     failure.c_str());
    }
    if (!writer.started()) {
        // A handler that threw, or returned without answering: a bug either way.
        co_await writer.send(Response::error(500,
                                             "internal",
                                             std::string("internal error while handling ") +
                                                 method_name(route.method) + " " + route.pattern));
    }
}

/// The answer to a request on a connection over server.max_connections_per_ip.
Response too_many_connections(const core::ServerConfig& config, const std::string& address) {
    Response response = Response::error(
        503,
        "too_many_connections",
        "client address " + address + " already has " +
            std::to_string(config.max_connections_per_ip) +
            " open connections (server.max_connections_per_ip); reuse them or retry later");
    response.headers.push_back(Header{"Retry-After", "1"});
    return response;
}

/// What the connection does after one request.
enum class Next {
    kRead,  ///< keep the connection: read the next request
    kStop,  ///< the connection is done (closed, failed or answered its last request)
};

/// One request of a connection: reads its head (and body) from `buffer` and `stream`, runs
/// its handler and writes the response. Its own coroutine, so that its frame (Beast's parser,
/// the request, the response, the handler's writer) exists only while a request is being
/// served: an idle keep-alive connection keeps just serve()'s small frame.
net::awaitable<Next> serve_one(beast::tcp_stream& stream,
                               ServerState& state,
                               ActiveRequest& active,
                               beast::flat_buffer& buffer,
                               const std::string& remote_address,
                               std::size_t& requests_served,
                               bool first,
                               std::chrono::steady_clock::time_point head_deadline,
                               bool over_address_limit) {
    const core::ServerConfig& config = state.config;
    Parser parser;
    parser.header_limit(
        static_cast<std::uint32_t>(std::min<std::size_t>(config.max_header_bytes, UINT32_MAX)));
    // The body limit depends on the route, known only after the head; Beast would otherwise
    // reject a large Content-Length against its 1 MiB default while parsing the head.
    parser.body_limit(boost::none);
    if (first) {
        stream.expires_at(head_deadline);  // counted from the connection's start
    } else {
        stream.expires_after(config.header_timeout);
    }
    auto [head_ec, head_bytes] =
        co_await bhttp::async_read_header(stream, buffer, parser, kNoThrow);
    (void)head_bytes;
    if (head_ec == bhttp::error::header_limit) {
        RequestReport report(state.observer);
        const std::string error_id = generate_request_id();
        report.set_request_id(error_id);
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
            error_id);
        report.done(kUnmatchedRoute, Method::kOther, 431);
        co_await close_gracefully(stream);
        co_return Next::kStop;
    }
    if (head_ec) {
        if (is_malformed_request(head_ec)) {
            RequestReport report(state.observer);
            const std::string error_id = generate_request_id();
            report.set_request_id(error_id);
            co_await write_response(
                stream,
                config,
                Response::error(400, "bad_request", "malformed request head: " + head_ec.message()),
                11,
                false,
                false,
                error_id);
            report.done(kUnmatchedRoute, Method::kOther, 400);
            co_await close_gracefully(stream);
        }
        // Timeouts, resets, EOF between requests and stop() just end the connection.
        co_return Next::kStop;
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
    const auto traceparent = request.header("traceparent");
    const auto tracestate = request.header("tracestate");
    const TraceContext trace =
        TraceContext::from_headers(traceparent.value_or(""), tracestate.value_or(""));
    request.trace_id = trace.trace_id();
    request.traceparent = trace.traceparent();
    request.tracestate = trace.tracestate();
    report.describe(request);
    const std::string request_id = request.request_id;  // request moves to the pool
    const Method method = request.method;
    const bool head_only = method == Method::kHead;
    // While draining, answer but ask the client to reconnect (to another replica). The
    // connection's last allowed request is answered with Connection: close too.
    ++requests_served;
    const bool last_allowed = config.max_requests_per_connection != 0 &&
                              requests_served >= config.max_requests_per_connection;
    bool keep_alive = parser.get().keep_alive() &&
                      !state.draining.load(std::memory_order_relaxed) && !last_allowed;

    if (over_address_limit) {
        // Answered after its head, so the client reads a response to the request it sent.
        co_await write_response(stream,
                                config,
                                too_many_connections(config, remote_address),
                                version,
                                false,
                                head_only,
                                request_id);
        report.done(check.match.route != nullptr ? std::string_view(check.match.route->pattern)
                                                 : kUnmatchedRoute,
                    method,
                    503);
        co_await close_gracefully(stream);
        co_return Next::kStop;
    }

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
            co_return Next::kStop;
        }
        if (!keep_alive) {
            co_await close_gracefully(stream);
            co_return Next::kStop;
        }
        active.busy = false;
        co_return Next::kRead;
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
                co_return Next::kStop;
            }
        }
        stream.expires_after(config.body_timeout);
        auto [body_ec, body_bytes] = co_await bhttp::async_read(stream, buffer, parser, kNoThrow);
        (void)body_bytes;
        if (body_ec == bhttp::error::body_limit) {
            co_await write_response(
                stream,
                config,
                Response::error(413,
                                "payload_too_large",
                                "request body exceeds the limit of " +
                                    std::to_string(route.options.max_body_bytes) + " bytes for " +
                                    method_name(request.method) + " " + route.pattern),
                version,
                false,
                head_only,
                request_id);
            report.done(route.pattern, method, 413);
            co_await close_gracefully(stream);
            co_return Next::kStop;
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
            co_return Next::kStop;
        }
        request.body = std::move(parser.get().body());
    }
    const std::uint64_t body_bytes_in = request.body.size();
    // From here the request runs to completion during a drain; a connection still sending
    // its head or body is closed instead (the client got nothing and may retry elsewhere).
    active.busy = true;

    if (route.async_handler) {
        auto cancel = core::CancelToken::create();
        active.cancel = cancel;
        SessionWriter writer(stream,
                             config,
                             version,
                             keep_alive,
                             head_only,
                             request_id,
                             active.cancel,
                             state.stopping);
        SessionContext context(state, cancel, stream.get_executor());
        auto watch = std::make_shared<DisconnectWatch>(stream, cancel);
        if (buffer.size() == 0) {
            watch->arm();  // with pipelined bytes already buffered, EOF can't be seen
        }
        co_await invoke_async_handler(route, std::move(request), writer, context);
        co_await writer.finish_stream();
        watch->finish();
        active.cancel.reset();
        report.set_bytes(body_bytes_in, writer.bytes_out());
        report.set_annotations(&context.annotations());
        report.done(route.pattern, method, writer.status());
        if (writer.expired()) {
            // Ended by server.max_stream_ms: the client got what could be sent; close
            // gracefully so it is not destroyed by a reset.
            co_await close_gracefully(stream);
            co_return Next::kStop;
        }
        if (!writer.complete() || cancel->cancelled()) {
            co_return Next::kStop;
        }
        active.busy = false;
        if (!writer.keep_alive() || state.stopping.load(std::memory_order_relaxed)) {
            co_await close_gracefully(stream);
            co_return Next::kStop;
        }
        co_return Next::kRead;
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
    report.set_bytes(body_bytes_in, head_only ? 0 : response.body.size());
    const bool written = co_await write_response(
        stream, config, std::move(response), version, keep_alive, head_only, request_id);
    report.done(route.pattern, method, status);
    if (!written) {
        co_return Next::kStop;
    }
    active.busy = false;
    if (!keep_alive) {
        co_await close_gracefully(stream);
        co_return Next::kStop;
    }
    co_return Next::kRead;
}

/// The request loop. `stream` and `state` outlive it: run_session co_awaits it directly.
/// `received`: the first request's bytes already read, whose head must be complete by
/// `head_deadline`. `over_address_limit`: answer the first request with 503 and close.
net::awaitable<void> serve(beast::tcp_stream& stream,
                           ServerState& state,
                           ActiveRequest& active,
                           std::string_view received,
                           std::chrono::steady_clock::time_point head_deadline,
                           bool over_address_limit) {
    const core::ServerConfig& config = state.config;
    std::size_t requests_served = 0;
    beast::error_code endpoint_error;
    const auto remote = stream.socket().remote_endpoint(endpoint_error);
    const std::string remote_address = endpoint_error ? "" : remote.address().to_string();

    // Survives across requests: with pipelining it already holds the next request's bytes.
    beast::flat_buffer buffer;
    buffer.commit(net::buffer_copy(buffer.prepare(received.size()), net::buffer(received)));
    for (bool first = true; !state.stopping.load(std::memory_order_relaxed); first = false) {
        if (!first && buffer.size() == 0) {
            // Between requests the idle timeout applies; the head timeout starts when the
            // socket turns readable. An idle keep-alive connection holds no buffer, no timer and
            // no timed read: it waits for readability, and the server's idle sweep closes it
            // once idle_until passes. A timed Beast read here cost ~700 bytes per idle
            // connection (bench/README.md).
            buffer.shrink_to_fit();
            stream.expires_never();
            active.idle_until.store(
                (std::chrono::steady_clock::now() + config.idle_timeout).time_since_epoch().count(),
                std::memory_order_relaxed);
            auto [ec] = co_await stream.socket().async_wait(net::socket_base::wait_read, kNoThrow);
            active.idle_until.store(0, std::memory_order_relaxed);
            if (ec) {
                co_return;
            }
        }

        const Next next = co_await serve_one(stream,
                                             state,
                                             active,
                                             buffer,
                                             remote_address,
                                             requests_served,
                                             first,
                                             head_deadline,
                                             over_address_limit);
        if (next == Next::kStop) {
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

net::awaitable<void> run_session(net::ip::tcp::socket socket,
                                 ServerState* state,
                                 ConnectionSlot slot) {
    const ConnectionReport connection_report(state->observer);
    beast::tcp_stream stream(std::move(socket));
    beast::tcp_stream* stream_ptr = &stream;
    ActiveRequest active;
    ActiveRequest* active_ptr = &active;
    // Runs on this session's strand. A drain closes idle connections only: a busy one finishes
    // its response and then closes because `stopping` is set. `force` (the drain deadline)
    // cancels the request's upstream work too.
    Registration registration(*state,
                              state->register_session(
                                  stream.get_executor(),
                                  [stream_ptr, active_ptr](bool force) {
                                      if (active_ptr->busy && !force) {
                                          return;
                                      }
                                      if (active_ptr->cancel) {
                                          active_ptr->cancel->cancel();
                                      }
                                      stream_ptr->close();
                                  },
                                  &active.idle_until));
    try {
        // The first byte is awaited in this small frame: serve()'s frame (several KiB) then
        // exists only for connections that send something, so a flood of silent connections
        // costs little memory until the head timeout closes them.
        const auto head_deadline = std::chrono::steady_clock::now() + state->config.header_timeout;
        char first_byte = 0;
        bool opened = false;
        if (!state->stopping.load(std::memory_order_relaxed)) {
            stream.expires_at(head_deadline);
            auto [ec, bytes] =
                co_await stream.async_read_some(net::mutable_buffer(&first_byte, 1), kNoThrow);
            opened = !ec && bytes == 1;
        }
        if (opened && !state->stopping.load(std::memory_order_relaxed)) {
            co_await serve(stream,
                           *state,
                           active,
                           std::string_view(&first_byte, 1),
                           head_deadline,
                           slot.over_address_limit());
        }
    } catch (const std::exception& error) {
        std::fprintf(stderr, "ragd http: connection failed: %s\n", error.what());
    }
    if (registration.release() && state->on_drained) {
        state->on_drained();
    }
}

}  // namespace ragd::http::detail
