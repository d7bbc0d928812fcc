// Scripted upstreams for the HTTP client tests: a blocking Asio server on 127.0.0.1:0 with one
// thread per connection (plain or TLS), whose handler drives the connection by hand, plus an
// io_context runner for the client side. Header-only test support.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <future>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>
#include <sys/socket.h>

namespace ragd::http::test {

namespace net = boost::asio;
using net::ip::tcp;
using namespace std::chrono_literals;

/// A one-shot flag that threads and coroutines can set and the test (or a server thread) can
/// wait for with a bound.
class Signal {
public:
    void notify() {
        const std::lock_guard lock(mutex_);
        set_ = true;
        changed_.notify_all();
    }
    bool wait_for(std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, timeout, [this] { return set_; });
    }
    bool is_set() {
        const std::lock_guard lock(mutex_);
        return set_;
    }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    bool set_ = false;
};

/// A value a server thread hands to the test thread.
template <class T>
class Captured {
public:
    void set(T value) {
        const std::lock_guard lock(mutex_);
        value_ = std::move(value);
    }
    T get() {
        const std::lock_guard lock(mutex_);
        return value_;
    }

private:
    std::mutex mutex_;
    T value_{};
};

struct ReceivedRequest {
    std::string method;
    std::string target;
    std::string head;  ///< request line and headers, as received
    std::string body;

    /// Value of the first header `name` (case-insensitive), or "".
    std::string header(std::string_view name) const {
        std::size_t line_start = head.find("\r\n");
        while (line_start != std::string::npos && line_start + 2 < head.size()) {
            const std::size_t begin = line_start + 2;
            const std::size_t end = head.find("\r\n", begin);
            const std::string line = head.substr(begin, end - begin);
            const std::size_t colon = line.find(':');
            if (colon != std::string::npos && colon == name.size()) {
                bool same = true;
                for (std::size_t idx = 0; idx < colon; ++idx) {
                    same = same && std::tolower(static_cast<unsigned char>(line[idx])) ==
                                       std::tolower(static_cast<unsigned char>(name[idx]));
                }
                if (same) {
                    std::size_t value = colon + 1;
                    while (value < line.size() && line[value] == ' ') {
                        ++value;
                    }
                    return line.substr(value);
                }
            }
            line_start = end;
        }
        return "";
    }
};

/// One accepted connection, driven synchronously by the handler.
class ServerConnection {
public:
    ServerConnection(tcp::socket socket, net::ssl::context* tls_context, int index)
        : socket_(std::move(socket)), index_(index) {
        if (tls_context != nullptr) {
            tls_.emplace(socket_, *tls_context);
        }
    }

    int index() const { return index_; }  ///< 1 for the server's first connection
    /// The raw socket, for relaying a CONNECT tunnel (plain connections only).
    tcp::socket& socket() { return socket_; }

    bool handshake() {
        if (!tls_) {
            return true;
        }
        boost::system::error_code ec;
        tls_->handshake(net::ssl::stream_base::server, ec);
        return !ec;
    }

    /// The next request, or nullopt when the client closed the connection.
    std::optional<ReceivedRequest> read_request() {
        std::size_t head_end = std::string::npos;
        while ((head_end = pending_.find("\r\n\r\n")) == std::string::npos) {
            if (!read_more()) {
                return std::nullopt;
            }
        }
        ReceivedRequest request;
        request.head = pending_.substr(0, head_end + 2);
        pending_.erase(0, head_end + 4);
        const std::size_t space = request.head.find(' ');
        const std::size_t second = request.head.find(' ', space + 1);
        request.method = request.head.substr(0, space);
        request.target = request.head.substr(space + 1, second - space - 1);
        const std::string length_text = request.header("content-length");
        const std::size_t length = length_text.empty() ? 0 : std::stoul(length_text);
        while (pending_.size() < length) {
            if (!read_more()) {
                return std::nullopt;
            }
        }
        request.body = pending_.substr(0, length);
        pending_.erase(0, length);
        return request;
    }

    bool write(std::string_view bytes) {
        boost::system::error_code ec;
        if (tls_) {
            net::write(*tls_, net::buffer(bytes.data(), bytes.size()), ec);
        } else {
            net::write(socket_, net::buffer(bytes.data(), bytes.size()), ec);
        }
        return !ec;
    }

    /// Blocks until the client closes the connection (or the server shuts down).
    void wait_closed() {
        while (read_more()) {
        }
    }

    void close() {
        boost::system::error_code ignored;
        socket_.shutdown(tcp::socket::shutdown_both, ignored);
        socket_.close(ignored);
    }

private:
    bool read_more() {
        char buffer[4096];
        boost::system::error_code ec;
        const std::size_t got = tls_ ? tls_->read_some(net::buffer(buffer), ec)
                                     : socket_.read_some(net::buffer(buffer), ec);
        if (ec) {
            return false;
        }
        pending_.append(buffer, got);
        return true;
    }

    tcp::socket socket_;
    std::optional<net::ssl::stream<tcp::socket&>> tls_;
    std::string pending_;
    int index_;
};

/// Accepts on 127.0.0.1:0 and runs `handler` on a thread per connection. The destructor shuts
/// every connection down and joins.
class TestServer {
public:
    using Handler = std::function<void(ServerConnection&)>;

    explicit TestServer(Handler handler, net::ssl::context* tls_context = nullptr)
        : handler_(std::move(handler)),
          tls_context_(tls_context),
          acceptor_(io_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {
        port_ = acceptor_.local_endpoint().port();
        accept_thread_ = std::thread([this] { accept_loop(); });
    }

    ~TestServer() {
        stopping_ = true;
        {
            const std::lock_guard lock(mutex_);
            for (const int fd : open_fds_) {
                ::shutdown(fd, SHUT_RDWR);
            }
        }
        // Wake the blocking accept with a connection of our own.
        boost::system::error_code ignored;
        tcp::socket waker(io_);
        waker.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_), ignored);
        accept_thread_.join();
        std::list<Worker> workers;
        {
            const std::lock_guard lock(mutex_);
            for (const int fd : open_fds_) {
                ::shutdown(fd, SHUT_RDWR);
            }
            workers.swap(workers_);
        }
        for (Worker& worker : workers) {
            worker.thread.join();
        }
    }

    std::uint16_t port() const { return port_; }
    std::string url(std::string_view scheme = "http") const {
        return std::string(scheme) + "://127.0.0.1:" + std::to_string(port_);
    }
    int connections() const { return accepted_.load(); }
    int requests() const { return requests_.load(); }
    void count_request() { ++requests_; }
    /// Connections whose handler is still running.
    int active() {
        const std::lock_guard lock(mutex_);
        return static_cast<int>(open_fds_.size());
    }

private:
    struct Worker {
        std::thread thread;
        std::shared_ptr<std::atomic<bool>> done;
    };

    void accept_loop() {
        for (;;) {
            tcp::socket socket(io_);
            boost::system::error_code ec;
            acceptor_.accept(socket, ec);
            if (stopping_ || ec) {
                return;
            }
            const int index = ++accepted_;
            auto done = std::make_shared<std::atomic<bool>>(false);
            const std::lock_guard lock(mutex_);
            reap_locked();
            const int fd = socket.native_handle();
            open_fds_.insert(fd);
            workers_.push_back(
                Worker{std::thread([this, done, fd, index, socket = std::move(socket)]() mutable {
                           {
                               ServerConnection connection(std::move(socket), tls_context_, index);
                               if (connection.handshake()) {
                                   handler_(connection);
                               }
                               const std::lock_guard inner_lock(mutex_);
                               open_fds_.erase(fd);
                               connection.close();
                           }
                           done->store(true);
                       }),
                       done});
        }
    }

    /// Joins finished connection threads, so 10,000 connections do not keep 10,000 stacks.
    void reap_locked() {
        for (auto it = workers_.begin(); it != workers_.end();) {
            if (it->done->load()) {
                it->thread.join();
                it = workers_.erase(it);
            } else {
                ++it;
            }
        }
    }

    Handler handler_;
    net::ssl::context* tls_context_;
    net::io_context io_;
    tcp::acceptor acceptor_;
    std::uint16_t port_ = 0;
    std::thread accept_thread_;
    std::atomic<bool> stopping_{false};
    std::atomic<int> accepted_{0};
    std::atomic<int> requests_{0};
    std::mutex mutex_;
    std::set<int> open_fds_;
    std::list<Worker> workers_;
};

/// Serves requests on one connection until the client closes it, answering each with
/// `respond(request)`.
inline void serve_each(TestServer& server,
                       ServerConnection& connection,
                       const std::function<std::string(const ReceivedRequest&)>& respond) {
    while (auto request = connection.read_request()) {
        server.count_request();
        if (!connection.write(respond(*request))) {
            return;
        }
    }
}

inline std::string ok_response(std::string_view body, std::string_view extra_headers = "") {
    return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
           std::string(extra_headers) + "\r\n" + std::string(body);
}

inline std::string chunk(std::string_view data) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    return std::string(size) + std::string(data) + "\r\n";
}

/// Who calls the client: a coroutine on a strand (ragd's HTTP sessions; the client then runs
/// inline in the caller) or on the bare io_context executor run by two threads (the client then
/// hops onto a strand of its own).
enum class Caller { kStrand, kBareExecutor };

inline const char* caller_name(Caller caller) {
    return caller == Caller::kStrand ? "strand" : "bare_executor";
}

/// Runs the client's io_context on two threads (so strand mistakes show up) until destroyed.
class IoRunner {
public:
    explicit IoRunner(Caller caller = Caller::kStrand)
        : caller_(caller), guard_(net::make_work_guard(io_)) {
        for (int thread_idx = 0; thread_idx < 2; ++thread_idx) {
            threads_.emplace_back([this] { io_.run(); });
        }
    }
    ~IoRunner() {
        guard_.reset();
        io_.stop();
        for (std::thread& thread : threads_) {
            thread.join();
        }
    }

    net::io_context& io() { return io_; }

    /// Runs `task` to completion on the io_context; fails the test after `timeout`.
    template <class T>
    T run(net::awaitable<T> task, std::chrono::milliseconds timeout = 20s) {
        auto future = net::co_spawn(caller_executor(), std::move(task), net::use_future);
        if (future.wait_for(timeout) != std::future_status::ready) {
            ADD_FAILURE() << "client task did not finish within " << timeout.count() << " ms";
            std::abort();  // the task still refers to this test's objects
        }
        return future.get();
    }

    /// Starts `task` without waiting; get() the future later.
    template <class T>
    std::future<T> start(net::awaitable<T> task) {
        return net::co_spawn(caller_executor(), std::move(task), net::use_future);
    }

private:
    /// A new strand per task, as each ragd session has its own.
    net::any_io_executor caller_executor() {
        if (caller_ == Caller::kStrand) {
            return net::make_strand(io_);
        }
        return io_.get_executor();
    }

    Caller caller_;
    net::io_context io_;
    net::executor_work_guard<net::io_context::executor_type> guard_;
    std::vector<std::thread> threads_;
};

}  // namespace ragd::http::test
