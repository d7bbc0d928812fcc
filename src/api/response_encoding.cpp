#include "api/response_encoding.hpp"

#include <cmath>

#include <boost/json.hpp>

namespace ragd::api {
namespace json = boost::json;
namespace {

double round3(double value) {
    return std::round(value * 1000.0) / 1000.0;
}

void write_rank(core::JsonWriter& out, std::uint32_t rank) {
    if (rank == 0) {
        out.null();
    } else {
        out.unsigned_integer(rank);
    }
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
        case storage::UpsertStatus::kCreated:
            return "created";
        case storage::UpsertStatus::kReplaced:
            return "replaced";
        case storage::UpsertStatus::kUnchanged:
            return "unchanged";
    }
    return "unknown";
}

void write_source(core::JsonWriter& out, const pipeline::SourceHit& hit) {
    const auto& chunk = hit.chunk;
    out.begin_object();
    out.key("n").unsigned_integer(hit.number);
    out.key("chunk_id").integer(chunk.chunk.id);
    out.member("document_id", chunk.chunk.document_id);
    out.member("source", chunk.source);
    out.member("title", chunk.title);
    out.key("heading_path").begin_array();
    for (const auto& heading : chunk.chunk.heading_path) {
        out.string(heading);
    }
    out.end_array();
    out.member("text", chunk.chunk.text);
    out.key("score").number(hit.score);
    if (hit.rerank_score) {
        out.key("rerank_score").number(*hit.rerank_score);
    }
    out.key("ranks").begin_object();
    write_rank(out.key("vector"), hit.vector_rank);
    write_rank(out.key("bm25"), hit.bm25_rank);
    out.end_object();
    out.key("metadata").begin_object();
    for (const auto& [key, value] : chunk.metadata) {
        out.member(key, value);
    }
    out.end_object();
    out.end_object();
}

void write_sources(core::JsonWriter& out, const std::vector<pipeline::SourceHit>& hits) {
    out.begin_array();
    for (const auto& hit : hits) {
        write_source(out, hit);
    }
    out.end_array();
}

void write_timings(core::JsonWriter& out,
                   const pipeline::StageTimings& t,
                   std::optional<double> llm_first_token) {
    out.begin_object();
    out.key("embed").number(round3(t.embed));
    out.key("vector").number(round3(t.vector));
    out.key("bm25").number(round3(t.bm25));
    out.key("fuse").number(round3(t.fuse));
    out.key("generate").number(round3(t.generate));
    if (t.rerank) {
        out.key("rerank").number(round3(*t.rerank));
    }
    out.key("total").number(round3(t.total));
    if (llm_first_token) {
        out.key("llm_first_token").number(round3(*llm_first_token));
    }
    out.end_object();
}

std::size_t sources_reserve(const std::vector<pipeline::SourceHit>& hits) {
    std::size_t bytes = 0;
    for (const auto& hit : hits) {
        bytes +=
            384 + hit.chunk.chunk.text.size() + hit.chunk.source.size() + hit.chunk.title.size();
    }
    return bytes;
}

std::string search_json(const pipeline::SearchOutcome& outcome) {
    std::string body;
    body.reserve(512 + sources_reserve(outcome.hits));
    core::JsonWriter out(body);
    out.begin_object();
    write_sources(out.key("results"), outcome.hits);
    write_timings(out.key("timings_ms"), outcome.timings);
    out.end_object();
    return body;
}

std::string answer_json(const pipeline::AnswerOutcome& outcome) {
    std::string body;
    body.reserve(512 + sources_reserve(outcome.sources) + outcome.generation.text.size());
    core::JsonWriter out(body);
    out.begin_object();
    out.member("answer", outcome.generation.text);
    out.member("generator", outcome.generation.generator);
    out.key("model").null();
    out.key("cited").begin_array();
    for (std::size_t number : outcome.generation.cited) {
        out.unsigned_integer(number);
    }
    out.end_array();
    out.key("usage").null();
    out.key("upstream_attempts").integer(0);
    out.key("fallbacks").begin_array().end_array();
    write_sources(out.key("sources"), outcome.sources);
    write_timings(out.key("timings_ms"), outcome.timings, 0.0);
    out.key("cached").boolean(false);
    out.end_object();
    return body;
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
