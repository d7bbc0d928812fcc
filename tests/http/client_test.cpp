// HttpClient over plain HTTP against scripted local upstreams: bodies, keep-alive, stale
// connections, every timeout, cancellation, pool limits and fd hygiene.
#include "http/client.hpp"

#include <filesystem>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "client_test_server.hpp"

namespace ragd::http {
namespace {

using test::IoRunner;
using test::ReceivedRequest;
using test::ServerConnection;
using test::Signal;
using test::TestServer;
namespace net = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Fetched {
    std::optional<ClientError> error;
    int status = 0;
    std::string body;
    std::vector<Header> headers;
};

ClientRequest get(std::string target, std::vector<Header> headers = {}) {
    ClientRequest request;
    request.method = Method::kGet;
    request.target = std::move(target);
    request.headers = std::move(headers);
    return request;
}

/// send() then read_all(); any error ends up in `error`.
net::awaitable<Fetched> fetch(HttpClient& client,
                              ClientRequest request,
                              std::shared_ptr<core::CancelToken> cancel = nullptr) {
    Fetched out;
    auto response = co_await client.send(std::move(request), std::move(cancel));
    if (!response) {
        out.error = response.error();
        co_return out;
    }
    out.status = (*response)->status();
    out.headers = (*response)->headers();
    auto body = co_await (*response)->read_all(1 << 20);
    if (!body) {
        out.error = body.error();
        co_return out;
    }
    out.body = std::move(*body);
    co_return out;
}

/// `count` sequential fetches; stops at the first error.
net::awaitable<Fetched> fetch_many(HttpClient& client, int count) {
    Fetched last;
    for (int request_idx = 0; request_idx < count; ++request_idx) {
        last = co_await fetch(client, get("/n/" + std::to_string(request_idx)));
        if (last.error) {
            co_return last;
        }
    }
    co_return last;
}

/// Reads the body piece by piece; notifies `first_piece` after the first one.
net::awaitable<std::pair<std::vector<std::string>, std::optional<ClientError>>> stream_pieces(
    HttpClient& client,
    ClientRequest request,
    Signal* first_piece,
    std::shared_ptr<core::CancelToken> cancel) {
    std::vector<std::string> pieces;
    auto response = co_await client.send(std::move(request), std::move(cancel));
    if (!response) {
        co_return std::make_pair(pieces, std::optional<ClientError>(response.error()));
    }
    for (;;) {
        auto piece = co_await (*response)->read_some();
        if (!piece) {
            co_return std::make_pair(pieces, std::optional<ClientError>(piece.error()));
        }
        if (!*piece) {
            co_return std::make_pair(pieces, std::optional<ClientError>());
        }
        pieces.push_back(std::move(**piece));
        if (first_piece != nullptr && pieces.size() == 1) {
            first_piece->notify();
        }
    }
}

ClientOptions options_for(const TestServer& server) {
    ClientOptions options;
    options.base_url = server.url();
    options.proxy_url = "none";
    return options;
}

std::size_t open_fds() {
    std::size_t count = 0;
    for ([[maybe_unused]] const auto& entry :
         std::filesystem::directory_iterator("/proc/self/fd")) {
        ++count;
    }
    return count;
}

/// Every case runs with both kinds of caller: inline on the caller's strand, and hopping onto
/// a strand of the client's own.
class HttpClientTest : public ::testing::TestWithParam<test::Caller> {};

INSTANTIATE_TEST_SUITE_P(Callers,
                         HttpClientTest,
                         ::testing::Values(test::Caller::kStrand, test::Caller::kBareExecutor),
                         [](const ::testing::TestParamInfo<test::Caller>& info) {
                             return std::string(test::caller_name(info.param));
                         });

TEST_P(HttpClientTest, GetWithContentLength) {
    test::Captured<ReceivedRequest> captured;
    TestServer server([&](ServerConnection& connection) {
        if (auto request = connection.read_request()) {
            captured.set(*request);
            connection.write(test::ok_response("hello", "X-Upstream: yes\r\n"));
        }
        connection.wait_closed();
    });
    IoRunner runner(GetParam());
    HttpClient client(runner.io().get_executor(), options_for(server));
    const Fetched got =
        runner.run(fetch(client, get("/v1/models?x=1", {{"Authorization", "Bearer k"}})));
    ASSERT_FALSE(got.error) << got.error->message;
    const ReceivedRequest seen = captured.get();
    EXPECT_EQ(got.status, 200);
    EXPECT_EQ(got.body, "hello");
    EXPECT_EQ(seen.method, "GET");
    EXPECT_EQ(seen.target, "/v1/models?x=1");
    EXPECT_EQ(seen.header("host"), "127.0.0.1:" + std::to_string(server.port()));
    EXPECT_EQ(seen.header("connection"), "keep-alive");
    EXPECT_EQ(seen.header("authorization"), "Bearer k");
    bool found = false;
    for (const Header& header : got.headers) {
        found = found || (header.name == "X-Upstream" && header.value == "yes");
    }
    EXPECT_TRUE(found);
}

TEST_P(HttpClientTest, PostWithChunkedResponseAndPathPrefix) {
    test::Captured<ReceivedRequest> captured;
    TestServer server([&](ServerConnection& connection) {
        if (auto request = connection.read_request()) {
            captured.set(*request);
            connection.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
                             test::chunk("echo:") + test::chunk(request->body) + test::chunk(""));
        }
        connection.wait_closed();
    });
    IoRunner runner(GetParam());
    ClientOptions options = options_for(server);
    options.base_url += "/openai/v1/";
    HttpClient client(runner.io().get_executor(), options);
    ClientRequest request;
    request.target = "/chat/completions";
    request.headers = {{"Content-Type", "application/json"}, {"Content-Length", "999"}};
    request.body = R"({"model":"m"})";
    const Fetched got = runner.run(fetch(client, request));
    ASSERT_FALSE(got.error) << got.error->message;
    EXPECT_EQ(got.body, R"(echo:{"model":"m"})");
    const ReceivedRequest seen = captured.get();
    EXPECT_EQ(seen.method, "POST");
    EXPECT_EQ(seen.target, "/openai/v1/chat/completions");
    EXPECT_EQ(seen.header("content-length"), "13");  // the caller's wrong value is replaced
    EXPECT_EQ(seen.header("content-type"), "application/json");
}

TEST_P(HttpClientTest, BodyPiecesArriveAsTheyAreSent) {
    Signal first_piece;
    TestServer server([&](ServerConnection& connection) {
        if (connection.read_request()) {
            connection.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
                             test::chunk("data: one\n\n"));
            // The second chunk is only sent once the client has seen the first: a client that
            // waited for the whole body would stall here until its read-idle timeout.
            if (first_piece.wait_for(10s)) {
                connection.write(test::chunk("data: two\n\n") + test::chunk(""));
            }
        }
        connection.wait_closed();
    });
    IoRunner runner(GetParam());
    ClientOptions options = options_for(server);
    options.read_idle_timeout = 15s;
    HttpClient client(runner.io().get_executor(), options);
    const auto [pieces, error] =
        runner.run(stream_pieces(client, get("/stream"), &first_piece, nullptr));
    ASSERT_FALSE(error) << error->message;
    ASSERT_EQ(pieces.size(), 2U);
    EXPECT_EQ(pieces[0], "data: one\n\n");
    EXPECT_EQ(pieces[1], "data: two\n\n");
    EXPECT_EQ(client.stats().idle, 1U);  // back in the pool after the last chunk
}

TEST_P(HttpClientTest, BodyEndingAtEofIsNotPooled) {
    TestServer server([](ServerConnection& connection) {
        if (connection.read_request()) {
            connection.write("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end");
        }
    });
    IoRunner runner(GetParam());
    HttpClient client(runner.io().get_executor(), options_for(server));
    const Fetched got = runner.run(fetch(client, get("/")));
    ASSERT_FALSE(got.error) << got.error->message;
    EXPECT_EQ(got.body, "until the end");
    EXPECT_EQ(client.stats().idle, 0U);
    EXPECT_EQ(client.stats().in_use, 0U);
}

TEST_P(HttpClientTest, KeepAliveReusesOneConnection) {
    TestServer server([&](ServerConnection& connection) {
        test::serve_each(server, connection, [](const ReceivedRequest& request) {
            return test::ok_response(request.target);
        });
    });
    IoRunner runner(GetParam());
    HttpClient client(runner.io().get_executor(), options_for(server));
    const Fetched last = runner.run(fetch_many(client, 20));
    ASSERT_FALSE(last.error) << last.error->message;
    EXPECT_EQ(last.body, "/n/19");
    EXPECT_EQ(server.connections(), 1);
    EXPECT_EQ(server.requests(), 20);
    const HttpClient::Stats stats = client.stats();
    EXPECT_EQ(stats.connections_created, 1U);
    EXPECT_EQ(stats.reused, 19U);
    EXPECT_EQ(stats.idle, 1U);
    EXPECT_EQ(stats.in_use, 0U);
}

TEST_P(HttpClientTest, HeadAndNoContentResponsesKeepTheConnection) {
    TestServer server([&](ServerConnection& connection) {
        test::serve_each(server, connection, [](const ReceivedRequest& request) -> std::string {
            if (request.method == "HEAD") {
                return "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n";
            }
            return "HTTP/1.1 204 No Content\r\n\r\n";
        });
    });
    IoRunner runner(GetParam());
    HttpClient client(runner.io().get_executor(), options_for(server));
    ClientRequest head = get("/");
    head.method = Method::kHead;
    const Fetched first = runner.run(fetch(client, head));
    ASSERT_FALSE(first.error) << first.error->message;
    EXPECT_EQ(first.body, "");
    const Fetched second = runner.run(fetch(client, get("/")));
    ASSERT_FALSE(second.error) << second.error->message;
    EXPECT_EQ(second.status, 204);
    EXPECT_EQ(server.connections(), 1);
}

TEST_P(HttpClientTest, IdleConnectionClosedByUpstreamIsReplaced) {
    Signal closed;
    TestServer server([&](ServerConnection& connection) {
        if (connection.read_request()) {
            server.count_request();
            connection.write(test::ok_response("first"));
        }
        if (connection.index() == 1) {
            connection.close();  // silently, as an upstream's idle timeout does
            closed.notify();
            return;
        }
        test::serve_each(
            server, connection, [](const ReceivedRequest&) { return test::ok_response("later"); });
    });
    IoRunner runner(GetParam());
    HttpClient client(runner.io().get_executor(), options_for(server));
    ASSERT_FALSE(runner.run(fetch(client, get("/"))).error);
    ASSERT_TRUE(closed.wait_for(5s));
    const Fetched got = runner.run(fetch(client, get("/")));
    ASSERT_FALSE(got.error) << got.error->message;
    EXPECT_EQ(got.body, "first");  // a new connection's first answer
    EXPECT_EQ(server.connections(), 2);
    // Found dead while still in the pool, not by a failed send: nothing was reused.
    EXPECT_EQ(client.stats().reused, 0U);
    EXPECT_EQ(client.stats().connections_created, 2U);
}

TEST_P(HttpClientTest, ReusedConnectionFailingBeforeAnyByteIsRetriedOnce) {
    TestServer server([&](ServerConnection& connection) {
        if (connection.index() == 1) {
            if (connection.read_request()) {
                server.count_request();
                connection.write(test::ok_response("one"));
            }
            // Takes the second request, then drops the connection without a byte of answer:
            // the race an upstream's keep-alive timeout creates.
            if (connection.read_request()) {
                server.count_request();
            }
            return;
        }
        test::serve_each(
            server, connection, [](const ReceivedRequest&) { return test::ok_response("two"); });
    });
    IoRunner runner(GetParam());
    HttpClient client(runner.io().get_executor(), options_for(server));
    ASSERT_FALSE(runner.run(fetch(client, get("/"))).error);
    const Fetched got = runner.run(fetch(client, get("/")));
    ASSERT_FALSE(got.error) << got.error->message;
    EXPECT_EQ(got.body, "two");
    EXPECT_EQ(server.connections(), 2);
    EXPECT_EQ(server.requests(), 3);
    EXPECT_EQ(client.stats().reused, 1U);
    EXPECT_EQ(client.stats().connections_created, 2U);
}

TEST_P(HttpClientTest, FreshConnectionFailingIsNotRetried) {
    TestServer server([&](ServerConnection& connection) {
        if (connection.read_request()) {
            server.count_request();
        }
    });
    IoRunner runner(GetParam());
    HttpClient client(runner.io().get_executor(), options_for(server));
    const Fetched got = runner.run(fetch(client, get("/")));
    ASSERT_TRUE(got.error);
    EXPECT_EQ(got.error->kind, ClientErrorKind::kReset) << got.error->message;
    EXPECT_EQ(server.connections(), 1);
}

TEST_P(HttpClientTest, ConnectionRefused) {
    std::uint16_t port = 0;
    {
        net::io_context io;
        net::ip::tcp::acceptor acceptor(io, {net::ip::make_address("127.0.0.1"), 0});
        port = acceptor.local_endpoint().port();
    }  // closed: nothing listens there now
    IoRunner runner(GetParam());
    ClientOptions options;
    options.base_url = "http://127.0.0.1:" + std::to_string(port);
    options.proxy_url = "none";
    HttpClient client(runner.io().get_executor(), options);
    const Fetched got =
        runner.run(fetch(client, get("/", {{"Authorization", "Bearer sk-secret-key"}})));
    ASSERT_TRUE(got.error);
    EXPECT_EQ(got.error->kind, ClientErrorKind::kConnect) << got.error->message;
    EXPECT_NE(got.error->message.find("cannot connect to 127.0.0.1:" + std::to_string(port)),
              std::string::npos)
        << got.error->message;
    EXPECT_EQ(got.error->message.find("sk-secret"), std::string::npos);
    EXPECT_EQ(client.stats().in_use, 0U);
}

TEST_P(HttpClientTest, InvalidOptionsFailEverySend) {
    ClientOptions options;
    options.base_url = "ftp://user:pw@host";
    const auto validated = HttpClient::validate(options);
    ASSERT_FALSE(validated);
    EXPECT_EQ(validated.error().detail.find("pw"), std::string::npos);
    IoRunner runner(GetParam());
    HttpClient client(runner.io().get_executor(), options);
    const Fetched got = runner.run(fetch(client, get("/")));
    ASSERT_TRUE(got.error);
    EXPECT_EQ(got.error->kind, ClientErrorKind::kInvalidUrl);
    EXPECT_STREQ(client_error_kind_name(got.error->kind), "invalid_url");

    options.base_url = "http://127.0.0.1:1";
    options.proxy_url = "none";
    EXPECT_TRUE(HttpClient::validate(options));
    HttpClient valid(runner.io().get_executor(), options);
    const Fetched bad_header = runner.run(fetch(valid, get("/", {{"X-Evil", "a\r\nInjected: 1"}})));
    ASSERT_TRUE(bad_header.error);
    EXPECT_EQ(bad_header.error->kind, ClientErrorKind::kProtocol);
}

TEST_P(HttpClientTest, ConnectTimeoutWhenTlsHandshakeIsNeverAnswered) {
    TestServer server([](ServerConnection& connection) { connection.wait_closed(); });
    IoRunner runner(GetParam());
    ClientOptions options = options_for(server);
    options.base_url = server.url("https");
    options.connect_timeout = 300ms;
    HttpClient client(runner.io().get_executor(), options);
    const auto started = Clock::now();
    const Fetched got = runner.run(fetch(client, get("/")));
    ASSERT_TRUE(got.error);
    EXPECT_EQ(got.error->kind, ClientErrorKind::kConnectTimeout) << got.error->message;
    EXPECT_NE(got.error->message.find("connect_timeout (300 ms)"), std::string::npos)
        << got.error->message;
    EXPECT_LT(Clock::now() - started, 5s);
    EXPECT_EQ(client.stats().in_use, 0U);
}

TEST_P(HttpClientTest, FirstByteTimeout) {
    TestServer server([](ServerConnection& connection) {
        (void)connection.read_request();
        connection.wait_closed();
    });
    IoRunner runner(GetParam());
    ClientOptions options = options_for(server);
    options.first_byte_timeout = 300ms;
    HttpClient client(runner.io().get_executor(), options);
    const auto started = Clock::now();
    const Fetched got = runner.run(fetch(client, get("/")));
    ASSERT_TRUE(got.error);
    EXPECT_EQ(got.error->kind, ClientErrorKind::kFirstByteTimeout) << got.error->message;
    EXPECT_GE(Clock::now() - started, 250ms);
    EXPECT_LT(Clock::now() - started, 5s);
}

TEST_P(HttpClientTest, ReadIdleTimeout) {
    TestServer server([](ServerConnection& connection) {
        if (connection.read_request()) {
            connection.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
                             test::chunk("partial"));
        }
        connection.wait_closed();
    });
    IoRunner runner(GetParam());
    ClientOptions options = options_for(server);
    options.read_idle_timeout = 300ms;
    HttpClient client(runner.io().get_executor(), options);
    const auto [pieces, error] = runner.run(stream_pieces(client, get("/"), nullptr, nullptr));
    ASSERT_TRUE(error);
    EXPECT_EQ(error->kind, ClientErrorKind::kReadIdleTimeout) << error->message;
    ASSERT_EQ(pieces.size(), 1U);
    EXPECT_EQ(client.stats().in_use, 0U);
    EXPECT_EQ(client.stats().idle, 0U);
}

/// Answers with a chunked head, then `count` pieces "tick\n" `interval` apart; false when the
/// client went away.
bool trickle_ticks(ServerConnection& connection, int count, std::chrono::milliseconds interval) {
    if (!connection.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")) {
        return false;
    }
    for (int piece_idx = 0; piece_idx < count; ++piece_idx) {
        if (!connection.write(test::chunk("tick\n"))) {
            return false;
        }
        std::this_thread::sleep_for(interval);
    }
    return true;
}

TEST_P(HttpClientTest, ReadIdleTimeoutAfterManyPiecesCountsFromTheLastOne) {
    // Pieces for longer than read_idle_timeout, then silence: the timeout must still fire, and
    // only once the silence itself is longer than read_idle_timeout.
    Signal last_piece_sent;
    TestServer server([&](ServerConnection& connection) {
        if (!connection.read_request()) {
            return;
        }
        if (!trickle_ticks(connection, 20, 40ms)) {
            return;
        }
        last_piece_sent.notify();
        connection.wait_closed();
    });
    IoRunner runner(GetParam());
    ClientOptions options = options_for(server);
    options.read_idle_timeout = 300ms;
    HttpClient client(runner.io().get_executor(), options);
    auto task = runner.start(stream_pieces(client, get("/"), nullptr, nullptr));
    ASSERT_TRUE(last_piece_sent.wait_for(10s));
    const auto silence_started = Clock::now();
    ASSERT_EQ(task.wait_for(10s), std::future_status::ready);
    const auto [pieces, error] = task.get();
    ASSERT_TRUE(error);
    EXPECT_EQ(error->kind, ClientErrorKind::kReadIdleTimeout) << error->message;
    EXPECT_EQ(pieces.size(), 20U);
    EXPECT_GE(Clock::now() - silence_started, 200ms);
    EXPECT_EQ(client.stats().in_use, 0U);
}

/// Reads one piece, then waits `pause` before each further read_some().
net::awaitable<std::pair<std::string, std::optional<ClientError>>> read_slowly(
    HttpClient& client, std::chrono::milliseconds pause) {
    auto response = co_await client.send(get("/"));
    if (!response) {
        co_return std::make_pair(std::string(), std::optional<ClientError>(response.error()));
    }
    std::string body;
    net::steady_timer timer(co_await net::this_coro::executor);
    for (;;) {
        auto piece = co_await (*response)->read_some();
        if (!piece) {
            co_return std::make_pair(body, std::optional<ClientError>(piece.error()));
        }
        if (!*piece) {
            co_return std::make_pair(body, std::optional<ClientError>());
        }
        body += **piece;
        timer.expires_after(pause);
        co_await timer.async_wait(net::use_awaitable);
    }
}

TEST_P(HttpClientTest, ReadIdleTimeoutDoesNotCountTimeSpentByTheCaller) {
    // The upstream sends every piece at once; the caller takes longer than read_idle_timeout
    // between reads. Only time spent waiting for the upstream counts.
    TestServer server([](ServerConnection& connection) {
        if (!connection.read_request()) {
            return;
        }
        std::string response = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        for (int piece_idx = 0; piece_idx < 3; ++piece_idx) {
            response += test::chunk(std::string(100, static_cast<char>('a' + piece_idx)));
        }
        response += "0\r\n\r\n";
        connection.write(response);
        connection.wait_closed();
    });
    IoRunner runner(GetParam());
    ClientOptions options = options_for(server);
    options.read_idle_timeout = 150ms;
    HttpClient client(runner.io().get_executor(), options);
    const auto [body, error] = runner.run(read_slowly(client, 400ms), 60s);
    ASSERT_FALSE(error) << error->message;
    EXPECT_EQ(body.size(), 300U);
    EXPECT_EQ(client.stats().idle, 1U);
}

TEST_P(HttpClientTest, TotalTimeoutWhileBodyTrickles) {
    TestServer server([](ServerConnection& connection) {
        if (!connection.read_request()) {
            return;
        }
        // A piece every 50 ms keeps the read-idle timer happy; only the total deadline ends it.
        trickle_ticks(connection, 200, 50ms);
    });
    IoRunner runner(GetParam());
    ClientOptions options = options_for(server);
    options.read_idle_timeout = 5s;
    options.total_timeout = 500ms;
    HttpClient client(runner.io().get_executor(), options);
    const auto started = Clock::now();
    const auto [pieces, error] = runner.run(stream_pieces(client, get("/"), nullptr, nullptr));
    ASSERT_TRUE(error);
    EXPECT_EQ(error->kind, ClientErrorKind::kTotalTimeout) << error->message;
    EXPECT_GE(pieces.size(), 2U);
    EXPECT_LT(Clock::now() - started, 5s);
}

TEST_P(HttpClientTest, CancelDuringStreamingReadClosesTheConnection) {
    Signal first_piece;
    Signal server_saw_close;
    TestServer server([&](ServerConnection& connection) {
        if (connection.read_request()) {
            connection.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
                             test::chunk("data: first\n\n"));
        }
        connection.wait_closed();
        server_saw_close.notify();
    });
    IoRunner runner(GetParam());
    ClientOptions options = options_for(server);
    HttpClient client(runner.io().get_executor(), options);
    auto cancel = core::CancelToken::create();
    // Cancels from a thread that is neither the test's nor an I/O thread, as a disconnecting
    // downstream client would.
    std::thread canceller([&] {
        if (first_piece.wait_for(10s)) {
            cancel->cancel();
        }
    });
    const auto started = Clock::now();
    const auto [pieces, error] = runner.run(stream_pieces(client, get("/"), &first_piece, cancel));
    canceller.join();
    ASSERT_TRUE(error);
    EXPECT_EQ(error->kind, ClientErrorKind::kCancelled) << error->message;
    EXPECT_EQ(pieces.size(), 1U);
    EXPECT_LT(Clock::now() - started, 5s);  // not the 30 s read-idle timeout
    EXPECT_TRUE(server_saw_close.wait_for(5s));
    EXPECT_EQ(client.stats().in_use, 0U);
    EXPECT_EQ(client.stats().idle, 0U);
}

TEST_P(HttpClientTest, CancelWhileWaitingForTheHead) {
    Signal request_seen;
    Signal server_saw_close;
    TestServer server([&](ServerConnection& connection) {
        if (connection.read_request()) {
            request_seen.notify();
        }
        connection.wait_closed();
        server_saw_close.notify();
    });
    IoRunner runner(GetParam());
    HttpClient client(runner.io().get_executor(), options_for(server));
    auto cancel = core::CancelToken::create();
    std::thread canceller([&] {
        if (request_seen.wait_for(10s)) {
            cancel->cancel();
        }
    });
    const Fetched got = runner.run(fetch(client, get("/"), cancel));
    canceller.join();
    ASSERT_TRUE(got.error);
    EXPECT_EQ(got.error->kind, ClientErrorKind::kCancelled) << got.error->message;
    EXPECT_TRUE(server_saw_close.wait_for(5s));

    // A token that has already fired fails at once.
    const Fetched again = runner.run(fetch(client, get("/"), cancel));
    ASSERT_TRUE(again.error);
    EXPECT_EQ(again.error->kind, ClientErrorKind::kCancelled);
}

TEST_P(HttpClientTest, DestroyingAnUnfinishedResponseClosesItsConnection) {
    Signal server_saw_close;
    TestServer server([&](ServerConnection& connection) {
        if (connection.read_request()) {
            connection.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part");
        }
        connection.wait_closed();
        server_saw_close.notify();
    });
    IoRunner runner(GetParam());
    HttpClient client(runner.io().get_executor(), options_for(server));
    auto response = runner.run(client.send(get("/")));
    ASSERT_TRUE(response);
    response->reset();
    EXPECT_TRUE(server_saw_close.wait_for(5s));
}

TEST_P(HttpClientTest, ReadAllEnforcesItsLimit) {
    TestServer server([&](ServerConnection& connection) {
        test::serve_each(server, connection, [](const ReceivedRequest&) {
            return test::ok_response(std::string(5000, 'x'));
        });
    });
    IoRunner runner(GetParam());
    HttpClient client(runner.io().get_executor(), options_for(server));
    auto response = runner.run(client.send(get("/")));
    ASSERT_TRUE(response);
    const auto body = runner.run((*response)->read_all(1000));
    ASSERT_FALSE(body);
    EXPECT_EQ(body.error().kind, ClientErrorKind::kProtocol);
    EXPECT_EQ(client.stats().in_use, 0U);
}

net::awaitable<std::pair<Fetched, Fetched>> exhaust_pool(HttpClient& client) {
    auto held = co_await client.send(get("/held"));
    Fetched second;
    if (!held) {
        second.error = held.error();
        co_return std::make_pair(Fetched{}, second);
    }
    // The only connection is busy until `held`'s body is read.
    second = co_await fetch(client, get("/second"));
    Fetched first;
    auto body = co_await (*held)->read_all(1000);
    first.body = body ? *body : "";
    co_return std::make_pair(first, second);
}

TEST_P(HttpClientTest, PoolExhaustedAfterWaitingConnectTimeout) {
    TestServer server([&](ServerConnection& connection) {
        test::serve_each(server, connection, [](const ReceivedRequest& request) {
            return test::ok_response(request.target);
        });
    });
    IoRunner runner(GetParam());
    ClientOptions options = options_for(server);
    options.max_connections = 1;
    options.connect_timeout = 300ms;
    HttpClient client(runner.io().get_executor(), options);
    const auto started = Clock::now();
    const auto [first, second] = runner.run(exhaust_pool(client));
    ASSERT_TRUE(second.error);
    EXPECT_EQ(second.error->kind, ClientErrorKind::kPoolExhausted) << second.error->message;
    EXPECT_GE(Clock::now() - started, 250ms);
    EXPECT_EQ(first.body, "/held");
    EXPECT_EQ(server.connections(), 1);
}

TEST_P(HttpClientTest, PoolWaiterGetsTheReleasedConnection) {
    TestServer server([&](ServerConnection& connection) {
        test::serve_each(server, connection, [](const ReceivedRequest& request) {
            return test::ok_response(request.target);
        });
    });
    IoRunner runner(GetParam());
    ClientOptions options = options_for(server);
    options.max_connections = 1;
    options.connect_timeout = 10s;
    HttpClient client(runner.io().get_executor(), options);
    auto held = runner.run(client.send(get("/held")));
    ASSERT_TRUE(held) << held.error().message;
    auto waiter = runner.start(fetch(client, get("/waiter")));
    for (int attempt = 0; attempt < 500 && client.stats().waiting == 0; ++attempt) {
        std::this_thread::sleep_for(10ms);
    }
    ASSERT_EQ(client.stats().waiting, 1U);
    // Reading the held body to its end returns the only connection, which wakes the waiter.
    const auto body = runner.run((*held)->read_all(1000));
    ASSERT_TRUE(body);
    EXPECT_EQ(*body, "/held");
    ASSERT_EQ(waiter.wait_for(8s), std::future_status::ready);
    const Fetched got = waiter.get();
    ASSERT_FALSE(got.error) << got.error->message;
    EXPECT_EQ(got.body, "/waiter");
    EXPECT_EQ(server.connections(), 1);
    EXPECT_EQ(client.stats().reused, 1U);
}

// ragd's server runs one io_context per I/O thread. A pooled connection is lent only to callers
// on the io_context its socket was opened on (from another, every read would wake the socket's
// thread to hand the completion over); when every slot is held by idle connections of another
// io_context, the oldest of them is closed to make room.
TEST(HttpClientPool, ConnectionsAreLentOnlyWithinTheirIoContext) {
    TestServer server([&](ServerConnection& connection) {
        test::serve_each(server, connection, [](const ReceivedRequest& request) {
            return test::ok_response(request.target);
        });
    });
    IoRunner first(test::Caller::kStrand);
    IoRunner second(test::Caller::kStrand);
    ClientOptions options = options_for(server);
    options.max_connections = 1;
    HttpClient client(first.io().get_executor(), options);
    const auto fetch_on = [&client](IoRunner& runner, std::string target) {
        return runner.run(fetch(client, get(std::move(target))));
    };
    Fetched got = fetch_on(first, "/first");
    ASSERT_FALSE(got.error) << got.error->message;
    got = fetch_on(second, "/second");
    ASSERT_FALSE(got.error) << got.error->message;
    EXPECT_EQ(got.body, "/second");
    EXPECT_EQ(client.stats().connections_created, 2U);
    EXPECT_EQ(client.stats().reused, 0U);
    got = fetch_on(second, "/second-again");
    ASSERT_FALSE(got.error) << got.error->message;
    EXPECT_EQ(client.stats().connections_created, 2U);
    EXPECT_EQ(client.stats().reused, 1U);
    got = fetch_on(first, "/first-again");
    ASSERT_FALSE(got.error) << got.error->message;
    EXPECT_EQ(client.stats().connections_created, 3U);
    EXPECT_EQ(client.stats().idle, 1U);  // at most max_connections open, idle ones included
    EXPECT_EQ(server.connections(), 3);
}

TEST_P(HttpClientTest, CancelWhileWaitingForAPoolSlot) {
    TestServer server([&](ServerConnection& connection) {
        test::serve_each(server, connection, [](const ReceivedRequest& request) {
            return test::ok_response(request.target);
        });
    });
    IoRunner runner(GetParam());
    ClientOptions options = options_for(server);
    options.max_connections = 1;
    options.connect_timeout = 10s;
    HttpClient client(runner.io().get_executor(), options);
    auto held = runner.run(client.send(get("/held")));
    ASSERT_TRUE(held) << held.error().message;
    auto cancel = core::CancelToken::create();
    const auto started = Clock::now();
    auto waiter = runner.start(fetch(client, get("/waiter"), cancel));
    for (int attempt = 0; attempt < 500 && client.stats().waiting == 0; ++attempt) {
        std::this_thread::sleep_for(10ms);
    }
    ASSERT_EQ(client.stats().waiting, 1U);
    cancel->cancel();
    ASSERT_EQ(waiter.wait_for(5s), std::future_status::ready);
    const Fetched got = waiter.get();
    ASSERT_TRUE(got.error);
    EXPECT_EQ(got.error->kind, ClientErrorKind::kCancelled) << got.error->message;
    EXPECT_LT(Clock::now() - started, 5s);
    EXPECT_EQ(client.stats().waiting, 0U);
    // The held connection is unaffected and returns to the pool.
    const auto body = runner.run((*held)->read_all(1000));
    ASSERT_TRUE(body);
    EXPECT_EQ(client.stats().idle, 1U);
}

TEST_P(HttpClientTest, ConcurrentSendsShareThePool) {
    TestServer server([&](ServerConnection& connection) {
        test::serve_each(server, connection, [](const ReceivedRequest& request) {
            return test::ok_response(request.target);
        });
    });
    IoRunner runner(GetParam());
    ClientOptions options = options_for(server);
    options.max_connections = 4;
    HttpClient client(runner.io().get_executor(), options);
    std::vector<std::future<Fetched>> futures;
    for (int request_idx = 0; request_idx < 40; ++request_idx) {
        futures.push_back(runner.start(fetch(client, get("/c/" + std::to_string(request_idx)))));
    }
    for (int request_idx = 0; request_idx < 40; ++request_idx) {
        ASSERT_EQ(futures[request_idx].wait_for(15s), std::future_status::ready);
        const Fetched got = futures[request_idx].get();
        ASSERT_FALSE(got.error) << got.error->message;
        EXPECT_EQ(got.body, "/c/" + std::to_string(request_idx));
    }
    EXPECT_LE(server.connections(), 4);
    const HttpClient::Stats stats = client.stats();
    EXPECT_EQ(stats.in_use, 0U);
    EXPECT_EQ(stats.connections_created, static_cast<std::size_t>(server.connections()));
}

TEST_P(HttpClientTest, IdleConnectionsExpire) {
    Signal server_saw_close;
    TestServer server([&](ServerConnection& connection) {
        test::serve_each(
            server, connection, [](const ReceivedRequest&) { return test::ok_response("ok"); });
        server_saw_close.notify();
    });
    IoRunner runner(GetParam());
    ClientOptions options = options_for(server);
    options.idle_keepalive = 200ms;
    HttpClient client(runner.io().get_executor(), options);
    ASSERT_FALSE(runner.run(fetch(client, get("/"))).error);
    EXPECT_EQ(client.stats().idle, 1U);
    ASSERT_TRUE(server_saw_close.wait_for(5s));
    EXPECT_EQ(client.stats().idle, 0U);
}

TEST_P(HttpClientTest, TenThousandRequestsDoNotLeakDescriptors) {
    // Every other answer closes the connection, so both new and reused connections are
    // exercised; at the end only the pooled idle connection may stay open.
    TestServer server([&](ServerConnection& connection) {
        while (auto request = connection.read_request()) {
            server.count_request();
            const bool close = server.requests() % 2 == 0;
            if (!connection.write(test::ok_response("x", close ? "Connection: close\r\n" : ""))) {
                return;
            }
            if (close) {
                return;
            }
        }
    });
    IoRunner runner(GetParam());
    HttpClient client(runner.io().get_executor(), options_for(server));
    ASSERT_FALSE(runner.run(fetch_many(client, 10)).error);
    client.close_idle();
    const auto settled = [&] {
        for (int attempt = 0; attempt < 500 && server.active() > 0; ++attempt) {
            std::this_thread::sleep_for(10ms);
        }
        return server.active() == 0;
    };
    ASSERT_TRUE(settled());
    const std::size_t before = open_fds();
    const Fetched last = runner.run(fetch_many(client, 10000), 120s);
    ASSERT_FALSE(last.error) << last.error->message;
    client.close_idle();
    ASSERT_TRUE(settled());
    EXPECT_LE(open_fds(), before);
    EXPECT_GE(server.connections(), 5000);
}

}  // namespace
}  // namespace ragd::http
