#include "api/response_encoding.hpp"

#include <boost/json.hpp>
#include <cmath>

namespace ragd::api {
namespace json = boost::json;
namespace {

double round3(double value) { return std::round(value * 1000.0) / 1000.0; }

json::value rank_or_null(std::uint32_t rank) {
    return rank == 0 ? json::value(nullptr) : json::value(rank);
}

json::array string_array(const std::vector<std::string>& items) {
    json::array out;
    for (const auto& item : items) {
        out.emplace_back(item);
    }
    return out;
}

json::object metadata_object(const storage::Metadata& metadata) {
    json::object out;
    for (const auto& [key, value] : metadata) {
        out[key] = value;
    }
    return out;
}

}  // namespace

const char* upsert_status_name(storage::UpsertStatus status) {
    switch (status) {
        case storage::UpsertStatus::kCreated: return "created";
        case storage::UpsertStatus::kReplaced: return "replaced";
        case storage::UpsertStatus::kUnchanged: return "unchanged";
    }
    return "unknown";
}

json::value encode_source(const pipeline::SourceHit& hit) {
    const auto& chunk = hit.chunk;
    return json::object{
        {"n", hit.number},
        {"chunk_id", chunk.chunk.id},
        {"document_id", chunk.chunk.document_id},
        {"source", chunk.source},
        {"title", chunk.title},
        {"heading_path", string_array(chunk.chunk.heading_path)},
        {"text", chunk.chunk.text},
        {"score", hit.score},
        {"ranks", json::object{{"vector", rank_or_null(hit.vector_rank)},
                               {"bm25", rank_or_null(hit.bm25_rank)}}},
        {"metadata", metadata_object(chunk.metadata)},
    };
}

json::value encode_timings(const pipeline::StageTimings& t) {
    return json::object{{"embed", round3(t.embed)}, {"vector", round3(t.vector)},
                        {"bm25", round3(t.bm25)},   {"fuse", round3(t.fuse)},
                        {"generate", round3(t.generate)}, {"total", round3(t.total)}};
}

json::value encode_search(const pipeline::SearchOutcome& outcome) {
    json::array results;
    for (const auto& hit : outcome.hits) {
        results.push_back(encode_source(hit));
    }
    return json::object{{"results", std::move(results)},
                        {"timings_ms", encode_timings(outcome.timings)}};
}

json::value encode_answer(const pipeline::AnswerOutcome& outcome) {
    json::array sources;
    for (const auto& hit : outcome.sources) {
        sources.push_back(encode_source(hit));
    }
    json::array cited;
    for (std::size_t number : outcome.generation.cited) {
        cited.push_back(number);
    }
    // The same fields as an LLM answer (api/query_route.cpp), so clients need one parser.
    json::object timings = encode_timings(outcome.timings).as_object();
    timings["llm_first_token"] = 0.0;
    return json::object{{"answer", outcome.generation.text},
                        {"generator", outcome.generation.generator},
                        {"model", nullptr},
                        {"cited", std::move(cited)},
                        {"usage", nullptr},
                        {"upstream_attempts", 0},
                        {"fallbacks", json::array()},
                        {"sources", std::move(sources)},
                        {"timings_ms", std::move(timings)},
                        {"cached", false}};
}

json::value encode_document(const storage::DocumentRecord& doc) {
    return json::object{{"id", doc.id},
                        {"collection", doc.collection},
                        {"source", doc.source},
                        {"title", doc.title},
                        {"content_hash", doc.content_hash},
                        {"metadata", metadata_object(doc.metadata)},
                        {"created_at", doc.created_at_ms},
                        {"updated_at", doc.updated_at_ms},
                        {"chunks", doc.chunk_count}};
}

}  // namespace ragd::api
