// HttpClient: connections (TCP, CONNECT tunnel, TLS), the request/response exchange and the
// incremental body. Every operation of one use of a connection runs on that use's strand, and a
// CancelToken (which may fire on any thread) only posts an abort there. Each use of a connection
// has an id, so an abort posted for an earlier use cannot close the connection under its next
// user.
//
// A use's strand is the caller's own when the caller runs on a strand (ragd's HTTP sessions
// do): send() and read_some() then run inline in the caller's coroutine, with no hop per body
// piece; relaying a streamed answer costs one strand dispatch per token instead of three. A
// caller on a bare multi-threaded executor gets a new strand per use and hops onto it with
// co_spawn. A pooled connection moves to its next use's strand, always one of the io_context its
// socket was opened on (the pool lends it to no other): its socket and timers are idle in
// between, and Asio and Beast run every completion and timeout handler on the executor of the
// operation's handler.
#include "http/client.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <sys/socket.h>

#include "http/client_pool.hpp"
#include "http/client_url.hpp"
#include "http/tls_host_verifier.hpp"

namespace ragd::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

namespace {

constexpr auto kNoThrow = net::as_tuple(net::use_awaitable);
/// Largest body piece read_some() returns; SSE tokens are far smaller and arrive one by one.
constexpr std::size_t kPieceBytes = 16 * 1024;

long long to_ms(std::chrono::milliseconds duration) {
    return static_cast<long long>(duration.count());
}

/// The deadline of one phase, capped by the exchange's total deadline, and the kind of timeout
/// reported when it passes.
struct Deadline {
    Clock::time_point at;
    ClientErrorKind kind;
    std::chrono::milliseconds configured;
};

Deadline phase_deadline(std::chrono::milliseconds phase,
                        ClientErrorKind kind,
                        Clock::time_point total_deadline,
                        std::chrono::milliseconds total) {
    const Clock::time_point phase_end = Clock::now() + phase;
    if (total_deadline <= phase_end) {
        return Deadline{total_deadline, ClientErrorKind::kTotalTimeout, total};
    }
    return Deadline{phase_end, kind, phase};
}

bool is_ip_literal(const std::string& host) {
    error_code ec;
    (void)net::ip::make_address(host, ec);
    return !ec;
}

bool is_token_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

std::optional<bhttp::verb> to_verb(Method method) {
    switch (method) {
        case Method::kGet:
            return bhttp::verb::get;
        case Method::kHead:
            return bhttp::verb::head;
        case Method::kPost:
            return bhttp::verb::post;
        case Method::kPut:
            return bhttp::verb::put;
        case Method::kDelete:
            return bhttp::verb::delete_;
        case Method::kPatch:
            return bhttp::verb::patch;
        case Method::kOptions:
            return bhttp::verb::options;
        case Method::kOther:
            break;
    }
    return std::nullopt;
}

/// True when handlers run on `executor` one at a time: a strand of the io_context (what ragd's
/// sessions use) or of any executor.
bool is_strand(const net::any_io_executor& executor) {
    return executor.target<net::strand<net::io_context::executor_type>>() != nullptr ||
           executor.target<net::strand<net::any_io_executor>>() != nullptr;
}

/// `task` to be awaited on `strand`: as is when the caller already runs there (`here`), else
/// through co_spawn. Not a coroutine itself, so the inline case costs no extra frame.
template <class T>
net::awaitable<T> on_strand(const net::any_io_executor& strand, bool here, net::awaitable<T> task) {
    if (here) {
        return task;
    }
    return net::co_spawn(strand, std::move(task), net::use_awaitable);
}

/// Errors that mean "the peer is gone", as opposed to a malformed response.
bool is_disconnect(const error_code& ec) {
    return ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
           ec == net::error::eof || ec == net::error::connection_reset ||
           ec == net::error::connection_aborted || ec == net::error::broken_pipe ||
           ec == net::error::not_connected || ec == ssl::error::stream_truncated;
}

}  // namespace

const char* client_error_kind_name(ClientErrorKind kind) {
    switch (kind) {
        case ClientErrorKind::kConnect:
            return "connect";
        case ClientErrorKind::kTls:
            return "tls";
        case ClientErrorKind::kConnectTimeout:
            return "connect_timeout";
        case ClientErrorKind::kFirstByteTimeout:
            return "first_byte_timeout";
        case ClientErrorKind::kReadIdleTimeout:
            return "read_idle_timeout";
        case ClientErrorKind::kTotalTimeout:
            return "total_timeout";
        case ClientErrorKind::kReset:
            return "reset";
        case ClientErrorKind::kProtocol:
            return "protocol";
        case ClientErrorKind::kCancelled:
            return "cancelled";
        case ClientErrorKind::kPoolExhausted:
            return "pool_exhausted";
        case ClientErrorKind::kInvalidUrl:
            return "invalid_url";
    }
    return "unknown";
}

void throw_exception_from_error(const ClientError& error, const boost::source_location&) {
    throw ClientErrorException(error);
}

namespace detail {

/// Name resolution raced against a timer: getaddrinfo cannot be interrupted, so on a timeout or
/// cancel the coroutine moves on and the late result is dropped.
struct ResolveState {
    explicit ResolveState(const net::any_io_executor& executor)
        : resolver(executor), timer(executor) {}

    tcp::resolver resolver;
    net::steady_timer timer;
    bool done = false;
    error_code ec;
    tcp::resolver::results_type results;
};

class Connection final : public PooledConnection, public std::enable_shared_from_this<Connection> {
public:
    explicit Connection(net::any_io_executor strand_in) : strand(std::move(strand_in)) {
        plain.emplace(strand);
        affinity = ConnectionPool::context_of(strand);
    }

    /// Only while idle (just leased, before the use starts): the next use runs on `use_strand`,
    /// a strand of the same io_context (the pool sees to that).
    void move_to(net::any_io_executor use_strand) { strand = std::move(use_strand); }

    beast::tcp_stream& tcp() { return tls ? beast::get_lowest_layer(*tls) : *plain; }

    /// On the strand.
    void close() {
        if (resolving) {
            resolving->resolver.cancel();
            resolving->timer.cancel();
        }
        tcp().close();
    }

    /// On the strand: the CancelToken of use `use` fired.
    void abort_use(std::uint64_t use) {
        if (use_id.load() != use) {
            return;
        }
        cancelled = true;
        close();
    }

    bool probe_alive() override {
        if (buffer.size() != 0) {
            return false;
        }
        const int fd = tcp().socket().native_handle();
        char byte = 0;
        const ssize_t got = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        if (got == 0) {
            return false;  // the upstream closed it while it was idle
        }
        if (got < 0) {
            return errno == EAGAIN || errno == EWOULDBLOCK;
        }
        // Unsolicited bytes: garbage on plain HTTP. Under TLS they may be a post-handshake
        // message (TLS 1.3 session tickets) that the next read consumes; a close_notify there is
        // caught by the retry of a reused connection.
        return tls.has_value();
    }

    void close_async() override {
        net::post(strand, [self = shared_from_this()] { self->close(); });
    }

    /// The strand of the current use (see move_to()); every operation runs there.
    net::any_io_executor strand;
    std::optional<beast::tcp_stream> plain;  ///< until TLS takes it over
    std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
    beast::flat_buffer buffer;
    std::optional<bhttp::response_parser<bhttp::buffer_body>> parser;
    std::atomic<std::uint64_t> use_id{0};
    // Strand only:
    bool cancelled = false;
    std::shared_ptr<ResolveState> resolving;
};

/// A body being read: owned by the ClientResponse and by the read in progress.
struct ResponseState {
    std::shared_ptr<ConnectionPool> pool;
    std::shared_ptr<Connection> connection;  ///< null once done or failed
    net::any_io_executor strand;
    std::unique_ptr<core::CancelRegistration> registration;
    Clock::time_point total_deadline;
    std::chrono::milliseconds total_timeout{0};
    std::chrono::milliseconds read_idle_timeout{0};
    std::string upstream;  ///< for messages
    bool done = false;
    std::optional<ClientError> failure;
    // The body's read timeouts: one timer per use that re-arms itself at most once per
    // read_idle_timeout, instead of a timer started and cancelled around every read (two trips
    // through the strand per streamed token). On the use's strand only.
    std::optional<net::steady_timer> watchdog;
    bool watchdog_armed = false;
    std::optional<Deadline> waiting;  ///< the deadline of the read in progress, if any
    bool timed_out = false;           ///< the watchdog cancelled the read in progress
    std::array<char, kPieceBytes> scratch{};
};

}  // namespace detail

using detail::Connection;
using detail::ConnectionPool;
using detail::ResponseState;

namespace detail {

struct ClientImpl {
    net::any_io_executor executor;
    ClientOptions options;
    std::optional<ClientError> config_error;
    UpstreamUrl target;
    std::optional<UpstreamUrl> proxy;
    std::shared_ptr<ssl::context> tls_context;
    std::shared_ptr<ConnectionPool> pool;
    std::string upstream;  ///< "https://host:port", no credentials: for messages
};

}  // namespace detail

using detail::ClientImpl;

namespace {

using OutboundRequest = bhttp::request<bhttp::string_body>;

struct Problem {
    ClientErrorKind kind;
    std::string message;
};

/// Every problem with `options`; fills the route and TLS context of `impl` when given.
std::vector<Problem> check_options(const ClientOptions& options, ClientImpl* impl) {
    std::vector<Problem> problems;
    auto target = parse_upstream_url(options.base_url);
    if (!target) {
        problems.push_back({ClientErrorKind::kInvalidUrl, "base_url: " + target.error().detail});
    } else {
        auto proxy = select_proxy(*target, options.proxy_url, process_env);
        if (!proxy) {
            problems.push_back({ClientErrorKind::kInvalidUrl, proxy.error().detail});
        } else if (impl != nullptr) {
            impl->target = *target;
            impl->proxy = *proxy;
        }
        if (target->https) {
            auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
            SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
            error_code ec;
            context->set_default_verify_paths(ec);
            if (ec) {
                problems.push_back(
                    {ClientErrorKind::kTls, "cannot load the system CA store: " + ec.message()});
            }
            if (!options.ca_file.empty()) {
                context->load_verify_file(options.ca_file, ec);
                if (ec) {
                    problems.push_back({ClientErrorKind::kTls,
                                        "ca_file \"" + options.ca_file +
                                            "\" is not a readable PEM CA bundle: " + ec.message()});
                }
            }
            context->set_verify_mode(options.verify_tls ? ssl::verify_peer : ssl::verify_none);
            if (impl != nullptr) {
                impl->tls_context = std::move(context);
            }
        }
    }
    if (options.max_connections == 0) {
        problems.push_back({ClientErrorKind::kInvalidUrl, "max_connections must be at least 1"});
    }
    return problems;
}

ClientError make_error(ClientErrorKind kind, const std::string& upstream, std::string_view what) {
    return ClientError{kind, "upstream " + upstream + ": " + std::string(what)};
}

ClientError timeout_error(const Deadline& deadline,
                          const std::string& upstream,
                          std::string_view phase) {
    return make_error(deadline.kind,
                      upstream,
                      std::string(client_error_kind_name(deadline.kind)) + " (" +
                          std::to_string(to_ms(deadline.configured)) + " ms) passed " +
                          std::string(phase));
}

/// Maps a failed I/O on `connection` to a ClientError.
ClientError io_error(const error_code& ec,
                     const Connection& connection,
                     const Deadline& deadline,
                     const std::string& upstream,
                     std::string_view phase) {
    if (connection.cancelled) {
        return make_error(ClientErrorKind::kCancelled, upstream, "cancelled " + std::string(phase));
    }
    if (ec == beast::error::timeout) {
        return timeout_error(deadline, upstream, phase);
    }
    if (ec == bhttp::error::header_limit) {
        return make_error(ClientErrorKind::kProtocol,
                          upstream,
                          "response head exceeds max_response_head_bytes " + std::string(phase));
    }
    if (is_disconnect(ec)) {
        return make_error(ClientErrorKind::kReset,
                          upstream,
                          "connection closed " + std::string(phase) + ": " + ec.message());
    }
    if (ec.category() == bhttp::make_error_code(bhttp::error::bad_version).category()) {
        return make_error(ClientErrorKind::kProtocol,
                          upstream,
                          "malformed response " + std::string(phase) + ": " + ec.message());
    }
    return make_error(
        ClientErrorKind::kReset, upstream, "I/O error " + std::string(phase) + ": " + ec.message());
}

ClientResult<OutboundRequest> build_request(ClientRequest request, const ClientImpl& impl) {
    const auto verb = to_verb(request.method);
    if (!verb) {
        return make_error(ClientErrorKind::kProtocol, impl.upstream, "unsupported request method");
    }
    for (const char c : request.target) {
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '#') {
            return make_error(ClientErrorKind::kInvalidUrl,
                              impl.upstream,
                              "request target contains a space, control character or '#'");
        }
    }
    if (!request.target.empty() && request.target.front() != '/' && request.target.front() != '?') {
        return make_error(
            ClientErrorKind::kInvalidUrl, impl.upstream, "request target must start with '/'");
    }
    std::string target = impl.target.path_prefix + request.target;
    if (target.empty() || target.front() == '?') {
        target.insert(0, "/");
    }
    const bool absolute_form = impl.proxy && !impl.target.https;
    if (absolute_form) {
        target.insert(0, "http://" + impl.target.host_header());
    }
    OutboundRequest out{*verb, target, 11};
    bool has_host = false;
    bool has_connection = false;
    for (Header& header : request.headers) {
        if (header.name.empty() ||
            !std::all_of(header.name.begin(), header.name.end(), is_token_char)) {
            return make_error(ClientErrorKind::kProtocol,
                              impl.upstream,
                              "a request header name is not an HTTP token");
        }
        if (header.value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
            // Name the header but never its value: it may be an API key.
            return make_error(
                ClientErrorKind::kProtocol,
                impl.upstream,
                "request header \"" + header.name + "\" has a value with CR, LF or NUL");
        }
        if (iequals(header.name, "content-length") || iequals(header.name, "transfer-encoding")) {
            continue;
        }
        has_host = has_host || iequals(header.name, "host");
        has_connection = has_connection || iequals(header.name, "connection");
        out.insert(header.name, header.value);
    }
    if (!has_host) {
        out.set(bhttp::field::host, impl.target.host_header());
    }
    if (!has_connection) {
        out.set(bhttp::field::connection, "keep-alive");
    }
    if (absolute_form && !impl.proxy->userinfo.empty()) {
        out.set(bhttp::field::proxy_authorization,
                "Basic " + basic_credentials(impl.proxy->userinfo));
    }
    const bool body_expected =
        *verb == bhttp::verb::post || *verb == bhttp::verb::put || *verb == bhttp::verb::patch;
    if (!request.body.empty() || body_expected) {
        out.content_length(request.body.size());
    }
    out.body() = std::move(request.body);
    return out;
}

net::awaitable<ClientResult<void>> resolve_and_connect(Connection& connection,
                                                       const UpstreamUrl& peer,
                                                       const Deadline& deadline,
                                                       const std::string& upstream) {
    std::vector<tcp::endpoint> endpoints;
    error_code address_error;
    const net::ip::address address = net::ip::make_address(peer.host, address_error);
    if (!address_error) {
        endpoints.emplace_back(address, peer.port);
    } else {
        auto state = std::make_shared<detail::ResolveState>(connection.strand);
        connection.resolving = state;
        state->timer.expires_at(deadline.at);
        state->resolver.async_resolve(
            peer.host,
            std::to_string(peer.port),
            net::bind_executor(connection.strand,
                               [state](const error_code& ec, tcp::resolver::results_type results) {
                                   state->done = true;
                                   state->ec = ec;
                                   state->results = std::move(results);
                                   state->timer.cancel();
                               }));
        auto [timer_ec] = co_await state->timer.async_wait(kNoThrow);
        (void)timer_ec;
        connection.resolving.reset();
        if (connection.cancelled) {
            co_return make_error(
                ClientErrorKind::kCancelled, upstream, "cancelled while resolving");
        }
        if (!state->done) {
            state->resolver.cancel();
            co_return timeout_error(deadline, upstream, "resolving " + peer.host);
        }
        if (state->ec || state->results.empty()) {
            co_return make_error(ClientErrorKind::kConnect,
                                 upstream,
                                 "cannot resolve \"" + peer.host + "\": " + state->ec.message());
        }
        for (const auto& entry : state->results) {
            endpoints.push_back(entry.endpoint());
        }
    }
    beast::tcp_stream& stream = *connection.plain;
    stream.expires_at(deadline.at);
    auto [ec, endpoint] = co_await stream.async_connect(endpoints, kNoThrow);
    (void)endpoint;
    if (ec) {
        if (connection.cancelled || ec == beast::error::timeout) {
            co_return io_error(
                ec, connection, deadline, upstream, "connecting to " + peer.authority());
        }
        co_return make_error(ClientErrorKind::kConnect,
                             upstream,
                             "cannot connect to " + peer.authority() + ": " + ec.message());
    }
    error_code ignored;
    stream.socket().set_option(tcp::no_delay(true), ignored);
    co_return ClientResult<void>();
}

/// Asks the proxy for a tunnel to the upstream (RFC 9110 CONNECT).
net::awaitable<ClientResult<void>> open_tunnel(Connection& connection,
                                               const UpstreamUrl& target,
                                               const UpstreamUrl& proxy,
                                               const Deadline& deadline,
                                               const std::string& upstream) {
    bhttp::request<bhttp::empty_body> request{bhttp::verb::connect, target.authority(), 11};
    request.set(bhttp::field::host, target.authority());
    if (!proxy.userinfo.empty()) {
        request.set(bhttp::field::proxy_authorization,
                    "Basic " + basic_credentials(proxy.userinfo));
    }
    beast::tcp_stream& stream = *connection.plain;
    stream.expires_at(deadline.at);
    auto [write_ec, written] = co_await bhttp::async_write(stream, request, kNoThrow);
    (void)written;
    if (write_ec) {
        co_return io_error(
            write_ec, connection, deadline, upstream, "sending CONNECT to the proxy");
    }
    bhttp::response_parser<bhttp::empty_body> parser;
    parser.skip(true);  // a 2xx answer to CONNECT has no body: the tunnel starts after the head
    auto [read_ec, read] = co_await bhttp::async_read(stream, connection.buffer, parser, kNoThrow);
    (void)read;
    if (read_ec) {
        ClientError error =
            io_error(read_ec, connection, deadline, upstream, "reading the proxy's CONNECT answer");
        if (error.kind == ClientErrorKind::kReset) {
            error.kind = ClientErrorKind::kConnect;
        }
        co_return error;
    }
    const unsigned status = parser.get().result_int();
    if (status < 200 || status > 299) {
        co_return make_error(ClientErrorKind::kConnect,
                             upstream,
                             "proxy " + proxy.authority() + " refused CONNECT with status " +
                                 std::to_string(status));
    }
    if (connection.buffer.size() != 0) {
        co_return make_error(
            ClientErrorKind::kProtocol, upstream, "proxy sent data before the TLS handshake");
    }
    co_return ClientResult<void>();
}

net::awaitable<ClientResult<void>> handshake(Connection& connection,
                                             ssl::context& context,
                                             const UpstreamUrl& target,
                                             bool verify,
                                             const Deadline& deadline,
                                             const std::string& upstream) {
    connection.tls.emplace(std::move(*connection.plain), context);
    connection.plain.reset();
    auto& tls = *connection.tls;
    const bool ip = is_ip_literal(target.host);
    // RFC 6066: SNI carries host names only, never addresses.
    if (!ip && SSL_set_tlsext_host_name(tls.native_handle(), target.host.c_str()) != 1) {
        co_return make_error(ClientErrorKind::kTls, upstream, "cannot set the TLS server name");
    }
    if (verify) {
        tls.set_verify_mode(ssl::verify_peer);
        tls.set_verify_callback(TlsHostVerifier(target.host, ip));
    } else {
        tls.set_verify_mode(ssl::verify_none);
    }
    connection.tcp().expires_at(deadline.at);
    auto [ec] = co_await tls.async_handshake(ssl::stream_base::client, kNoThrow);
    if (!ec) {
        co_return ClientResult<void>();
    }
    if (connection.cancelled || ec == beast::error::timeout) {
        co_return io_error(ec, connection, deadline, upstream, "during the TLS handshake");
    }
    std::string reason = "TLS handshake failed: " + ec.message();
    const long verify_result = SSL_get_verify_result(tls.native_handle());
    if (verify_result != X509_V_OK) {
        reason += " (" + std::string(X509_verify_cert_error_string(verify_result));
        if (verify_result == X509_V_ERR_HOSTNAME_MISMATCH ||
            verify_result == X509_V_ERR_IP_ADDRESS_MISMATCH) {
            reason += ": the certificate is not for \"" + target.host + "\"";
        }
        reason += ")";
    }
    co_return make_error(ClientErrorKind::kTls, upstream, reason);
}

net::awaitable<ClientResult<void>> connect(Connection& connection,
                                           const ClientImpl& impl,
                                           Clock::time_point total_deadline) {
    const ClientOptions& options = impl.options;
    const Deadline deadline = phase_deadline(options.connect_timeout,
                                             ClientErrorKind::kConnectTimeout,
                                             total_deadline,
                                             options.total_timeout);
    const UpstreamUrl& peer = impl.proxy ? *impl.proxy : impl.target;
    auto connected = co_await resolve_and_connect(connection, peer, deadline, impl.upstream);
    if (!connected) {
        co_return connected;
    }
    if (impl.target.https) {
        if (impl.proxy) {
            auto tunnel =
                co_await open_tunnel(connection, impl.target, *impl.proxy, deadline, impl.upstream);
            if (!tunnel) {
                co_return tunnel;
            }
        }
        co_return co_await handshake(connection,
                                     *impl.tls_context,
                                     impl.target,
                                     options.verify_tls,
                                     deadline,
                                     impl.upstream);
    }
    co_return ClientResult<void>();
}

/// Writes the request and reads the response head (skipping 1xx interim responses).
net::awaitable<error_code> write_and_read_head(Connection& connection,
                                               OutboundRequest& request,
                                               const ClientOptions& options,
                                               Clock::time_point total_deadline,
                                               Deadline& deadline) {
    deadline = phase_deadline(options.first_byte_timeout,
                              ClientErrorKind::kFirstByteTimeout,
                              total_deadline,
                              options.total_timeout);
    connection.tcp().expires_at(deadline.at);
    error_code ec;
    if (connection.tls) {
        std::tie(ec, std::ignore) = co_await bhttp::async_write(*connection.tls, request, kNoThrow);
    } else {
        std::tie(ec, std::ignore) =
            co_await bhttp::async_write(*connection.plain, request, kNoThrow);
    }
    if (ec) {
        connection.parser.emplace();  // so that got_some() is false for the retry decision
        co_return ec;
    }
    // first_byte_timeout counts from the moment the request is sent.
    deadline = phase_deadline(options.first_byte_timeout,
                              ClientErrorKind::kFirstByteTimeout,
                              total_deadline,
                              options.total_timeout);
    connection.tcp().expires_at(deadline.at);
    for (;;) {
        connection.parser.emplace();
        auto& parser = *connection.parser;
        parser.header_limit(static_cast<std::uint32_t>(
            std::min<std::size_t>(options.max_response_head_bytes, UINT32_MAX)));
        parser.body_limit(boost::none);  // read_all() has its own limit; streams have none
        if (request.method() == bhttp::verb::head) {
            parser.skip(true);
        }
        if (connection.tls) {
            std::tie(ec, std::ignore) = co_await bhttp::async_read_header(
                *connection.tls, connection.buffer, parser, kNoThrow);
        } else {
            std::tie(ec, std::ignore) = co_await bhttp::async_read_header(
                *connection.plain, connection.buffer, parser, kNoThrow);
        }
        if (ec) {
            co_return ec;
        }
        const unsigned status = parser.get().result_int();
        if (status >= 200 || status == 101) {
            co_return ec;
        }
        // A 1xx interim response (e.g. 100 Continue): the real one follows.
    }
}

void stop_watchdog(ResponseState& state) {
    if (state.watchdog) {
        state.watchdog->cancel();
    }
    state.watchdog_armed = false;
    state.waiting.reset();
}

void arm_watchdog(const std::shared_ptr<ResponseState>& state, Clock::time_point at);

/// On the use's strand: the watchdog's time came. A read still waiting past its deadline is
/// cancelled (read_piece() then reports the timeout); otherwise the watchdog sleeps until the
/// current read's deadline, or until the next read starts one.
void on_watchdog(const std::shared_ptr<ResponseState>& state) {
    if (!state->connection || !state->waiting) {
        state->watchdog_armed = false;
        return;
    }
    if (Clock::now() >= state->waiting->at) {
        state->timed_out = true;
        error_code ignored;
        state->connection->tcp().socket().cancel(ignored);
        state->watchdog_armed = false;
        return;
    }
    arm_watchdog(state, state->waiting->at);
}

void arm_watchdog(const std::shared_ptr<ResponseState>& state, Clock::time_point at) {
    if (!state->watchdog) {
        state->watchdog.emplace(state->strand);
    }
    state->watchdog_armed = true;
    state->watchdog->expires_at(at);
    // Weak: a pending wait must not keep an abandoned response alive.
    state->watchdog->async_wait([weak = std::weak_ptr<ResponseState>(state)](error_code ec) {
        if (ec) {
            return;  // cancelled: the body ended or the response is gone
        }
        if (auto alive = weak.lock()) {
            on_watchdog(alive);
        }
    });
}

/// Ends a body that was read to the end: the connection goes back to the pool when it can.
void finish_body(ResponseState& state) {
    std::shared_ptr<Connection> connection = std::move(state.connection);
    connection->use_id.fetch_add(1);  // aborts posted for this use become no-ops
    state.registration.reset();
    stop_watchdog(state);
    const bool reusable = !connection->cancelled && connection->parser->keep_alive() &&
                          connection->buffer.size() == 0;
    connection->parser.reset();
    state.done = true;
    if (!reusable) {
        connection->close();  // now, on its strand: the caller may count descriptors next
    }
    state.pool->release(std::move(connection), reusable);
}

ClientError fail_body(ResponseState& state, ClientError error) {
    std::shared_ptr<Connection> connection = std::move(state.connection);
    connection->use_id.fetch_add(1);
    state.registration.reset();
    stop_watchdog(state);
    connection->close();
    connection->parser.reset();
    state.failure = error;
    state.pool->release(std::move(connection), false);
    return error;
}

/// On the use's strand.
net::awaitable<ClientResult<std::optional<std::string>>> read_piece(
    std::shared_ptr<ResponseState> state) {
    if (state->failure) {
        co_return *state->failure;
    }
    if (state->done) {
        co_return std::optional<std::string>();
    }
    Connection& connection = *state->connection;
    auto& parser = *connection.parser;
    for (;;) {
        if (parser.is_done()) {
            finish_body(*state);
            co_return std::optional<std::string>();
        }
        auto& body = parser.get().body();
        body.data = state->scratch.data();
        body.size = state->scratch.size();
        const Deadline deadline = phase_deadline(state->read_idle_timeout,
                                                 ClientErrorKind::kReadIdleTimeout,
                                                 state->total_deadline,
                                                 state->total_timeout);
        state->waiting = deadline;
        if (!state->watchdog_armed) {
            arm_watchdog(state, deadline.at);
        }
        error_code ec;
        if (connection.tls) {
            std::tie(ec, std::ignore) = co_await bhttp::async_read_some(
                *connection.tls, connection.buffer, parser, kNoThrow);
        } else {
            std::tie(ec, std::ignore) = co_await bhttp::async_read_some(
                *connection.plain, connection.buffer, parser, kNoThrow);
        }
        if (ec == bhttp::error::need_buffer) {
            ec = {};
        }
        const std::size_t got = state->scratch.size() - body.size;
        body.data = nullptr;
        state->waiting.reset();
        if (ec) {
            if (state->timed_out && !connection.cancelled) {
                co_return fail_body(*state,
                                    timeout_error(deadline, state->upstream, "reading the body"));
            }
            co_return fail_body(
                *state, io_error(ec, connection, deadline, state->upstream, "reading the body"));
        }
        state->timed_out = false;  // the read finished before the watchdog's cancel reached it
        if (got > 0) {
            std::string piece(state->scratch.data(), got);
            if (parser.is_done()) {
                finish_body(*state);  // the caller's next read_some() returns at once
            }
            co_return std::optional<std::string>(std::move(piece));
        }
    }
}

/// On the use's strand.
net::awaitable<ClientResult<std::string>> read_rest(std::shared_ptr<ResponseState> state,
                                                    std::size_t max_bytes) {
    std::string body;
    for (;;) {
        auto piece = co_await read_piece(state);
        if (!piece) {
            co_return piece.error();
        }
        if (!*piece) {
            co_return body;
        }
        if (body.size() + (*piece)->size() > max_bytes) {
            if (state->connection) {
                co_return fail_body(
                    *state,
                    make_error(ClientErrorKind::kProtocol,
                               state->upstream,
                               "response body exceeds " + std::to_string(max_bytes) + " bytes"));
            }
            co_return make_error(ClientErrorKind::kProtocol,
                                 state->upstream,
                                 "response body exceeds " + std::to_string(max_bytes) + " bytes");
        }
        body += **piece;
    }
}

void abandon_body(const std::shared_ptr<ResponseState>& state) {
    if (state->connection) {
        (void)fail_body(*state,
                        make_error(ClientErrorKind::kCancelled,
                                   state->upstream,
                                   "response destroyed before the end of its body"));
    }
}

std::unique_ptr<core::CancelRegistration> register_abort(
    const std::shared_ptr<core::CancelToken>& cancel,
    const std::shared_ptr<Connection>& connection) {
    if (!cancel) {
        return nullptr;
    }
    const std::uint64_t use = connection->use_id.load();
    return std::make_unique<core::CancelRegistration>(
        cancel, [weak = std::weak_ptr<Connection>(connection), strand = connection->strand, use] {
            net::post(strand, [weak, use] {
                if (auto alive = weak.lock()) {
                    alive->abort_use(use);
                }
            });
        });
}

/// On the use's strand: connects when `fresh`, sends, reads the head. A reused
/// connection that fails before any response byte is replaced once by a fresh one.
net::awaitable<ClientResult<std::unique_ptr<ClientResponse>>> exchange(
    std::shared_ptr<ClientImpl> impl,
    std::shared_ptr<Connection> connection,
    bool fresh,
    OutboundRequest request,
    std::shared_ptr<core::CancelToken> cancel,
    Clock::time_point total_deadline) {
    ConnectionPool& pool = *impl->pool;
    for (int attempt = 0;; ++attempt) {
        connection->use_id.fetch_add(1);
        connection->cancelled = false;
        auto registration = register_abort(cancel, connection);
        if (fresh) {
            auto connected = co_await connect(*connection, *impl, total_deadline);
            if (!connected) {
                connection->use_id.fetch_add(1);
                registration.reset();
                connection->close();
                pool.release(std::move(connection), false);
                co_return connected.error();
            }
        }
        Deadline deadline{};
        const error_code ec = co_await write_and_read_head(
            *connection, request, impl->options, total_deadline, deadline);
        if (!ec) {
            auto& head = connection->parser->get();
            std::vector<Header> headers;
            for (const auto& field : head) {
                headers.push_back(
                    Header{std::string(field.name_string()), std::string(field.value())});
            }
            auto state = std::make_shared<ResponseState>();
            state->pool = impl->pool;
            state->connection = connection;
            state->strand = connection->strand;
            state->registration = std::move(registration);
            state->total_deadline = total_deadline;
            state->total_timeout = impl->options.total_timeout;
            state->read_idle_timeout = impl->options.read_idle_timeout;
            state->upstream = impl->upstream;
            const int status = static_cast<int>(head.result_int());
            // Body reads are timed by the response's watchdog, not by the stream's own timer.
            connection->tcp().expires_never();
            if (connection->parser->is_done()) {
                finish_body(*state);  // no body (204, HEAD, Content-Length: 0): pool it now
            }
            co_return std::make_unique<ClientResponse>(
                status, std::move(headers), std::move(state));
        }
        const bool stale = !fresh && attempt == 0 && !connection->cancelled && is_disconnect(ec) &&
                           !connection->parser->got_some();
        connection->use_id.fetch_add(1);
        registration.reset();
        connection->close();
        if (stale) {
            // The upstream closed the pooled connection meanwhile: the request never reached
            // it, so it is safe to send again. The new connection takes over the slot.
            connection = std::make_shared<Connection>(connection->strand);
            pool.count_created();
            fresh = true;
            continue;
        }
        const ClientError error =
            io_error(ec, *connection, deadline, impl->upstream, "waiting for the response head");
        pool.release(std::move(connection), false);
        co_return error;
    }
}

}  // namespace

ClientResponse::ClientResponse(int status,
                               std::vector<Header> headers,
                               std::shared_ptr<detail::ResponseState> state)
    : status_(status), headers_(std::move(headers)), state_(std::move(state)) {}

ClientResponse::~ClientResponse() {
    if (state_ && state_->connection) {
        const net::any_io_executor strand = state_->strand;
        net::post(strand, [state = std::move(state_)] { abandon_body(state); });
    }
}

std::optional<std::string_view> ClientResponse::header(std::string_view name) const {
    for (const Header& header : headers_) {
        if (iequals(header.name, name)) {
            return std::string_view(header.value);
        }
    }
    return std::nullopt;
}

net::awaitable<ClientResult<std::optional<std::string>>> ClientResponse::read_some() {
    std::shared_ptr<ResponseState> state = state_;
    if (state->failure) {
        co_return *state->failure;
    }
    if (state->done) {
        co_return std::optional<std::string>();
    }
    const bool here = state->strand == co_await net::this_coro::executor;
    co_return co_await on_strand(state->strand, here, read_piece(state));
}

net::awaitable<ClientResult<std::string>> ClientResponse::read_all(std::size_t max_bytes) {
    std::shared_ptr<ResponseState> state = state_;
    if (state->failure) {
        co_return *state->failure;
    }
    if (state->done) {
        co_return std::string();
    }
    const bool here = state->strand == co_await net::this_coro::executor;
    co_return co_await on_strand(state->strand, here, read_rest(state, max_bytes));
}

HttpClient::HttpClient(net::any_io_executor executor, ClientOptions options)
    : impl_(std::make_shared<ClientImpl>()) {
    impl_->executor = executor;
    impl_->options = std::move(options);
    const auto problems = check_options(impl_->options, impl_.get());
    if (!problems.empty()) {
        impl_->config_error = ClientError{problems.front().kind, problems.front().message};
    }
    impl_->upstream = (impl_->target.https ? "https://" : "http://") + impl_->target.authority();
    detail::PoolSettings settings;
    settings.max_connections = impl_->options.max_connections;
    settings.max_idle = impl_->options.max_idle;
    settings.idle_keepalive = impl_->options.idle_keepalive;
    impl_->pool = std::make_shared<ConnectionPool>(std::move(executor), settings);
}

HttpClient::~HttpClient() {
    impl_->pool->shutdown();
}

core::Result<void> HttpClient::validate(const ClientOptions& options) {
    const auto problems = check_options(options, nullptr);
    if (problems.empty()) {
        return {};
    }
    std::string detail = "invalid HTTP client options:";
    for (const Problem& problem : problems) {
        detail += " " + problem.message + ";";
    }
    detail.pop_back();
    return core::fail(core::ErrorCode::kInvalidArgument, detail);
}

net::awaitable<ClientResult<std::unique_ptr<ClientResponse>>> HttpClient::send(
    ClientRequest request, std::shared_ptr<core::CancelToken> cancel) {
    std::shared_ptr<ClientImpl> impl = impl_;
    if (impl->config_error) {
        co_return *impl->config_error;
    }
    const Clock::time_point total_deadline = Clock::now() + impl->options.total_timeout;
    if (cancel && cancel->cancelled()) {
        co_return make_error(
            ClientErrorKind::kCancelled, impl->upstream, "cancelled before sending");
    }
    auto outbound = build_request(std::move(request), *impl);
    if (!outbound) {
        co_return outbound.error();
    }
    const Clock::time_point wait_deadline =
        std::min(Clock::now() + impl->options.connect_timeout, total_deadline);
    const net::any_io_executor caller = co_await net::this_coro::executor;
    const bool inline_use = is_strand(caller);
    const net::any_io_executor strand = inline_use ? caller : net::make_strand(impl->executor);
    // Never `cond ? co_await a : co_await b` here: g++ 12 destroys that expression's
    // temporaries twice (it freed a pooled connection the pool still held).
    auto lease = co_await on_strand(strand, inline_use, impl->pool->acquire(wait_deadline, cancel));
    if (!lease) {
        ClientError error = lease.error();
        error.message = "upstream " + impl->upstream + ": " + error.message;
        co_return error;
    }
    std::shared_ptr<Connection> connection;
    bool fresh = false;
    if (lease->connection) {
        connection = std::static_pointer_cast<Connection>(std::move(lease->connection));
        connection->move_to(strand);
    } else {
        connection = std::make_shared<Connection>(strand);
        impl->pool->count_created();
        fresh = true;
    }
    co_return co_await on_strand(strand,
                                 inline_use,
                                 exchange(impl,
                                          std::move(connection),
                                          fresh,
                                          std::move(*outbound),
                                          std::move(cancel),
                                          total_deadline));
}

HttpClient::Stats HttpClient::stats() const {
    return impl_->pool->stats();
}

void HttpClient::close_idle() {
    impl_->pool->close_idle();
}

}  // namespace ragd::http
