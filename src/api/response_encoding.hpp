// JSON encodings of pipeline results shared by the HTTP API and the CLI's --json output.
#pragma once

#include <optional>
#include <string>

#include <boost/json/value.hpp>

#include "core/json_writer.hpp"
#include "pipeline/engine.hpp"
#include "pipeline/query_service.hpp"

namespace ragd::api {

/// One source (a search result or an answer's passage) as a JSON object: n, chunk_id,
/// document_id, source, title, heading_path, text, score, ranks {vector, bm25}, metadata.
void write_source(core::JsonWriter& out, const pipeline::SourceHit& hit);
/// An array of write_source() objects.
void write_sources(core::JsonWriter& out, const std::vector<pipeline::SourceHit>& hits);
/// Bytes to reserve for write_sources(hits), so a body is built in one allocation.
std::size_t sources_reserve(const std::vector<pipeline::SourceHit>& hits);
/// The per-stage timings object (milliseconds, rounded to the microsecond), with
/// llm_first_token last when given.
void write_timings(core::JsonWriter& out,
                   const pipeline::StageTimings& timings,
                   std::optional<double> llm_first_token = std::nullopt);

/// The body of POST /v1/search (and `ragd search --json`): {"results", "timings_ms"}.
std::string search_json(const pipeline::SearchOutcome& outcome);
/// The body of an answer from a built-in generator (and `ragd query --json`), with the same
/// fields as an LLM answer (api/query_route.cpp) so clients need one parser; "cached" last.
std::string answer_json(const pipeline::AnswerOutcome& outcome);
boost::json::value encode_document(const storage::DocumentRecord& doc);
const char* upsert_status_name(storage::UpsertStatus status);

}  // namespace ragd::api
