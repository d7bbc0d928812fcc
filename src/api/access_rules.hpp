// What a caller's API key means for the data it touches: its tenant filter is forced into every
// search, stamped onto every document it writes, and hides other tenants' documents; its LLM
// use is charged to its token budgets.
#pragma once

#include <cstddef>

#include "api/auth.hpp"
#include "core/error.hpp"
#include "llm/answerer.hpp"
#include "pipeline/ingest_service.hpp"
#include "pipeline/query_service.hpp"
#include "storage/storage.hpp"

namespace ragd::api {

/// ANDs the caller's filter into `options.filter.metadata`. A pair the request also names is
/// overridden: the key's value wins, so a request cannot widen its own filter. Call before
/// anything is derived from the options (the answer cache key includes the filter).
void restrict_query(const Principal& caller, pipeline::QueryOptions& options);

/// True when `metadata` holds every pair of the caller's filter (anonymous callers and keys
/// without a filter see every document).
bool may_access(const Principal& caller, const storage::Metadata& metadata);

/// Prepares a document for ingest by a filtered caller: stamps the filter's pairs onto its
/// metadata (replacing the request's values for those keys), gives an id-less document an id
/// derived from the filter too (so equal content from two tenants gets two documents), and
/// fails with kConflict when the id belongs to a document the caller may not access, so that
/// no tenant can replace another's document. Unfiltered callers' documents pass unchanged.
/// The ownership check and the write are not one transaction: two tenants racing to create
/// the same new id may both pass (the later write wins).
core::Result<void> prepare_ingest(const Principal& caller,
                                  pipeline::IngestRequest& document,
                                  storage::Storage& storage);

/// LLM tokens an answer cost: the upstream's reported usage, else an estimate of the prompt
/// (question and passages) and the answer; 0 for the built-in extractive generator.
std::size_t answer_tokens(const llm::Answer& answer, const llm::AnswerRequest& request);

}  // namespace ragd::api
