// Loaders for a BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv). Pure file parsing,
// so `ragd eval` and the tests share one definition of the format.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace ragd::eval {

/// One line of corpus.jsonl: `{"_id": ..., "title": ..., "text": ...}`.
struct BeirDocument {
    std::string id;     ///< `_id` (a JSON string or integer)
    std::string title;  ///< `title`, empty when absent or null
    std::string text;   ///< `text`, required
};

/// Streams corpus.jsonl one line at a time (the whole corpus is never held in memory) and calls
/// `visit` for each document in file order. Blank lines are skipped; CRLF and a UTF-8 BOM are
/// tolerated. Returns kIo if the file cannot be opened, kInvalidArgument naming the path and
/// 1-based line number for a malformed line, or the first error `visit` returns (unchanged).
core::Result<void> for_each_corpus_document(
    const std::string& path, const std::function<core::Result<void>(BeirDocument&&)>& visit);

/// One line of queries.jsonl: `{"_id": ..., "text": ...}`.
struct BeirQuery {
    std::string id;
    std::string text;
};

/// Loads queries.jsonl in file order. Errors as for_each_corpus_document; a repeated `_id` is
/// kInvalidArgument naming both lines.
core::Result<std::vector<BeirQuery>> load_queries(const std::string& path);

/// query id → (corpus id → graded relevance). Grades <= 0 are kept (they are judged
/// non-relevant: they count neither as relevant for recall/MRR nor as gain for nDCG).
using Qrels = std::map<std::string, std::map<std::string, int>>;

/// Loads a qrels TSV (`query-id<TAB>corpus-id<TAB>score`, header line optional, CRLF tolerated;
/// fields may also be separated by spaces when a line has no tab). A repeated (query, doc) pair
/// keeps the last grade. Malformed lines are kInvalidArgument naming path and line.
core::Result<Qrels> load_qrels(const std::string& path);

}  // namespace ragd::eval
