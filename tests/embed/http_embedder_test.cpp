// HttpEmbedder against the real mock service (ragd mock-llm, in process): batching, prefixes,
// the async path, strict answers, retries of injected failures, and failing fast when the
// service is gone.
#include "embed/http_embedder.hpp"

#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <unistd.h>

#include "../support/free_port.hpp"
#include "mock/embeddings.hpp"
#include "mock/mock_server.hpp"

namespace ragd::embed {
namespace {

namespace net = boost::asio;

/// A mock-llm serving on a free loopback port from a thread of its own.
class RunningMock {
public:
    explicit RunningMock(mock::MockLlmOptions options = {}) {
        options.listen = "127.0.0.1:0";
        options.threads = 1;
        server_ = std::make_unique<mock::MockServer>(std::move(options));
        auto listening = server_->listen();
        EXPECT_TRUE(listening) << listening.error().detail;
        thread_ = std::thread([this] { server_->run(); });
    }
    ~RunningMock() {
        server_->stop();
        thread_.join();
    }
    std::string url() const { return "http://" + server_->local_endpoint(); }
    std::uint64_t embeddings_requests() const {
        return server_->stats().requests[static_cast<int>(mock::Endpoint::kEmbeddings)].load(
            std::memory_order_relaxed);
    }
    std::uint64_t errors_injected() const {
        std::uint64_t total = 0;
        for (const auto& counter : server_->stats().errors_injected) {
            total += counter.load(std::memory_order_relaxed);
        }
        return total;
    }

private:
    std::unique_ptr<mock::MockServer> server_;
    std::thread thread_;
};

core::EmbedConfig config_for(const std::string& url, std::size_t dimensions = 32) {
    core::EmbedConfig config;
    config.provider = "openai";
    config.base_url = url;
    config.model = "mock-embed";
    config.dimensions = dimensions;
    config.send_dimensions = true;
    config.timeout = std::chrono::milliseconds(5000);
    return config;
}

std::unique_ptr<HttpEmbedder> make(const core::EmbedConfig& config) {
    auto made = HttpEmbedder::create(config);
    EXPECT_TRUE(made) << made.error().detail;
    return made ? std::move(*made) : nullptr;
}

std::vector<std::string_view> views(const std::vector<std::string>& texts) {
    return {texts.begin(), texts.end()};
}

TEST(HttpEmbedderTest, EmbedsInBatchesInInputOrder) {
    RunningMock mock;
    auto config = config_for(mock.url());
    config.batch_size = 4;
    config.concurrency = 2;
    auto embedder = make(config);
    ASSERT_NE(embedder, nullptr);
    std::vector<std::string> texts;
    for (int i = 0; i < 10; ++i) {
        texts.push_back("passage number " + std::to_string(i) + " about topic" +
                        std::to_string(i * 7));
    }
    auto vectors = embedder->embed(views(texts), EmbedKind::kDocument);
    ASSERT_TRUE(vectors) << vectors.error().detail;
    ASSERT_EQ(vectors->size(), texts.size());
    for (std::size_t i = 0; i < texts.size(); ++i) {
        const auto expected = mock::mock_embedding(texts[i], 32);
        ASSERT_EQ((*vectors)[i].size(), 32U);
        for (std::size_t dim = 0; dim < 32; ++dim) {
            EXPECT_NEAR((*vectors)[i][dim], expected[dim], 1e-6) << i;
        }
    }
    EXPECT_EQ(mock.embeddings_requests(), 3U);  // 4 + 4 + 2
    EXPECT_EQ(embedder->model_id(), "openai:mock-embed:32");
    EXPECT_EQ(embedder->dimensions(), 32U);
    EXPECT_EQ(embedder->remote(), embedder.get());
    auto none = embedder->embed({}, EmbedKind::kDocument);
    ASSERT_TRUE(none);
    EXPECT_TRUE(none->empty());
    EXPECT_EQ(mock.embeddings_requests(), 3U);
}

TEST(HttpEmbedderTest, PrefixesByKindAndTheDocumentPrefixIsPartOfTheModelId) {
    RunningMock mock;
    auto config = config_for(mock.url());
    config.query_prefix = "query: zebra ";
    config.document_prefix = "passage: ";
    auto embedder = make(config);
    ASSERT_NE(embedder, nullptr);
    const std::vector<std::string> texts = {"vacuum freezes tuples"};
    auto query = embedder->embed(views(texts), EmbedKind::kQuery);
    auto document = embedder->embed(views(texts), EmbedKind::kDocument);
    ASSERT_TRUE(query && document);
    EXPECT_EQ((*query)[0], mock::mock_embedding("query: zebra vacuum freezes tuples", 32));
    EXPECT_EQ((*document)[0], mock::mock_embedding("passage: vacuum freezes tuples", 32));
    EXPECT_NE((*query)[0], (*document)[0]);
    EXPECT_EQ(embedder->model_id().rfind("openai:mock-embed:32:p", 0), 0U) << embedder->model_id();
    EXPECT_EQ(embedder->model_id().size(), std::string("openai:mock-embed:32:p").size() + 8);
}

TEST(HttpEmbedderTest, AsyncResumesOnTheCallersContext) {
    RunningMock mock;
    auto embedder = make(config_for(mock.url()));
    ASSERT_NE(embedder, nullptr);
    net::io_context caller;
    core::Result<std::vector<Vector>> result = core::fail(core::ErrorCode::kInternal, "not run");
    std::thread::id resumed_on;
    net::co_spawn(
        caller,
        [&]() -> net::awaitable<void> {
            // A named local, not a braced temporary: GCC 12 rejects those in a coroutine call.
            std::vector<std::string> texts = {"checkpoint", "wal"};
            result = co_await embedder->embed_async(std::move(texts), EmbedKind::kQuery, nullptr);
            resumed_on = std::this_thread::get_id();
        },
        [](const std::exception_ptr& error) {
            if (error) {
                std::rethrow_exception(error);
            }
        });
    caller.run();
    ASSERT_TRUE(result) << result.error().detail;
    ASSERT_EQ(result->size(), 2U);
    EXPECT_EQ((*result)[1], mock::mock_embedding("wal", 32));
    EXPECT_EQ(resumed_on, std::this_thread::get_id());
}

TEST(HttpEmbedderTest, VectorsOfTheWrongLengthAreRefused) {
    RunningMock mock;
    auto config = config_for(mock.url(), 48);
    config.send_dimensions = false;  // the mock then answers its default, 64
    auto embedder = make(config);
    ASSERT_NE(embedder, nullptr);
    const std::vector<std::string> texts = {"x"};
    auto vectors = embedder->embed(views(texts), EmbedKind::kDocument);
    ASSERT_FALSE(vectors);
    EXPECT_EQ(vectors.error().code, core::ErrorCode::kCorrupt);
    EXPECT_NE(vectors.error().detail.find("returned 64 dimensions, embed.dimensions is 48"),
              std::string::npos)
        << vectors.error().detail;
}

TEST(HttpEmbedderTest, ARefusedRequestIsNotRetried) {
    RunningMock mock;
    auto config = config_for(mock.url());
    config.model = "";  // the mock answers 400: model must be a non-empty string
    auto embedder = make(config);
    ASSERT_NE(embedder, nullptr);
    const std::vector<std::string> texts = {"x"};
    auto vectors = embedder->embed(views(texts), EmbedKind::kDocument);
    ASSERT_FALSE(vectors);
    EXPECT_EQ(vectors.error().code, core::ErrorCode::kInvalidArgument);
    EXPECT_NE(vectors.error().detail.find("HTTP 400"), std::string::npos);
    EXPECT_EQ(mock.embeddings_requests(), 1U);
}

TEST(HttpEmbedderTest, RetriesInjectedServerErrorsAndResets) {
    mock::MockLlmOptions options;
    options.error_rate = 0.4;
    options.error_kinds = {mock::ErrorKind::kServerError, mock::ErrorKind::kReset};
    options.seed = 11;
    RunningMock mock(options);
    auto config = config_for(mock.url());
    config.batch_size = 1;
    config.max_attempts = 10;
    auto embedder = make(config);
    ASSERT_NE(embedder, nullptr);
    std::vector<std::string> texts;
    for (int i = 0; i < 12; ++i) {
        texts.push_back("text " + std::to_string(i));
    }
    auto vectors = embedder->embed(views(texts), EmbedKind::kDocument);
    ASSERT_TRUE(vectors) << vectors.error().detail;
    EXPECT_EQ((*vectors)[11], mock::mock_embedding("text 11", 32));
    EXPECT_GT(mock.errors_injected(), 0U);
    EXPECT_EQ(mock.embeddings_requests(), 12U + mock.errors_injected());
}

/// embed_async run to completion on a context of the test's own.
core::Result<std::vector<Vector>> embed_question(const HttpEmbedder& embedder) {
    net::io_context caller;
    core::Result<std::vector<Vector>> result = core::fail(core::ErrorCode::kInternal, "not run");
    net::co_spawn(
        caller,
        [&]() -> net::awaitable<void> {
            std::vector<std::string> texts = {"x"};
            result = co_await embedder.embed_async(std::move(texts), EmbedKind::kQuery, nullptr);
        },
        [](const std::exception_ptr& error) {
            if (error) {
                std::rethrow_exception(error);
            }
        });
    caller.run();
    return result;
}

TEST(HttpEmbedderTest, AServiceThatIsGoneFailsQueriesAtOnceOnceTheBreakerOpens) {
    const std::uint16_t port = testing::free_loopback_port();
    auto config = config_for("http://127.0.0.1:" + std::to_string(port));
    config.max_attempts = 2;
    auto embedder = make(config);
    ASSERT_NE(embedder, nullptr);
    auto first = embed_question(*embedder);
    ASSERT_FALSE(first);
    EXPECT_EQ(first.error().code, core::ErrorCode::kUnavailable);
    EXPECT_NE(first.error().detail.find("after 2 attempts"), std::string::npos)
        << first.error().detail;
    bool opened = false;
    for (int call = 0; call < 10 && !opened; ++call) {
        auto again = embed_question(*embedder);
        ASSERT_FALSE(again);
        opened = again.error().detail.find("circuit breaker open") != std::string::npos;
    }
    EXPECT_TRUE(opened);
    EXPECT_STREQ(embedder->breaker_state(), "open");
    // An ingest still tries the service (and fails on its own account, not the breaker's).
    const std::vector<std::string> texts = {"x"};
    auto ingest = embedder->embed(views(texts), EmbedKind::kDocument);
    ASSERT_FALSE(ingest);
    EXPECT_NE(ingest.error().detail.find("after 2 attempts"), std::string::npos)
        << ingest.error().detail;
}

/// A TCP listener that never accepts: connections complete in its backlog, requests are
/// written, and no answer ever comes.
class SilentService {
public:
    SilentService() {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in address = testing::loopback_address(0);
        socklen_t length = sizeof(address);
        EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
        EXPECT_EQ(::listen(fd_, 64), 0);
        EXPECT_EQ(::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length), 0);
        port_ = ntohs(address.sin_port);
    }
    ~SilentService() { ::close(fd_); }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

private:
    int fd_ = -1;
    std::uint16_t port_ = 0;
};

TEST(HttpEmbedderTest, AQuestionGivesUpAtItsDeadlineAndSlownessOpensTheBreaker) {
    SilentService silent;
    auto config = config_for(silent.url());
    config.timeout = std::chrono::milliseconds(5000);
    config.query_timeout = std::chrono::milliseconds(150);
    auto embedder = make(config);
    ASSERT_NE(embedder, nullptr);
    const auto started = std::chrono::steady_clock::now();
    auto first = embed_question(*embedder);
    const auto waited = std::chrono::steady_clock::now() - started;
    ASSERT_FALSE(first);
    EXPECT_EQ(first.error().code, core::ErrorCode::kTimeout);
    EXPECT_NE(first.error().detail.find("no answer within embed.query_timeout_ms (150 ms)"),
              std::string::npos)
        << first.error().detail;
    EXPECT_GE(waited, std::chrono::milliseconds(150));
    EXPECT_LT(waited, std::chrono::milliseconds(2000));  // not embed.timeout_ms, 5 s
    bool opened = false;
    for (int call = 0; call < 10 && !opened; ++call) {
        auto again = embed_question(*embedder);
        ASSERT_FALSE(again);
        opened = again.error().detail.find("circuit breaker open") != std::string::npos;
    }
    EXPECT_TRUE(opened) << "a service too slow for questions must trip the breaker";
}

TEST(HttpEmbedderTest, AnIngestWaitsOutEachAttemptsTimeout) {
    SilentService silent;
    auto config = config_for(silent.url());
    config.timeout = std::chrono::milliseconds(200);
    config.query_timeout = std::chrono::milliseconds(50);  // not an ingest's limit
    config.max_attempts = 2;
    auto embedder = make(config);
    ASSERT_NE(embedder, nullptr);
    const std::vector<std::string> texts = {"x"};
    const auto started = std::chrono::steady_clock::now();
    auto vectors = embedder->embed(views(texts), EmbedKind::kDocument);
    ASSERT_FALSE(vectors);
    EXPECT_EQ(vectors.error().code, core::ErrorCode::kTimeout) << vectors.error().detail;
    EXPECT_NE(vectors.error().detail.find("(after 2 attempts)"), std::string::npos)
        << vectors.error().detail;
    EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(400));
}

TEST(HttpEmbedderTest, AnUnsetKeyVariableOrBadUrlFailsAtCreation) {
    auto config = config_for("http://127.0.0.1:1");
    config.api_key_env = "RAGD_TEST_SURELY_UNSET_EMBED_KEY";
    ::unsetenv(config.api_key_env.c_str());
    auto made = HttpEmbedder::create(config);
    ASSERT_FALSE(made);
    EXPECT_NE(made.error().detail.find("RAGD_TEST_SURELY_UNSET_EMBED_KEY"), std::string::npos);
    config.api_key_env.clear();
    config.base_url = "ftp://nowhere";
    made = HttpEmbedder::create(config);
    ASSERT_FALSE(made);
    EXPECT_EQ(made.error().code, core::ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace ragd::embed
