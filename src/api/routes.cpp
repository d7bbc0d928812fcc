#include "api/routes.hpp"

#include <boost/json.hpp>

#include "api/request_decoding.hpp"
#include "api/response_encoding.hpp"
#include "api/server_metrics.hpp"

namespace ragd::api {
namespace json = boost::json;
namespace {

http::Response error_response(const core::Error& error) {
    return http::Response::error(status_for(error.code), core::error_code_name(error.code),
                                 error.detail);
}

http::Response json_response(int status, const json::value& value) {
    return http::Response::json(status, json::serialize(value));
}

Limits limits_from(const core::Config& config) {
    Limits limits;
    limits.default_top_k = config.retrieval.top_k;
    limits.max_top_k = config.retrieval.max_top_k;
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
                     metrics::Metrics* metrics) {
    const Limits limits = limits_from(config);
    http::RouteOptions query_route;
    query_route.max_body_bytes = config.server.max_query_body_bytes;
    query_route.json_body = true;
    http::RouteOptions document_route;
    document_route.max_body_bytes = config.server.max_document_body_bytes;
    document_route.json_body = true;
    http::RouteOptions inline_route;
    inline_route.dispatch = http::Dispatch::kInline;

    router.add(http::Method::kGet, "/health", [](const http::Request&) {
        return http::Response::json(200, R"({"status":"ok"})");
    }, inline_route);

    router.add(http::Method::kGet, "/ready", [&engine](const http::Request&) {
        auto last = engine.storage().last_seq();
        auto stats = engine.index_stats();
        std::int64_t applied = std::min(stats.vectors_applied_seq, stats.bm25_applied_seq);
        bool storage_ok = last.has_value();
        bool caught_up = storage_ok && applied >= *last;
        json::object body{
            {"status", caught_up ? "ready" : "not_ready"},
            {"storage", storage_ok ? "ok" : last.error().detail},
            {"indexes", json::object{{"applied_seq", applied},
                                     {"storage_seq", storage_ok ? *last : -1},
                                     {"vectors", stats.vectors},
                                     {"bm25_chunks", stats.bm25_chunks}}},
        };
        return json_response(caught_up ? 200 : 503, body);
    });

    router.add(http::Method::kPost, "/v1/query",
               [&engine, limits, metrics](const http::Request& request) {
        auto decoded = decode_query_request(request.body, limits);
        if (!decoded) {
            return error_response(decoded.error());
        }
        auto outcome = engine.query().answer(decoded->query, decoded->options);
        if (!outcome) {
            return error_response(outcome.error());
        }
        if (metrics != nullptr) {
            observe_stages(*metrics, outcome->timings, decoded->options.mode, /*answered=*/true);
        }
        return json_response(200, encode_answer(*outcome));
    }, query_route);

    router.add(http::Method::kPost, "/v1/search",
               [&engine, limits, metrics](const http::Request& request) {
        auto decoded = decode_query_request(request.body, limits);
        if (!decoded) {
            return error_response(decoded.error());
        }
        auto outcome = engine.query().search(decoded->query, decoded->options);
        if (!outcome) {
            return error_response(outcome.error());
        }
        if (metrics != nullptr) {
            observe_stages(*metrics, outcome->timings, decoded->options.mode, /*answered=*/false);
        }
        return json_response(200, encode_search(*outcome));
    }, query_route);

    router.add(http::Method::kPost, "/v1/documents",
               [&engine, limits](const http::Request& request) {
        auto decoded = decode_documents_request(request.body, limits);
        if (!decoded) {
            return error_response(decoded.error());
        }
        json::array results;
        for (auto& document : *decoded) {
            auto result = engine.ingest().ingest(std::move(document));
            if (!result) {
                // Earlier documents of the batch are stored; say which failed and which made it.
                auto response = error_response(result.error());
                json::object body = json::parse(response.body).as_object();
                body["documents"] = std::move(results);
                response.body = json::serialize(body);
                return response;
            }
            results.push_back(json::object{{"id", result->id},
                                           {"status", upsert_status_name(result->status)},
                                           {"chunks", result->chunks}});
        }
        return json_response(201, json::object{{"documents", std::move(results)}});
    }, document_route);

    router.add(http::Method::kGet, "/v1/documents/{id}", [&engine](const http::Request& request) {
        const std::string& id = request.path_params.at("id");
        auto doc = engine.storage().get_document(id);
        if (!doc) {
            return error_response(doc.error());
        }
        if (!doc->has_value()) {
            return http::Response::error(404, "not_found", "no document with id '" + id + "'");
        }
        return json_response(200, encode_document(**doc));
    });

    router.add(http::Method::kDelete, "/v1/documents/{id}",
               [&engine](const http::Request& request) {
        const std::string& id = request.path_params.at("id");
        auto deleted = engine.ingest().remove(id);
        if (!deleted) {
            return error_response(deleted.error());
        }
        if (!*deleted) {
            return http::Response::error(404, "not_found", "no document with id '" + id + "'");
        }
        return json_response(200, json::object{{"deleted", true}, {"id", id}});
    });

    router.add(http::Method::kGet, "/v1/stats", [&engine](const http::Request&) {
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
    });

    if (metrics != nullptr) {
        metrics->set_index_source(index_source(engine));
        // On the compute pool: a scrape reads storage counts for the index gauges.
        router.add(http::Method::kGet, "/metrics", [metrics](const http::Request&) {
            http::Response response;
            response.content_type = std::string(metrics::kContentType);
            response.body = metrics->serialize();
            return response;
        });
    }
}

}  // namespace ragd::api
