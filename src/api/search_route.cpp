// POST /v1/search with a reranker or a remote embedder: decode, embed the question (remote
// embedder, awaited), search on the compute pool, rerank, encode.
#include "api/search_route.hpp"

#include <memory>

#include "api/access_rules.hpp"
#include "api/question_embedding.hpp"
#include "api/rerank_step.hpp"
#include "api/response_encoding.hpp"
#include "api/routes.hpp"
#include "api/server_metrics.hpp"

namespace ragd::api {
namespace net = boost::asio;

namespace {

http::Response error_response(const core::Error& error) {
    return query_error_response(error);
}

net::awaitable<void> handle_search(std::shared_ptr<const SearchRouteDeps> deps,
                                   http::Request request,
                                   Principal caller,
                                   http::ResponseWriter& writer,
                                   http::RequestContext& context) {
    auto decoded = decode_query_request(request.body, deps->limits);
    if (!decoded) {
        co_await writer.send(error_response(decoded.error()));
        co_return;
    }
    restrict_query(caller, decoded->options);
    pipeline::QueryOptions options = decoded->options;
    options.top_k = retrieval_depth(deps->reranker, *decoded, deps->limits.max_top_k);
    if (auto embedded = co_await embed_question(
            deps->engine->embedder(), decoded->query, options, context.cancel(), deps->metrics);
        !embedded) {
        co_await writer.send(error_response(embedded.error()));
        co_return;
    }
    core::Result<pipeline::SearchOutcome> outcome =
        core::fail(core::ErrorCode::kInternal, "not run");
    const bool ran = co_await context.run_quick(
        [&] { outcome = deps->engine->query().search(decoded->query, options); });
    if (!ran) {
        co_await writer.send(error_response(
            core::Error(core::ErrorCode::kOverloaded, "compute queue is full; retry later")));
        co_return;
    }
    if (!outcome) {
        co_await writer.send(error_response(outcome.error()));
        co_return;
    }
    RerankOutcome reranked = RerankOutcome::kNotNeeded;
    if (rerank_requested(deps->reranker, *decoded)) {
        reranked = co_await rerank_hits(*deps->reranker,
                                        deps->metrics,
                                        decoded->query,
                                        *outcome,
                                        decoded->options.top_k,
                                        context.cancel());
    }
    const bool rerank_failed = reranked == RerankOutcome::kFailed;
    // embed_question turns a hybrid search into BM25 alone when the remote embedder failed.
    const bool embedder_failed = options.mode != decoded->options.mode;
    if (const std::string degraded = degraded_annotation(embedder_failed, rerank_failed);
        !degraded.empty()) {
        context.annotate("degraded", degraded);
    }
    if (deps->metrics != nullptr) {
        observe_stages(*deps->metrics, outcome->timings, options.mode, false);
    }
    co_await writer.send(http::Response::json(200, search_json(*outcome)));
}

}  // namespace

GuardedAsyncHandler make_reranked_search_handler(SearchRouteDeps deps) {
    auto shared = std::make_shared<const SearchRouteDeps>(deps);
    return [shared](http::Request request,
                    Principal caller,
                    http::ResponseWriter& writer,
                    http::RequestContext& context) {
        return handle_search(shared, std::move(request), caller, writer, context);
    };
}

}  // namespace ragd::api
