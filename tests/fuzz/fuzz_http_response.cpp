// libFuzzer harness for the outbound HTTP client's response reading: what an LLM upstream (or
// anything on its address) sends back goes through HttpClient exactly as in ragd, over a real
// loopback connection. The input, after one control byte, is the upstream's whole reply; a
// scripted server on 127.0.0.1 reads the request, writes the reply in pieces and closes. The
// client must settle every exchange (a status and a body, or a ClientError with a message), never
// return more body bytes than were sent, and enforce the head and body limits. Everything runs
// on one thread, so one input is one deterministic-enough exchange.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "http/client.hpp"

namespace {

namespace net = boost::asio;
using net::ip::tcp;
using ragd::http::ClientErrorKind;

constexpr auto kNoThrow = net::as_tuple(net::use_awaitable);
constexpr std::size_t kMaxBody = 4096;  // read_all's limit, so the cap is exercised too

/// One upstream connection: reads the request's bytes (whatever arrives first), writes `reply`
/// in pieces of `piece` bytes, and closes once the client has.
net::awaitable<void> serve_connection(tcp::socket socket,
                                      const std::string& reply,
                                      std::size_t piece) {
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);  // each piece leaves at once (no Nagle wait)
    std::array<char, 4096> request{};
    (void)co_await socket.async_read_some(net::buffer(request), kNoThrow);
    for (std::size_t offset = 0; offset < reply.size(); offset += piece) {
        const std::size_t size = std::min(piece, reply.size() - offset);
        auto [write_ec, written] =
            co_await net::async_write(socket, net::buffer(reply.data() + offset, size), kNoThrow);
        if (write_ec) {
            co_return;
        }
    }
    socket.shutdown(tcp::socket::shutdown_send, ignored);
    // Wait for the client to close, so its reads see the end of the reply, not a reset.
    (void)co_await socket.async_read_some(net::buffer(request), kNoThrow);
}

/// The upstream: serves every connection with `reply` (a client retries once on a fresh
/// connection when a reply ends before its first byte) until `stop` is set and the acceptor
/// cancelled.
net::awaitable<void> serve(tcp::acceptor& acceptor,
                           const std::string& reply,
                           std::size_t piece,
                           const bool& stop,
                           int& open) {
    ++open;
    while (!stop) {
        auto [accept_ec, socket] = co_await acceptor.async_accept(kNoThrow);
        if (accept_ec) {
            break;
        }
        co_await serve_connection(std::move(socket), reply, piece);
    }
    --open;
}

net::awaitable<void> exchange(ragd::http::HttpClient& client,
                              std::size_t reply_bytes,
                              bool read_in_pieces) {
    ragd::http::ClientRequest request;
    request.target = "/v1/chat/completions";
    request.body = R"({"stream":true})";
    auto sent = co_await client.send(std::move(request));
    if (!sent) {
        if (sent.error().message.empty()) {
            std::abort();
        }
        co_return;
    }
    const auto& response = *sent;
    if (response->status() < 100 || response->status() > 999) {
        std::abort();
    }
    std::size_t body_bytes = 0;
    if (read_in_pieces) {
        for (;;) {
            auto piece = co_await response->read_some();
            if (!piece) {
                if (piece.error().message.empty()) {
                    std::abort();
                }
                break;
            }
            if (!*piece) {
                break;  // end of body
            }
            body_bytes += (*piece)->size();
        }
    } else {
        auto body = co_await response->read_all(kMaxBody);
        if (body) {
            body_bytes = body->size();
            if (body_bytes > kMaxBody) {
                std::abort();
            }
        } else if (body.error().message.empty()) {
            std::abort();
        }
    }
    if (body_bytes > reply_bytes) {
        std::abort();  // a de-chunked body is never longer than what was sent
    }
}

/// Runs the exchange, then stops the upstream.
net::awaitable<void> exchange_then_stop(ragd::http::HttpClient& client,
                                        tcp::acceptor& acceptor,
                                        std::size_t reply_bytes,
                                        bool read_in_pieces,
                                        bool& done) {
    co_await exchange(client, reply_bytes, read_in_pieces);
    done = true;  // also stops serve() after the connection it is on
    boost::system::error_code ignored;
    acceptor.cancel(ignored);
}

/// One client and one upstream address for the whole run: building an HttpClient (its TLS
/// context) per input cost more than the exchange. No idle connections are kept, so no state
/// but counters carries over from one input to the next. Never destroyed.
struct Harness {
    net::io_context io;
    tcp::acceptor acceptor{io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)};
    std::unique_ptr<ragd::http::HttpClient> client;

    Harness() {
        ragd::http::ClientOptions options;
        options.base_url = "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port());
        options.max_idle = 0;
        options.connect_timeout = std::chrono::milliseconds(1000);
        options.first_byte_timeout = std::chrono::milliseconds(1000);
        options.read_idle_timeout = std::chrono::milliseconds(1000);
        options.total_timeout = std::chrono::milliseconds(2000);
        options.max_response_head_bytes = 2048;
        options.proxy_url = "none";
        client = std::make_unique<ragd::http::HttpClient>(io.get_executor(), options);
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) {
        return 0;
    }
    const std::size_t piece = 1 + (data[0] & 0x3FU) * 16;  // 1 to 1009 bytes per write
    const bool read_in_pieces = (data[0] & 0x40U) != 0;
    const std::string reply(reinterpret_cast<const char*>(data + 1), size - 1);

    static Harness& harness = *new Harness();
    bool done = false;
    int serving = 0;
    net::co_spawn(harness.io, serve(harness.acceptor, reply, piece, done, serving), net::detached);
    net::co_spawn(
        harness.io,
        exchange_then_stop(*harness.client, harness.acceptor, reply.size(), read_in_pieces, done),
        net::detached);
    harness.io.restart();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while ((!done || serving > 0) && std::chrono::steady_clock::now() < deadline) {
        harness.io.run_one_for(std::chrono::milliseconds(100));
    }
    if (!done || serving > 0) {
        std::abort();  // the client neither answered nor failed within its deadlines
    }
    return 0;
}
