// Test helpers shared by the HTTP server tests: a blocking POSIX-socket client (so the tests do
// not share code paths with the server) and a server running on its own thread.
#pragma once

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include <arpa/inet.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/server.hpp"

namespace ragd::http::test {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct RawResponse {
    int status = 0;
    std::map<std::string, std::string> headers;  ///< names lower-cased
    std::string body;

    std::string error_type() const {
        return std::string(boost::json::parse(body).at("error").at("type").as_string());
    }
    std::string error_message() const {
        return std::string(boost::json::parse(body).at("error").at("message").as_string());
    }
};

/// One blocking TCP connection to 127.0.0.1:port; every read has a deadline.
class Client {
public:
    /// `source`: the local IPv4 address to connect from (e.g. "127.0.0.2"); empty lets the
    /// kernel choose.
    explicit Client(unsigned short port, const std::string& source = "") {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        if (!source.empty()) {
            sockaddr_in local{};
            local.sin_family = AF_INET;
            ::inet_pton(AF_INET, source.c_str(), &local.sin_addr);
            if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
                return;  // connected() stays false
            }
        }
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
        const int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    ~Client() { ::close(fd_); }
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    bool connected() const { return connected_; }

    bool send(std::string_view bytes) {
        while (!bytes.empty()) {
            const ssize_t sent = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (sent <= 0) {
                return false;
            }
            bytes.remove_prefix(static_cast<std::size_t>(sent));
        }
        return true;
    }

    /// Reads one response; nullopt on EOF, reset or timeout. `head` skips the body.
    std::optional<RawResponse> read_response(bool head = false,
                                             std::chrono::milliseconds timeout = 5000ms) {
        const auto deadline = Clock::now() + timeout;
        std::size_t head_end;
        while ((head_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
            if (!fill(deadline)) {
                return std::nullopt;
            }
        }
        RawResponse response;
        const std::string head_text = buffer_.substr(0, head_end);
        buffer_.erase(0, head_end + 4);
        std::size_t line_end = head_text.find("\r\n");
        const std::string status_line = head_text.substr(0, line_end);
        response.status = std::stoi(status_line.substr(status_line.find(' ') + 1, 3));
        while (line_end != std::string::npos) {
            const std::size_t start = line_end + 2;
            line_end = head_text.find("\r\n", start);
            const std::string line = head_text.substr(start, line_end - start);
            const std::size_t colon = line.find(':');
            std::string name = line.substr(0, colon);
            for (char& c : name) {
                c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            }
            std::string value = line.substr(colon + 1);
            value.erase(0, value.find_first_not_of(' '));
            response.headers[name] = value;
        }
        if (head || response.status == 100) {
            return response;
        }
        const std::size_t length = std::stoul(response.headers.at("content-length"));
        while (buffer_.size() < length) {
            if (!fill(deadline)) {
                return std::nullopt;
            }
        }
        response.body = buffer_.substr(0, length);
        buffer_.erase(0, length);
        return response;
    }

    /// True when the server closes the connection (EOF or reset) within `timeout`.
    bool closed_within(std::chrono::milliseconds timeout) {
        const auto deadline = Clock::now() + timeout;
        for (;;) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            if (left <= 0ms) {
                return false;
            }
            pollfd poll_fd{fd_, POLLIN, 0};
            if (::poll(&poll_fd, 1, static_cast<int>(left.count())) <= 0) {
                return false;
            }
            char scratch[4096];
            const ssize_t got = ::recv(fd_, scratch, sizeof(scratch), 0);
            if (got <= 0) {
                return true;
            }
        }
    }

    std::string& buffered() { return buffer_; }

    /// Reads until the buffered bytes contain `needle`; false on EOF, reset or timeout.
    bool read_until(std::string_view needle, std::chrono::milliseconds timeout = 5000ms) {
        const auto deadline = Clock::now() + timeout;
        std::size_t from = 0;  // bytes already searched: a long body is scanned once, not per read
        while (buffer_.find(needle, from) == std::string::npos) {
            from = buffer_.size() < needle.size() ? 0 : buffer_.size() - needle.size() + 1;
            if (!fill(deadline)) {
                return false;
            }
        }
        return true;
    }

private:
    bool fill(Clock::time_point deadline) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left <= 0ms) {
            return false;
        }
        pollfd poll_fd{fd_, POLLIN, 0};
        if (::poll(&poll_fd, 1, static_cast<int>(left.count())) <= 0) {
            return false;
        }
        char chunk[8192];
        const ssize_t got = ::recv(fd_, chunk, sizeof(chunk), 0);
        if (got <= 0) {
            return false;
        }
        buffer_.append(chunk, static_cast<std::size_t>(got));
        return true;
    }

    int fd_ = -1;
    bool connected_ = false;
    std::string buffer_;
};

/// Decodes a chunked body; `complete` says whether it must end with the last chunk.
inline std::optional<std::string> dechunk(std::string_view wire, bool complete = true) {
    std::string body;
    for (;;) {
        const std::size_t line_end = wire.find("\r\n");
        if (line_end == std::string_view::npos) {
            return complete ? std::nullopt : std::optional<std::string>(body);
        }
        const std::size_t size = std::stoul(std::string(wire.substr(0, line_end)), nullptr, 16);
        wire.remove_prefix(line_end + 2);
        if (size == 0) {
            return wire.empty() || wire == "\r\n" ? std::optional<std::string>(body) : std::nullopt;
        }
        if (wire.size() < size + 2 || wire.substr(size, 2) != "\r\n") {
            return std::nullopt;
        }
        body.append(wire.substr(0, size));
        wire.remove_prefix(size + 2);
    }
}

/// The body of the response in `wire` (after its head).
inline std::optional<std::string> body_of(const std::string& wire, bool complete = true) {
    const std::size_t head_end = wire.find("\r\n\r\n");
    if (head_end == std::string::npos) {
        return std::nullopt;
    }
    return dechunk(std::string_view(wire).substr(head_end + 4), complete);
}

/// Waits `delay` on the request's strand, or until the request is cancelled; true when the
/// whole delay passed.
inline boost::asio::awaitable<bool> pause(RequestContext& context,
                                          std::chrono::milliseconds delay) {
    namespace net = boost::asio;
    net::steady_timer timer(context.executor(), delay);
    core::CancelRegistration on_cancel(context.cancel(), [&timer] {
        net::post(timer.get_executor(), [&timer] { timer.cancel(); });
    });
    auto [ec] = co_await timer.async_wait(net::as_tuple(net::use_awaitable));
    co_return !ec && !context.cancel()->cancelled();
}

/// Waits on the request's strand until the test sets `release`; false when cancelled first.
inline boost::asio::awaitable<bool> wait_for_release(std::shared_future<void> release,
                                                     RequestContext& context) {
    // Not `if (!co_await ...)` inside the loop: GCC 12 compiled that shape to a trap (SIGILL).
    for (;;) {
        if (release.wait_for(0ms) == std::future_status::ready) {
            co_return true;
        }
        const bool waited = co_await pause(context, 5ms);
        if (!waited) {
            co_return false;
        }
    }
}

inline core::ServerConfig small_config() {
    core::ServerConfig config;
    config.listen = "127.0.0.1:0";
    config.threads = 2;
    config.compute_threads = 2;
    return config;
}

/// A listening server running on its own thread; stop()s and joins on destruction.
/// `observer` (optional, not owned) is set before the server runs.
class TestServer {
public:
    TestServer(core::ServerConfig config, Router router, ServerObserver* observer = nullptr)
        : server_(config, std::move(router)) {
        server_.set_observer(observer);
        const auto listened = server_.listen();
        if (!listened) {
            ADD_FAILURE() << "listen failed: " << listened.error().detail;
            return;
        }
        const std::string endpoint = server_.local_endpoint();
        port_ = static_cast<unsigned short>(std::stoi(endpoint.substr(endpoint.rfind(':') + 1)));
        thread_ = std::thread([this] {
            run_thread_id_ = std::this_thread::get_id();
            server_.run();
            returned_ = true;
        });
    }
    ~TestServer() {
        server_.stop();
        if (thread_.joinable()) {
            thread_.join();
        }
    }

    unsigned short port() const { return port_; }
    Server& server() { return server_; }
    std::thread& thread() { return thread_; }
    bool returned() const { return returned_; }
    std::thread::id run_thread_id() const { return run_thread_id_; }

private:
    Server server_;
    unsigned short port_ = 0;
    std::thread thread_;
    std::atomic<std::thread::id> run_thread_id_;
    std::atomic<bool> returned_{false};
};

inline std::string get(std::string_view target, std::string_view extra_headers = "") {
    return "GET " + std::string(target) + " HTTP/1.1\r\nHost: test\r\n" +
           std::string(extra_headers) + "\r\n";
}

inline std::string post(std::string_view target,
                        std::string_view content_type,
                        std::string_view body) {
    return "POST " + std::string(target) +
           " HTTP/1.1\r\nHost: test\r\nContent-Type: " + std::string(content_type) +
           "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

}  // namespace ragd::http::test
