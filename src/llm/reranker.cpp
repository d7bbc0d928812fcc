// One rerank call: breaker permit → POST → status check → parse. Only the service's own
// failures (connect errors, timeouts, 5xx, 429, malformed answers) move the breaker.
#include "llm/reranker.hpp"

#include "core/utf8.hpp"
#include "llm/client_outcome.hpp"

namespace ragd::llm {
namespace net = boost::asio;

namespace {

/// Largest rerank answer read (a few dozen {index, score} entries are a few KB).
constexpr std::size_t kMaxResponseBytes = std::size_t{1024} * 1024;

core::Error failure(core::ErrorCode code, std::string detail) {
    return core::fail(code, "reranker: " + std::move(detail));
}

}  // namespace

core::Result<std::unique_ptr<Reranker>> Reranker::create(net::any_io_executor executor,
                                                         const core::RerankConfig& config,
                                                         const std::string& ca_file) {
    if (!known_rerank_dialect(config.provider)) {
        return core::fail(
            core::ErrorCode::kInvalidArgument,
            "rerank.provider: unknown dialect '" + config.provider + "' (cohere or tei)");
    }
    auto api_key = api_key_from_env(config.api_key_env, "rerank.api_key_env");
    if (!api_key) {
        return core::fail(core::ErrorCode::kInvalidArgument, "rerank: " + api_key.error().detail);
    }
    http::ClientOptions options =
        http::one_deadline_options(config.base_url, config.timeout, ca_file, 64);
    if (auto valid = http::HttpClient::validate(options); !valid) {
        return core::fail(core::ErrorCode::kInvalidArgument, "rerank: " + valid.error().detail);
    }
    return std::unique_ptr<Reranker>(
        new Reranker(std::move(executor), config, std::move(options), std::move(*api_key)));
}

Reranker::Reranker(net::any_io_executor executor,
                   const core::RerankConfig& config,
                   http::ClientOptions options,
                   std::string api_key)
    : dialect_(config.provider),
      model_(config.model),
      api_key_(std::move(api_key)),
      id_(config.provider + ":" + config.model),
      candidates_(config.candidates),
      max_passage_bytes_(config.max_passage_bytes),
      client_(std::move(executor), std::move(options)) {}

net::awaitable<core::Result<std::vector<RerankScore>>> Reranker::rerank(
    std::string query,
    std::vector<std::string> documents,
    std::shared_ptr<core::CancelToken> cancel) {
    CircuitBreaker::Permit permit = breaker_.try_acquire();
    if (!permit) {
        co_return failure(core::ErrorCode::kUnavailable, "circuit breaker open");
    }
    for (std::string& document : documents) {
        document.resize(core::utf8_floor_boundary(document, max_passage_bytes_));
    }
    RerankWireRequest wire = build_rerank_request(dialect_, model_, query, documents);
    http::ClientRequest request;
    request.method = http::Method::kPost;
    request.target = std::move(wire.target);
    request.body = std::move(wire.body);
    request.headers.push_back({"Content-Type", "application/json"});
    request.headers.push_back({"Accept", "application/json"});
    if (!api_key_.empty()) {
        request.headers.push_back({"Authorization", "Bearer " + api_key_});
    }
    auto sent = co_await client_.send(std::move(request), cancel);
    if (!sent) {
        if (sent.error().kind != http::ClientErrorKind::kCancelled) {
            permit.record_failure();
        }
        co_return failure(error_code_for(sent.error().kind), sent.error().message);
    }
    http::ClientResponse& response = **sent;
    auto body = co_await response.read_all(kMaxResponseBytes);
    if (!body) {
        if (body.error().kind != http::ClientErrorKind::kCancelled) {
            permit.record_failure();
        }
        co_return failure(error_code_for(body.error().kind), body.error().message);
    }
    const int status = response.status();
    if (status < 200 || status > 299) {
        const bool service_fault = status == 429 || status >= 500;
        if (service_fault) {
            permit.record_failure();
        } else {
            permit.record_success();  // reachable and answering: our request's fault
        }
        std::string excerpt = core::sanitize_utf8(body->substr(0, 200));
        co_return failure(
            service_fault ? core::ErrorCode::kUnavailable : core::ErrorCode::kInvalidArgument,
            "HTTP " + std::to_string(status) + ": " + excerpt);
    }
    auto scores = parse_rerank_response(dialect_, *body, documents.size());
    if (!scores) {
        permit.record_failure();
        co_return scores.error();
    }
    permit.record_success();
    co_return std::move(*scores);
}

}  // namespace ragd::llm
