#include "api/routes.hpp"

#include <optional>

#include <boost/json.hpp>

#include "api/access_rules.hpp"
#include "api/auth.hpp"
#include "api/query_route.hpp"
#include "api/readiness.hpp"
#include "api/request_decoding.hpp"
#include "api/response_encoding.hpp"
#include "api/search_route.hpp"
#include "api/server_metrics.hpp"

namespace ragd::api {
namespace json = boost::json;
namespace {

http::Response error_response(const core::Error& error) {
    return http::Response::error(status_for(error.code), core::error_code_name(error.code),
                                 error.detail);
}

}  // namespace

http::Response query_error_response(const core::Error& error) {
    auto response = http::Response::error(
        status_for(error.code), core::error_code_name(error.code), error.detail);
    if (error.code == core::ErrorCode::kOverloaded || error.code == core::ErrorCode::kUnavailable) {
        response.headers.push_back({"Retry-After", "1"});
    }
    return response;
}

namespace {

http::Response json_response(int status, const json::value& value) {
    return http::Response::json(status, json::serialize(value));
}

Limits limits_from(const core::Config& config) {
    Limits limits;
    limits.default_top_k = config.retrieval.top_k;
    limits.max_top_k = config.retrieval.max_top_k;
    limits.max_tokens_limit = config.llm.max_tokens_limit;
    return limits;
}

}  // namespace

int status_for(core::ErrorCode code) {
    switch (code) {
        case core::ErrorCode::kInvalidArgument: return 400;
        case core::ErrorCode::kNotFound: return 404;
        case core::ErrorCode::kConflict: return 409;
        case core::ErrorCode::kTooLarge: return 413;
        case core::ErrorCode::kUnsupported: return 415;
        case core::ErrorCode::kOverloaded: return 503;
        case core::ErrorCode::kUnavailable: return 503;
        case core::ErrorCode::kTimeout: return 504;
        case core::ErrorCode::kIo:
        case core::ErrorCode::kCorrupt:
        case core::ErrorCode::kInternal: return 500;
    }
    return 500;
}

void register_routes(http::Router& router, pipeline::Engine& engine, const core::Config& config,
                     metrics::Metrics* metrics, ReadinessRegistry* readiness,
                     llm::Answerer* answerer, cache::AnswerCache* answer_cache,
                     std::shared_ptr<const Authenticator> auth, llm::Reranker* reranker) {
    const Limits limits = limits_from(config);
    http::RouteOptions query_route;
    query_route.max_body_bytes = config.server.max_query_body_bytes;
    query_route.json_body = true;
    http::RouteOptions document_route;
    document_route.max_body_bytes = config.server.max_document_body_bytes;
    document_route.json_body = true;
    http::RouteOptions inline_route;
    inline_route.dispatch = http::Dispatch::kInline;
    // Every /v1 route is guarded (auth.hpp); with auth off the guard admits everyone.
    // /health and /ready stay open for probes.
    if (!auth) {
        auth = make_authenticator(config);
    }
    const Protection answer_access{Scope::kQuery, std::string(kDefaultCollection), true};
    const Protection query_access{Scope::kQuery, std::string(kDefaultCollection), false};
    const Protection ingest_access{Scope::kIngest, std::string(kDefaultCollection), false};
    const Protection admin_access{Scope::kAdmin, "", false};

    router.add(http::Method::kGet, "/health", [](const http::Request&) {
        return http::Response::json(200, R"({"status":"ok"})");
    }, inline_route);

    std::shared_ptr<ReadinessRegistry> own_readiness;  // kept alive by the handlers below
    if (readiness == nullptr) {
        own_readiness = std::make_shared<ReadinessRegistry>();
        readiness = own_readiness.get();
    }
    add_engine_checks(*readiness, engine);
    router.add(http::Method::kGet, "/ready", [readiness, own_readiness](const http::Request&) {
        ReadinessReport report = readiness->evaluate();
        return json_response(report.ready ? 200 : 503, report.body);
    });

    QueryRouteDeps query_deps;
    query_deps.engine = &engine;
    query_deps.answerer = answerer;
    query_deps.metrics = metrics;
    query_deps.limits = limits;
    llm::BulkheadOptions admission;
    admission.max_concurrent = config.server.max_inflight_queries;
    admission.max_queue = config.server.max_waiting_queries;
    admission.queue_timeout = config.server.query_queue_timeout;
    query_deps.admission = std::make_shared<llm::Bulkhead>(admission);
    query_deps.default_max_tokens = config.llm.max_tokens;
    query_deps.default_temperature = config.llm.temperature;
    if (answer_cache != nullptr && config.cache.l1_max_bytes > 0) {
        query_deps.cache = answer_cache;
        query_deps.flights = std::make_shared<cache::Singleflight<std::string>>();
    }
    // What answers, as part of every cache key: the chain with its models.
    query_deps.reranker = reranker;
    query_deps.generator_id = "extractive";
    if (answerer != nullptr) {
        query_deps.generator_id.clear();
        for (const llm::UpstreamStatus& upstream : answerer->upstream_statuses()) {
            query_deps.generator_id += upstream.name + "/" + upstream.model + ",";
        }
        query_deps.generator_id += "extractive";
    }
    router.add_async(http::Method::kPost, "/v1/query",
                     guard_async(auth, answer_access, make_query_handler(std::move(query_deps))),
                     query_route);

    // The synchronous handler would hold a compute thread while a remote embedder answers.
    if (reranker != nullptr || engine.embedder().remote() != nullptr) {
        SearchRouteDeps search_deps;
        search_deps.engine = &engine;
        search_deps.reranker = reranker;
        search_deps.metrics = metrics;
        search_deps.limits = limits;
        router.add_async(
            http::Method::kPost, "/v1/search",
            guard_async(auth, query_access, make_reranked_search_handler(std::move(search_deps))),
            query_route);
    } else {
        router.add(http::Method::kPost, "/v1/search", guard(auth, query_access,
                   [&engine, limits, metrics](const http::Request& request,
                                              const Principal& caller) {
            auto decoded = decode_query_request(request.body, limits);
            if (!decoded) {
                return error_response(decoded.error());
            }
            restrict_query(caller, decoded->options);
            auto outcome = engine.query().search(decoded->query, decoded->options);
            if (!outcome) {
                return error_response(outcome.error());
            }
            if (metrics != nullptr) {
                observe_stages(*metrics, outcome->timings, decoded->options.mode,
                               /*answered=*/false);
            }
            return http::Response::json(200, search_json(*outcome));
        }), query_route);
    }

    router.add(http::Method::kPost, "/v1/documents", guard(auth, ingest_access,
               [&engine, limits](const http::Request& request, const Principal& caller) {
        auto decoded = decode_documents_request(request.body, limits);
        if (!decoded) {
            return error_response(decoded.error());
        }
        json::array results;
        // Failing one document stops the batch; the earlier ones are stored. The response says
        // which failed and which made it.
        auto failed = [&results](const core::Error& error) {
            auto response = error_response(error);
            json::object body = json::parse(response.body).as_object();
            body["documents"] = std::move(results);
            response.body = json::serialize(body);
            return response;
        };
        std::optional<core::Error> failure;
        std::vector<pipeline::IngestRequest> allowed;
        allowed.reserve(decoded->size());
        for (auto& document : *decoded) {
            if (auto prepared = prepare_ingest(caller, document, engine.storage()); !prepared) {
                failure = prepared.error();
                break;
            }
            allowed.push_back(std::move(document));
        }
        // The documents before a failure are stored as one group (one transaction, so one
        // fsync for the batch rather than one per document), and the indexes catch up once for
        // the whole batch, below: per document, every catch-up's fixed cost (reading the change
        // log, BM25's length norms over all chunks) was paid again.
        auto stored = engine.ingest().ingest_batch(std::move(allowed), storage::OnFailure::kStop);
        for (auto& result : stored) {
            if (!result) {
                failure = result.error();
                break;
            }
            results.push_back(json::object{{"id", result->id},
                                           {"status", upsert_status_name(result->status)},
                                           {"chunks", result->chunks}});
        }
        // Before answering, also after a failure: what the response lists as stored is
        // searchable when the client reads it.
        if (auto caught_up = engine.maintainer().catch_up(); !caught_up) {
            return failed(failure ? *failure : caught_up.error());
        }
        if (failure) {
            return failed(*failure);
        }
        return json_response(201, json::object{{"documents", std::move(results)}});
    }), document_route);

    // Another tenant's document answers exactly like a missing one.
    router.add(http::Method::kGet, "/v1/documents/{id}", guard(auth, query_access,
               [&engine](const http::Request& request, const Principal& caller) {
        const std::string& id = request.path_params.at("id");
        auto doc = engine.storage().get_document(id);
        if (!doc) {
            return error_response(doc.error());
        }
        if (!doc->has_value() || !may_access(caller, (*doc)->metadata)) {
            return http::Response::error(404, "not_found", "no document with id '" + id + "'");
        }
        return json_response(200, encode_document(**doc));
    }));

    router.add(http::Method::kDelete, "/v1/documents/{id}", guard(auth, ingest_access,
               [&engine](const http::Request& request, const Principal& caller) {
        const std::string& id = request.path_params.at("id");
        if (!caller.filter().empty()) {
            auto doc = engine.storage().get_document(id);
            if (!doc) {
                return error_response(doc.error());
            }
            if (!doc->has_value() || !may_access(caller, (*doc)->metadata)) {
                return http::Response::error(404, "not_found",
                                             "no document with id '" + id + "'");
            }
        }
        auto deleted = engine.ingest().remove(id);
        if (!deleted) {
            return error_response(deleted.error());
        }
        if (!*deleted) {
            return http::Response::error(404, "not_found", "no document with id '" + id + "'");
        }
        return json_response(200, json::object{{"deleted", true}, {"id", id}});
    }));

    // Admin: the counts span every tenant.
    router.add(http::Method::kGet, "/v1/stats", guard(auth, admin_access,
               [&engine](const http::Request&, const Principal&) {
        auto stats = engine.storage().stats();
        if (!stats) {
            return error_response(stats.error());
        }
        auto index = engine.index_stats();
        return json_response(
            200, json::object{{"documents", stats->documents},
                              {"chunks", stats->chunks},
                              {"embeddings", stats->embeddings},
                              {"storage_seq", stats->last_seq},
                              {"storage_bytes", stats->bytes},
                              {"embedder", engine.embedder().model_id()},
                              {"indexes", json::object{{"vectors", index.vectors},
                                                       {"bm25_chunks", index.bm25_chunks},
                                                       {"vectors_applied_seq",
                                                        index.vectors_applied_seq},
                                                       {"bm25_applied_seq", index.bm25_applied_seq},
                                                       {"vector_memory_bytes",
                                                        index.vector_memory_bytes},
                                                       {"bm25_disk_bytes", index.bm25_disk_bytes}}}});
    }));

    if (metrics != nullptr) {
        metrics->set_index_source(index_source(engine));
        metrics->set_ready_source(
            [readiness, own_readiness] { return readiness->evaluate().ready; });
        // On the compute pool: a scrape reads storage counts for the index gauges.
        http::Handler scrape = [metrics](const http::Request&) {
            http::Response response;
            response.content_type = std::string(metrics::kContentType);
            response.body = metrics->serialize();
            return response;
        };
        // Open by default (scrapers rarely send keys): protect it at the network level, or
        // with auth.protect_metrics require an admin key.
        if (config.auth.protect_metrics) {
            scrape = guard(auth, admin_access,
                           [scrape](const http::Request& request, const Principal&) {
                return scrape(request);
            });
        }
        router.add(http::Method::kGet, "/metrics", std::move(scrape));
    }
}

}  // namespace ragd::api
