// The outbound HTTP/1.1 client for LLM and embedding upstreams: coroutines on the caller's
// io_context, a keep-alive pool per upstream, TLS with verification, HTTPS through a CONNECT
// proxy, a separate deadline per phase, and prompt cancellation. Beast stays in client.cpp.
#pragma once

#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/result.hpp>

#include "core/cancel_token.hpp"
#include "core/error.hpp"
#include "http/message.hpp"

namespace ragd::http {

struct ClientOptions {
    /// "http://127.0.0.1:8081" or "https://api.openai.com"; a path ("https://host/openai/v1") is
    /// kept and prefixed to every request target.
    std::string base_url;
    /// Open connections (in use + idle + connecting) to this upstream; a send beyond it waits up
    /// to connect_timeout for one to free, then fails with kPoolExhausted. Default 256.
    std::size_t max_connections = 256;
    /// Idle keep-alive connections kept for reuse; more are closed when released. Default 64.
    std::size_t max_idle = 64;
    /// An idle pooled connection is closed after this. Default 30 s.
    std::chrono::milliseconds idle_keepalive{30000};
    /// DNS + TCP connect + proxy CONNECT + TLS handshake. Default 5 s.
    std::chrono::milliseconds connect_timeout{5000};
    /// From writing the request to the complete response head. Default 60 s.
    std::chrono::milliseconds first_byte_timeout{60000};
    /// Longest wait for the next piece of the body. Default 30 s.
    std::chrono::milliseconds read_idle_timeout{30000};
    /// The whole exchange, from send() to the end of the body. Default 300 s.
    std::chrono::milliseconds total_timeout{300000};
    /// Extra CA bundle (PEM) trusted besides the system store; empty: system store only.
    std::string ca_file;
    /// false disables certificate and host name verification (tests only).
    bool verify_tls = true;
    /// "http://[user:pass@]proxy:port"; "" takes https_proxy/HTTPS_PROXY (https upstreams) or
    /// http_proxy/HTTP_PROXY (http upstreams) unless no_proxy/NO_PROXY matches; "none" disables.
    std::string proxy_url;
    /// Limit on the response status line + headers. Default 64 KiB.
    std::size_t max_response_head_bytes = 64 * 1024;
};

/// Options for a service called with one deadline for the whole exchange (a reranker, an
/// embeddings API): `timeout` bounds every phase, connection included.
inline ClientOptions one_deadline_options(std::string base_url,
                                          std::chrono::milliseconds timeout,
                                          std::string ca_file,
                                          std::size_t max_idle) {
    ClientOptions options;
    options.base_url = std::move(base_url);
    options.max_connections = 64;
    options.max_idle = max_idle;
    options.connect_timeout = timeout;
    options.first_byte_timeout = timeout;
    options.read_idle_timeout = timeout;
    options.total_timeout = timeout;
    options.ca_file = std::move(ca_file);
    return options;
}

enum class ClientErrorKind {
    kConnect,           ///< DNS failure, connection refused, proxy refused the tunnel
    kTls,               ///< handshake or certificate verification failed, bad ca_file
    kConnectTimeout,    ///< connect_timeout passed before the connection was ready
    kFirstByteTimeout,  ///< first_byte_timeout passed before the response head arrived
    kReadIdleTimeout,   ///< read_idle_timeout passed waiting for the next body piece
    kTotalTimeout,      ///< total_timeout passed (whichever phase was running)
    kReset,             ///< the upstream closed or reset the connection mid-exchange
    kProtocol,          ///< malformed or oversized response, invalid request header
    kCancelled,         ///< the CancelToken fired
    kPoolExhausted,     ///< no connection slot freed within connect_timeout
    kInvalidUrl,        ///< base_url, proxy or request target is malformed
};

/// Stable snake_case name ("connect_timeout"), for logs and metrics labels.
const char* client_error_kind_name(ClientErrorKind kind);

struct ClientError {
    ClientErrorKind kind = ClientErrorKind::kProtocol;
    /// Names the upstream (without credentials) and the reason; never contains request headers.
    std::string message;
};

/// Thrown by ClientResult<T>::value() on an error.
class ClientErrorException : public std::exception {
public:
    explicit ClientErrorException(ClientError error) : error_(std::move(error)) {}
    const char* what() const noexcept override { return error_.message.c_str(); }
    const ClientError& error() const { return error_; }

private:
    ClientError error_;
};

[[noreturn]] void throw_exception_from_error(const ClientError& error,
                                             const boost::source_location& loc);

template <class T>
using ClientResult = boost::system::result<T, ClientError>;

struct ClientRequest {
    Method method = Method::kPost;
    /// Path and query ("/v1/chat/completions"), appended to base_url's path.
    std::string target;
    /// Sent as given, except that Content-Length and Transfer-Encoding are always the client's.
    /// Host and Connection are added unless present here.
    std::vector<Header> headers;
    std::string body;
};

namespace detail {
struct ResponseState;
struct ClientImpl;
}  // namespace detail

/// A response whose body is read incrementally. Destroying it before the end of the body
/// closes the connection instead of returning it to the pool.
class ClientResponse {
public:
    /// Made by HttpClient::send().
    ClientResponse(int status,
                   std::vector<Header> headers,
                   std::shared_ptr<detail::ResponseState> state);
    ~ClientResponse();
    ClientResponse(const ClientResponse&) = delete;
    ClientResponse& operator=(const ClientResponse&) = delete;

    int status() const { return status_; }
    const std::vector<Header>& headers() const { return headers_; }
    /// First header with this name (case-insensitive), or nullopt.
    std::optional<std::string_view> header(std::string_view name) const;

    /// The next piece of the (de-chunked) body, as soon as any bytes arrive; an empty optional
    /// at the end of the body, after which the connection is back in the pool. Errors are final:
    /// the connection is closed and later calls fail again. Do not call concurrently.
    boost::asio::awaitable<ClientResult<std::optional<std::string>>> read_some();
    /// The rest of the body; kProtocol (and the connection closed) beyond `max_bytes`.
    boost::asio::awaitable<ClientResult<std::string>> read_all(std::size_t max_bytes);

private:
    int status_;
    std::vector<Header> headers_;
    std::shared_ptr<detail::ResponseState> state_;
};

/// One per upstream. Thread-safe: send() may run concurrently on any threads of the executor's
/// io_context. Must outlive the sends in flight and the responses it returned, and be destroyed
/// before the io_context (its destructor posts the pool's shutdown there).
class HttpClient {
public:
    /// Never fails: invalid options make every send() fail (see validate()).
    HttpClient(boost::asio::any_io_executor executor, ClientOptions options);
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    /// Checks base_url, proxy (including the environment) and ca_file; kInvalidArgument lists
    /// every problem. Call at startup to fail fast on bad configuration.
    static core::Result<void> validate(const ClientOptions& options);

    /// Sends `request` and returns once the response head has arrived. `cancel` (may be null)
    /// aborts the send and any later read_some() of the response with kCancelled, closing the
    /// connection; it may fire on any thread. A reused pooled connection that fails before any
    /// response byte (the upstream closed it meanwhile) is retried once on a fresh connection.
    boost::asio::awaitable<ClientResult<std::unique_ptr<ClientResponse>>> send(
        ClientRequest request, std::shared_ptr<core::CancelToken> cancel = nullptr);

    struct Stats {
        std::size_t in_use = 0;  ///< connections lent out or being connected
        std::size_t idle = 0;    ///< pooled keep-alive connections
        std::size_t connections_created = 0;
        std::size_t reused = 0;   ///< sends served by a pooled connection
        std::size_t waiting = 0;  ///< sends queued for a free slot (max_connections reached)
    };
    Stats stats() const;

    /// Closes every idle connection (for shutdown); connections in use are unaffected.
    void close_idle();

private:
    std::shared_ptr<detail::ClientImpl> impl_;
};

}  // namespace ragd::http
