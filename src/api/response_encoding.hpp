// JSON encodings of pipeline results shared by the HTTP API and the CLI's --json output.
#pragma once

#include <boost/json/value.hpp>

#include "pipeline/engine.hpp"
#include "pipeline/query_service.hpp"

namespace ragd::api {

boost::json::value encode_source(const pipeline::SourceHit& hit);
boost::json::value encode_timings(const pipeline::StageTimings& timings);
boost::json::value encode_search(const pipeline::SearchOutcome& outcome);
boost::json::value encode_answer(const pipeline::AnswerOutcome& outcome);
boost::json::value encode_document(const storage::DocumentRecord& doc);
const char* upsert_status_name(storage::UpsertStatus status);

}  // namespace ragd::api
