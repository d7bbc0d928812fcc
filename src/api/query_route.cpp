#include "api/query_route.hpp"

#include <chrono>
#include <cmath>
#include <optional>
#include <span>

#include <boost/json.hpp>

#include "api/access_rules.hpp"
#include "api/question_embedding.hpp"
#include "api/rerank_step.hpp"
#include "api/response_encoding.hpp"
#include "api/routes.hpp"
#include "api/server_metrics.hpp"
#include "core/json_escape.hpp"
#include "core/utf8.hpp"

namespace ragd::api {
namespace json = boost::json;
namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

http::Response error_response(const core::Error& error) {
    return query_error_response(error);
}

/// The error as the JSON of an SSE error event. Its detail may quote client or upstream bytes:
/// repaired to valid UTF-8, as http::Response::error does for JSON error bodies.
json::object error_object(const core::Error& error) {
    return json::object{{"error",
                         json::object{{"type", core::error_code_name(error.code)},
                                      {"message", core::sanitize_utf8(error.detail)}}}};
}

/// The answer's fields shared by the JSON response and the final SSE event, then the sources
/// when given, then "cached" (last: a cache hit is marked by rewriting the tail, mark_cached).
std::string answer_body(const llm::Answer& answer,
                        const pipeline::StageTimings& timings,
                        const std::vector<pipeline::SourceHit>* hits) {
    std::string body;
    body.reserve(512 + answer.text.size() + (hits != nullptr ? sources_reserve(*hits) : 0));
    core::JsonWriter out(body);
    out.begin_object();
    out.member("answer", answer.text);
    out.member("generator", answer.generator);
    if (answer.model.empty()) {
        out.key("model").null();
    } else {
        out.member("model", answer.model);
    }
    out.key("cited").begin_array();
    for (std::size_t number : answer.cited) {
        out.unsigned_integer(number);
    }
    out.end_array();
    if (answer.usage.reported) {
        out.key("usage").begin_object();
        out.key("prompt_tokens").unsigned_integer(answer.usage.prompt_tokens);
        out.key("completion_tokens").unsigned_integer(answer.usage.completion_tokens);
        out.end_object();
    } else {
        out.key("usage").null();
    }
    out.key("upstream_attempts").unsigned_integer(answer.upstream_attempts);
    out.key("fallbacks").begin_array();
    for (const auto& fallback : answer.fallbacks) {
        out.string(fallback);
    }
    out.end_array();
    write_timings(out.key("timings_ms"), timings, answer.first_token_ms);
    if (hits != nullptr) {
        write_sources(out.key("sources"), *hits);
    }
    out.key("cached").boolean(false);
    out.end_object();
    return body;
}

// GCC 12 miscompiles braced json::object initialisers inside coroutines ("array used as
// initializer"), so the coroutines below build their JSON through these plain functions.
/// Written by hand: one runs per relayed token, and a Boost.JSON object per token cost more
/// than the event itself.
std::string delta_event(std::string_view text) {
    std::string event;
    event.reserve(text.size() + 40);
    event += "event: delta\ndata: {\"text\":\"";
    core::append_json_escaped(event, text);
    event += "\"}\n\n";
    return event;
}

std::string sources_event(const pipeline::SearchOutcome& searched) {
    std::string body;
    core::JsonWriter out(body);
    out.begin_object();
    write_sources(out.key("sources"), searched.hits);
    write_timings(out.key("timings_ms"), searched.timings);
    out.end_object();
    return sse_event("sources", body);
}

std::string error_event(const core::Error& error) {
    return sse_event("error", json::serialize(error_object(error)));
}

llm::AnswerResult<llm::Answer> no_answerer() {
    return llm::AnswerFailure{core::Error(core::ErrorCode::kInternal, "no answerer"), false, 0, {}};
}

/// Streams deltas as "delta" events.
class SseSink final : public llm::AnswerSink {
public:
    explicit SseSink(http::ResponseWriter& writer) : writer_(&writer) {}
    net::awaitable<bool> on_delta(std::string_view text) override {
        co_return co_await writer_->write(delta_event(text));
    }

private:
    http::ResponseWriter* writer_;
};

void observe_llm(metrics::Metrics* metrics, const llm::Answer& answer, double generate_ms) {
    if (metrics == nullptr || answer.model.empty()) {
        return;  // extractive: no upstream call to time
    }
    metrics->observe_stage(metrics::Stage::kLlmTotal, generate_ms / 1000.0);
    if (answer.first_token_ms > 0) {
        metrics->observe_stage(metrics::Stage::kLlmFirstToken, answer.first_token_ms / 1000.0);
    }
}

void annotate_answer(http::RequestContext& context, const llm::Answer& answer) {
    context.annotate("generator", answer.generator);
    context.annotate("upstream_attempts", std::to_string(answer.upstream_attempts));
}

/// Suffix of every answer body ragd builds (answer_json and answer_body put "cached" last),
/// so a cache hit is marked by rewriting the tail instead of re-serializing the JSON.
constexpr std::string_view kUncachedTail = "\"cached\":false}";

/// The body of a cache hit: the stored answer marked with its tier (and similarity).
std::string mark_cached(const std::string& body, const cache::CacheHit& hit) {
    std::string tail = "\"cached\":true,\"cache\":\"";
    tail += cache::cache_tier_name(hit.tier);
    tail += '"';
    if (hit.tier == cache::CacheTier::kSemantic) {
        tail += ",\"similarity\":" + std::to_string(hit.similarity);
        tail += ",\"matched_query\":" + json::serialize(json::value(hit.matched_query));
    }
    tail += '}';
    const std::string_view view(body);
    if (view.size() >= kUncachedTail.size() && view.ends_with(kUncachedTail)) {
        return std::string(view.substr(0, view.size() - kUncachedTail.size())) + tail;
    }
    return body;  // not one of ours: serve as stored
}

/// Answers worth caching: complete, from the intended generator (no fallback: a degraded
/// answer must not outlive the outage), and citing something (a "not found" answer is a
/// negative result).
bool cacheable(const llm::Answer& answer) {
    return answer.fallbacks.empty() && !answer.cited.empty();
}

std::string mode_name(pipeline::RetrievalMode mode) {
    switch (mode) {
        case pipeline::RetrievalMode::kHybrid:
            return "hybrid";
        case pipeline::RetrievalMode::kVector:
            return "vector";
        case pipeline::RetrievalMode::kBm25:
            return "bm25";
    }
    return "hybrid";
}

/// Everything one query carries from phase to phase.
struct QueryState {
    const QueryRouteDeps* deps = nullptr;
    http::Request* request = nullptr;
    QueryRequest* decoded = nullptr;
    http::RequestContext* context = nullptr;
    const Principal* caller = nullptr;
    Clock::time_point started;
    bool use_cache = false;
    cache::CacheKey key;
    std::vector<float> embedding;  ///< the question's, when the semantic cache needs it
    double embed_ms = 0;           ///< what making `embedding` took
    /// The question's vector was asked of a remote embedder (question_embedding.hpp).
    bool remote_embedded = false;
    /// A remote embedder failed and retrieval ran on BM25 alone: such an answer is not cached,
    /// since it would outlive the outage.
    bool degraded = false;
    /// Why the remote embedder failed a vector-only query (returned again if asked again).
    std::optional<core::Error> embed_error;
    /// The reranker was asked and failed: the hits kept their fused order.
    bool rerank_failed = false;
};

/// The retrievers that ran: BM25 alone when a remote embedder failed a hybrid query.
pipeline::RetrievalMode retrieval_ran(const QueryState& state) {
    return state.degraded ? pipeline::RetrievalMode::kBm25 : state.decoded->options.mode;
}

/// After retrieval: tells the access log what failed and was worked around, if anything.
void annotate_degraded(const QueryState& state) {
    const std::string degraded = degraded_annotation(state.degraded, state.rerank_failed);
    if (!degraded.empty()) {
        state.context->annotate("degraded", degraded);
    }
}

/// For a remote embedder: the question's vector, awaited once per query (the semantic cache and
/// retrieval share it). Errors only for a vector-only query; a hybrid one degrades to BM25.
net::awaitable<core::Result<void>> embed_remotely(QueryState& state) {
    if (state.embed_error) {
        co_return *state.embed_error;
    }
    if (state.remote_embedded || state.deps->engine->embedder().remote() == nullptr) {
        co_return core::Result<void>{};
    }
    state.remote_embedded = true;
    pipeline::QueryOptions probe = state.decoded->options;
    auto embedded = co_await embed_question(state.deps->engine->embedder(),
                                            state.decoded->query,
                                            probe,
                                            state.context->cancel(),
                                            state.deps->metrics);
    if (!embedded) {
        state.embed_error = embedded.error();
        co_return embedded.error();
    }
    if (probe.query_vector) {
        state.embedding = std::move(*probe.query_vector);
        state.embed_ms = probe.embed_ms;
    } else if (probe.mode != state.decoded->options.mode) {
        state.degraded = true;
    }
    co_return core::Result<void>{};
}

/// The options retrieval runs with: the request's, plus the question's vector when one was
/// made already, or BM25 alone when a remote embedder failed.
pipeline::QueryOptions retrieval_options(const QueryState& state) {
    pipeline::QueryOptions options = state.decoded->options;
    if (state.degraded) {
        options.mode = pipeline::RetrievalMode::kBm25;
    } else if (!state.embedding.empty() && options.mode != pipeline::RetrievalMode::kBm25) {
        options.query_vector = state.embedding;
        options.embed_ms = state.embed_ms;
    }
    return options;
}

cache::CacheKey make_key(const QueryState& state) {
    const QueryRouteDeps& deps = *state.deps;
    const QueryRequest& decoded = *state.decoded;
    cache::KeyParams params;
    params.generation = static_cast<std::uint64_t>(deps.engine->indexed_seq());
    params.top_k = decoded.options.top_k;
    params.mode = mode_name(decoded.options.mode);
    if (!decoded.options.filter.source_prefix.empty()) {
        params.filters.emplace_back("source_prefix", decoded.options.filter.source_prefix);
    }
    for (const auto& [name, value] : decoded.options.filter.metadata) {
        params.filters.emplace_back("metadata." + name, value);
    }
    params.embed_model = deps.engine->embedder().model_id();
    params.generator = deps.generator_id;
    if (rerank_requested(deps.reranker, decoded)) {
        params.generator +=
            "|rerank=" + deps.reranker->id() + "/" + std::to_string(deps.reranker->candidates());
    }
    params.max_tokens = decoded.max_tokens != 0 ? decoded.max_tokens : deps.default_max_tokens;
    params.temperature = decoded.temperature >= 0 ? decoded.temperature : deps.default_temperature;
    params.prompt_version = "1";
    return cache::make_cache_key(decoded.query, params);
}

/// L1 → L2, then (when on) the semantic tier, which embeds the question (run_quick).
net::awaitable<std::optional<cache::CacheHit>> look_up(QueryState& state) {
    const auto started = Clock::now();
    cache::AnswerCache& answers = *state.deps->cache;
    cache::CacheLookup found = co_await answers.lookup(state.key, std::nullopt);
    if (!found.hit && answers.options().semantic_enabled &&
        state.deps->engine->embedder().remote() != nullptr) {
        auto embedded = co_await embed_remotely(state);
        if (embedded && !state.embedding.empty()) {
            const bool ran = co_await state.context->run_quick([&state, &answers, &found] {
                found = answers.lookup_semantic(state.key, state.embedding);
            });
            (void)ran;  // shed: no semantic lookup, the query runs as a miss
        }
    } else if (!found.hit && answers.options().semantic_enabled) {
        const bool ran = co_await state.context->run_quick([&state, &answers, &found] {
            const std::string_view question = state.decoded->query;
            auto vectors = state.deps->engine->embedder().embed(
                std::span<const std::string_view>(&question, 1), embed::EmbedKind::kQuery);
            if (vectors && !vectors->empty()) {
                state.embedding = std::move(vectors->front());
                state.embed_ms = 0;  // counted in the cache stage
                found = answers.lookup_semantic(state.key, state.embedding);
            }
        });
        (void)ran;  // shed: no semantic lookup, the query runs as a miss
    }
    if (state.deps->metrics != nullptr) {
        state.deps->metrics->observe_stage(
            metrics::Stage::kCache, std::chrono::duration<double>(Clock::now() - started).count());
    }
    co_return found.hit;
}

/// Stores a cacheable answer body in every tier (L2 awaited, bounded by its deadline).
net::awaitable<void> store(QueryState& state, std::string body) {
    std::optional<std::vector<float>> embedding;
    if (!state.embedding.empty()) {
        embedding = state.embedding;
    }
    co_await state.deps->cache->store(state.key, std::move(body), std::move(embedding));
}

/// A cache hit as SSE: sources, the whole answer as one delta, then done.
net::awaitable<void> stream_cached(http::ResponseWriter& writer, const std::string& body) {
    boost::system::error_code ec;
    json::value parsed = json::parse(body, ec);
    if (ec || !parsed.is_object()) {
        co_await writer.send(error_response(
            core::Error(core::ErrorCode::kInternal, "a cached answer could not be read")));
        co_return;
    }
    json::object& object = parsed.as_object();
    std::vector<http::Header> headers;
    headers.push_back({"X-Accel-Buffering", "no"});
    if (!co_await writer.begin_stream(200, "text/event-stream", std::move(headers))) {
        co_return;
    }
    json::object sources;
    sources["sources"] = object["sources"];
    sources["timings_ms"] = object["timings_ms"];
    object.erase("sources");
    const std::string text =
        object["answer"].is_string() ? std::string(object["answer"].get_string()) : std::string();
    if (!co_await writer.write(sse_event("sources", json::serialize(sources)))) {
        co_return;
    }
    if (!co_await writer.write(delta_event(text))) {
        co_return;
    }
    co_await writer.write(sse_event("done", json::serialize(object)));
    co_await writer.end();
}

llm::AnswerRequest make_answer_request(const QueryState& state,
                                       const pipeline::SearchOutcome& searched) {
    const QueryRouteDeps& deps = *state.deps;
    const QueryRequest& decoded = *state.decoded;
    const http::Request& request = *state.request;
    llm::AnswerRequest answer_request;
    answer_request.question = decoded.query;
    answer_request.passages = pipeline::to_passages(searched.hits);
    answer_request.max_tokens =
        decoded.max_tokens != 0 ? decoded.max_tokens : deps.default_max_tokens;
    answer_request.temperature =
        decoded.temperature >= 0 ? decoded.temperature : deps.default_temperature;
    answer_request.stream = decoded.stream;
    answer_request.cancel = state.context->cancel();
    answer_request.forward_headers.push_back({"X-Request-Id", request.request_id});
    if (!request.traceparent.empty()) {
        answer_request.forward_headers.push_back({"traceparent", request.traceparent});
    }
    if (!request.tracestate.empty()) {
        answer_request.forward_headers.push_back({"tracestate", request.tracestate});
    }
    return answer_request;
}

core::Error overloaded_compute() {
    return core::Error(core::ErrorCode::kOverloaded, "compute queue is full; retry later");
}

/// Retrieval on the compute pool, then the reranker when it runs (retrieving its candidate
/// count, keeping top_k). kOverloaded when the compute queue is full.
net::awaitable<core::Result<pipeline::SearchOutcome>> search_for_answer(QueryState& state) {
    const QueryRouteDeps& deps = *state.deps;
    const QueryRequest& decoded = *state.decoded;
    http::RequestContext& context = *state.context;
    if (auto embedded = co_await embed_remotely(state); !embedded) {
        co_return embedded.error();
    }
    pipeline::QueryOptions options = retrieval_options(state);
    options.top_k = retrieval_depth(deps.reranker, decoded, deps.limits.max_top_k);
    core::Result<pipeline::SearchOutcome> searched =
        core::fail(core::ErrorCode::kInternal, "not run");
    const bool ran = co_await context.run_quick(
        [&] { searched = deps.engine->query().search(decoded.query, options); });
    if (!ran) {
        co_return overloaded_compute();
    }
    if (searched && rerank_requested(deps.reranker, decoded)) {
        const RerankOutcome reranked = co_await rerank_hits(*deps.reranker,
                                                            deps.metrics,
                                                            decoded.query,
                                                            *searched,
                                                            decoded.options.top_k,
                                                            context.cancel());
        state.rerank_failed = reranked == RerankOutcome::kFailed;
    }
    if (searched) {
        annotate_degraded(state);
    }
    co_return searched;
}

/// The whole non-streamed pipeline: retrieval, answer, cache store. Returns the JSON body.
net::awaitable<core::Result<std::string>> produce_answer(QueryState& state) {
    const QueryRouteDeps& deps = *state.deps;
    QueryRequest& decoded = *state.decoded;
    http::RequestContext& context = *state.context;
    pipeline::Engine& engine = *deps.engine;
    const bool offline = deps.answerer == nullptr || deps.answerer->offline();

    const bool rerank = rerank_requested(deps.reranker, decoded);
    if (offline && !rerank) {
        // Retrieval and the extractive answer in one quick job.
        if (auto embedded = co_await embed_remotely(state); !embedded) {
            co_return embedded.error();
        }
        const pipeline::QueryOptions options = retrieval_options(state);
        core::Result<pipeline::AnswerOutcome> outcome =
            core::fail(core::ErrorCode::kInternal, "not run");
        const bool ran = co_await context.run_quick(
            [&] { outcome = engine.query().answer(decoded.query, options); });
        if (!ran) {
            co_return overloaded_compute();
        }
        if (!outcome) {
            co_return outcome.error();
        }
        annotate_degraded(state);
        if (deps.metrics != nullptr) {
            observe_stages(*deps.metrics, outcome->timings, retrieval_ran(state), true);
        }
        context.annotate("generator", outcome->generation.generator);
        std::string body = answer_json(*outcome);
        if (state.use_cache && !state.degraded && !outcome->generation.cited.empty()) {
            co_await store(state, body);
        }
        co_return body;
    }

    core::Result<pipeline::SearchOutcome> searched = co_await search_for_answer(state);
    if (!searched) {
        co_return searched.error();
    }
    // An answer from a reranker's fallback order is not cached: it would outlive the outage.
    const bool rerank_ok = !rerank || searched->reranked;
    if (offline) {
        core::Result<pipeline::AnswerOutcome> outcome =
            core::fail(core::ErrorCode::kInternal, "not run");
        const bool answered = co_await context.run_quick(
            [&] { outcome = engine.query().answer_from(decoded.query, std::move(*searched)); });
        if (!answered) {
            co_return overloaded_compute();
        }
        if (!outcome) {
            co_return outcome.error();
        }
        outcome->timings.total = ms_since(state.started);
        if (deps.metrics != nullptr) {
            observe_stages(*deps.metrics, outcome->timings, retrieval_ran(state), true);
        }
        context.annotate("generator", outcome->generation.generator);
        std::string body = answer_json(*outcome);
        if (state.use_cache && rerank_ok && !state.degraded && !outcome->generation.cited.empty()) {
            co_await store(state, body);
        }
        co_return body;
    }
    pipeline::StageTimings timings = searched->timings;
    llm::AnswerRequest answer_request = make_answer_request(state, *searched);
    const auto compute = [&context](std::function<void()> work) {
        return context.run_quick(std::move(work));
    };
    const auto generate_started = Clock::now();
    // Not a conditional expression: GCC 12 mishandles co_await inside ?: (use-after-free).
    llm::AnswerResult<llm::Answer> answer = no_answerer();
    if (deps.answerer != nullptr) {
        answer = co_await deps.answerer->answer(answer_request, nullptr, compute);
    }
    if (!answer) {
        context.annotate("upstream_attempts", std::to_string(answer.error().upstream_attempts));
        co_return answer.error().error;
    }
    state.caller->charge_tokens(answer_tokens(*answer, answer_request));
    timings.generate = ms_since(generate_started);
    timings.total = ms_since(state.started);
    if (deps.metrics != nullptr) {
        observe_stages(*deps.metrics, timings, retrieval_ran(state), true);
    }
    observe_llm(deps.metrics, *answer, timings.generate);
    annotate_answer(context, *answer);
    std::string body = answer_body(*answer, timings, &searched->hits);
    if (state.use_cache && rerank_ok && !state.degraded && cacheable(*answer)) {
        co_await store(state, body);
    }
    co_return body;
}

/// Streamed: sources first, then deltas as they arrive, then one final event.
net::awaitable<void> stream_answer(QueryState& state, http::ResponseWriter& writer) {
    const QueryRouteDeps& deps = *state.deps;
    QueryRequest& decoded = *state.decoded;
    http::RequestContext& context = *state.context;
    core::Result<pipeline::SearchOutcome> searched = co_await search_for_answer(state);
    if (!searched) {
        co_await writer.send(error_response(searched.error()));
        co_return;
    }
    const bool rerank_ok = !rerank_requested(deps.reranker, decoded) || searched->reranked;
    pipeline::StageTimings timings = searched->timings;
    llm::AnswerRequest answer_request = make_answer_request(state, *searched);
    const auto compute = [&context](std::function<void()> work) {
        return context.run_quick(std::move(work));
    };
    const auto generate_started = Clock::now();

    std::vector<http::Header> headers;
    headers.push_back({"X-Accel-Buffering", "no"});
    if (!co_await writer.begin_stream(200, "text/event-stream", std::move(headers))) {
        co_return;
    }
    if (!co_await writer.write(sources_event(*searched))) {
        co_return;
    }
    SseSink sink(writer);
    llm::AnswerResult<llm::Answer> answer = no_answerer();
    if (deps.answerer != nullptr) {
        answer = co_await deps.answerer->answer(answer_request, &sink, compute);
    }
    if (context.cancel()->cancelled()) {
        co_return;  // the client left; nothing to finish
    }
    if (!answer) {
        // Never a silently cut stream: the client learns why it ended.
        context.annotate("upstream_attempts", std::to_string(answer.error().upstream_attempts));
        co_await writer.write(error_event(answer.error().error));
        co_await writer.end();
        co_return;
    }
    state.caller->charge_tokens(answer_tokens(*answer, answer_request));
    timings.generate = ms_since(generate_started);
    timings.total = ms_since(state.started);
    if (deps.metrics != nullptr) {
        observe_stages(*deps.metrics, timings, retrieval_ran(state), true);
    }
    observe_llm(deps.metrics, *answer, timings.generate);
    annotate_answer(context, *answer);
    co_await writer.write(sse_event("done", answer_body(*answer, timings, nullptr)));
    co_await writer.end();
    if (state.use_cache && rerank_ok && !state.degraded && cacheable(*answer)) {
        co_await store(state, answer_body(*answer, timings, &searched->hits));
    }
}

net::awaitable<void> handle_query(const QueryRouteDeps* deps,
                                  http::Request request,
                                  Principal caller,
                                  http::ResponseWriter& writer,
                                  http::RequestContext& context) {
    const auto started = Clock::now();
    // Shed before any work: a full server answers in microseconds instead of queueing forever.
    llm::BulkheadSlot admitted;
    if (deps->admission) {
        auto slot = co_await deps->admission->acquire(context.cancel());
        if (!slot) {
            if (slot.error().code == core::ErrorCode::kUnavailable) {
                co_return;  // the client left while waiting
            }
            if (deps->metrics != nullptr) {
                deps->metrics->count_shed_queries();
            }
            co_await writer.send(error_response(core::Error(
                core::ErrorCode::kOverloaded,
                "the server is at its limit of queries in progress (server.max_inflight_queries "
                "and server.max_waiting_queries); retry later")));
            co_return;
        }
        admitted = std::move(*slot);
    }
    auto decoded = decode_query_request(request.body, deps->limits);
    if (!decoded) {
        co_await writer.send(error_response(decoded.error()));
        co_return;
    }
    // Before anything derives from the options (retrieval, cache keys): the key's tenant
    // filter is part of the query.
    restrict_query(caller, decoded->options);

    QueryState state;
    state.deps = deps;
    state.request = &request;
    state.decoded = &*decoded;
    state.context = &context;
    state.caller = &caller;
    state.started = started;
    state.use_cache = deps->cache != nullptr;
    if (state.use_cache) {
        state.key = make_key(state);
        std::optional<cache::CacheHit> hit = co_await look_up(state);
        if (hit) {
            context.annotate("cache", cache::cache_tier_name(hit->tier));
            const std::string body = mark_cached(*hit->value, *hit);
            if (decoded->stream) {
                co_await stream_cached(writer, body);
            } else {
                co_await writer.send(http::Response::json(200, body));
            }
            co_return;
        }
        context.annotate("cache", "miss");
    }

    if (decoded->stream) {
        co_await stream_answer(state, writer);
        co_return;
    }
    core::Result<std::string> body = core::fail(core::ErrorCode::kInternal, "not run");
    if (state.use_cache && deps->flights) {
        // Identical queries in flight share one run (and one upstream call); errors are
        // shared with the waiters but never cached.
        cache::FlightResult<std::string> flight = co_await deps->flights->run(
            state.key.exact, [&state]() { return produce_answer(state); });
        if (flight.shared) {
            context.annotate("cache", "coalesced");
        }
        body = std::move(flight.result);
    } else {
        body = co_await produce_answer(state);
    }
    if (!body) {
        co_await writer.send(error_response(body.error()));
        co_return;
    }
    co_await writer.send(http::Response::json(200, std::move(*body)));
}

}  // namespace

std::string sse_event(std::string_view name, std::string_view json_text) {
    std::string event;
    event.reserve(name.size() + json_text.size() + 16);
    event += "event: ";
    event += name;
    event += "\ndata: ";
    event += json_text;
    event += "\n\n";
    return event;
}

GuardedAsyncHandler make_query_handler(QueryRouteDeps deps) {
    auto shared = std::make_shared<const QueryRouteDeps>(std::move(deps));
    return [shared](http::Request request,
                    Principal caller,
                    http::ResponseWriter& writer,
                    http::RequestContext& context) {
        return handle_query(shared.get(), std::move(request), caller, writer, context);
    };
}

}  // namespace ragd::api
