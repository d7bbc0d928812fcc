// Retrieval metrics as BEIR / trec_eval define them (nDCG@10, Recall@10/100, MRR@10), the
// printed report, and TREC run output, all over plain in-memory runs so they are unit-testable.
#pragma once

#include <cstddef>
#include <map>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "eval/beir.hpp"

namespace ragd::eval {

/// A retrieved document and its score.
struct RankedDocument {
    std::string id;
    double score = 0.0;
};

/// query id → documents, best first, already collapsed to one entry per document.
using Run = std::map<std::string, std::vector<RankedDocument>>;

/// Keeps the first (best) occurrence of each id, preserving order: a long document chunked into
/// several chunks ranks at its best chunk. Pass chunk hits whose `id` is the document id.
std::vector<RankedDocument> collapse_to_documents(const std::vector<RankedDocument>& chunk_hits);

/// The part of `id` before the first `separator` (the whole id when absent or when `separator`
/// is empty), e.g. page-level ids with separator "#": "sql-createindex#id-1/2" → "sql-createindex".
std::string_view id_prefix(std::string_view id, std::string_view separator);

/// Maps every run id to id_prefix(id, separator) and collapses, for lenient coarse scoring
/// (`--collapse '#'`). Pair with collapse_qrels_at.
Run collapse_run_at(const Run& run, std::string_view separator);

/// Maps every qrels corpus id to id_prefix(id, separator); merged entries keep the highest grade.
Qrels collapse_qrels_at(const Qrels& qrels, std::string_view separator);

/// Mean metrics over a set of queries.
struct MetricSet {
    double ndcg_at_10 = 0.0;     ///< gain = grade, 1/log2(rank+1) discount, ideal from qrels
    double recall_at_10 = 0.0;   ///< relevant in top 10 ÷ number relevant
    double recall_at_100 = 0.0;  ///< relevant in top 100 ÷ number relevant
    double mrr_at_10 = 0.0;      ///< 1/rank of the first relevant document in the top 10, else 0
    std::size_t queries = 0;     ///< number of queries averaged
};

struct EvalReport {
    MetricSet all;
    /// Keyed by query kind: the query-id prefix before the first ':'. Ids without ':' appear
    /// only in `all`.
    std::map<std::string, MetricSet> by_kind;
};

/// Scores `run` against `qrels`. Averages over every query in `qrels` with at least one
/// relevant (grade > 0) judgement; such a query missing from `run` or with no hits scores 0.
/// Run queries absent from `qrels` are ignored. Within one query a repeated id counts only at
/// its first rank. Documents absent from the qrels are non-relevant.
EvalReport evaluate(const Run& run, const Qrels& qrels);

/// Query kind of an id: the prefix before the first ':', or "" when there is none.
std::string query_kind(std::string_view query_id);

/// A readable, aligned table: a header line with `mode` and `queries_per_second`, then one row
/// for "all" and one per kind, four decimals per metric.
std::string format_report(const EvalReport& report,
                          double queries_per_second,
                          const std::string& mode);

/// Writes `qid Q0 docid rank score tag` lines (trec_eval run format) in query-id order, rank
/// 1-based in the given order (ties keep their order), scores in shortest round-trip form.
void write_trec_run(std::ostream& out, const Run& run, const std::string& tag);

}  // namespace ragd::eval
