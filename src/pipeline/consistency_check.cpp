#include "pipeline/consistency_check.hpp"

#include <algorithm>
#include <iterator>

#include <boost/json.hpp>

#include "pipeline/engine.hpp"

namespace ragd::pipeline {
namespace {

/// Records `id` in `list`: always counted, listed while the list is short.
void note_id(IdList& list, std::int64_t id, std::size_t max_listed) {
    ++list.count;
    if (list.first.size() < max_listed) {
        list.first.push_back(id);
    }
}

/// Ids in sorted `a` that sorted `b` lacks.
IdList difference(const std::vector<std::int64_t>& a,
                  const std::vector<std::int64_t>& b,
                  std::size_t max_listed) {
    IdList out;
    std::vector<std::int64_t> only;
    std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(only));
    out.count = only.size();
    only.resize(std::min(only.size(), max_listed));
    out.first = std::move(only);
    return out;
}

/// Pass 0 takes the cheap road for an index that only lags (catch-up replays the change log);
/// an index ahead of storage, or holding other ids at the same sequence, has diverged and is
/// rebuilt. Pass 1 rebuilds whatever still disagrees after the catch-up.
bool needs_rebuild(const IndexCheck& index, int pass) {
    return !index.consistent() && (pass > 0 || index.lag <= 0);
}

std::string describe(const CatchUpReport& report) {
    return std::to_string(report.chunks_added) + " chunks indexed, " +
           std::to_string(report.chunks_removed) + " removed, now at seq " +
           std::to_string(report.to_seq);
}

boost::json::object ids_to_json(const IdList& list) {
    boost::json::array ids;
    for (std::int64_t id : list.first) {
        ids.emplace_back(id);
    }
    return {{"count", list.count}, {"ids", std::move(ids)}};
}

boost::json::object index_to_json(const IndexCheck& index) {
    return {{"consistent", index.consistent()},
            {"entries", index.entries},
            {"applied_seq", index.applied_seq},
            {"lag", index.lag},
            {"missing", ids_to_json(index.missing)},
            {"extra", ids_to_json(index.extra)}};
}

std::string ids_text(const IdList& list) {
    std::string text;
    for (std::int64_t id : list.first) {
        text += (text.empty() ? "" : ", ") + std::to_string(id);
    }
    if (list.count > list.first.size()) {
        text += ", ...";
    }
    return text;
}

std::string index_line(const IndexCheck& index) {
    std::string line = index.name + ": " + (index.consistent() ? "ok, " : "") +
                       std::to_string(index.entries) + " entries, applied seq " +
                       std::to_string(index.applied_seq);
    if (index.lag > 0) {
        line += " (" + std::to_string(index.lag) + " changes behind storage)";
    } else if (index.lag < 0) {
        line += " (ahead of storage by " + std::to_string(-index.lag) +
                ": it was built from other data)";
    }
    if (index.missing.count > 0) {
        line += "; " + std::to_string(index.missing.count) +
                " live chunks missing: " + ids_text(index.missing);
    }
    if (index.extra.count > 0) {
        line += "; " + std::to_string(index.extra.count) +
                " ids that are no live chunk: " + ids_text(index.extra);
    }
    return line + "\n";
}

}  // namespace

ConsistencyChecker::ConsistencyChecker(storage::Storage& storage,
                                       const retrieval::VectorIndex& vectors,
                                       const retrieval::Bm25Index& bm25,
                                       std::string model_id,
                                       std::size_t dimensions,
                                       CheckOptions options)
    : storage_(storage),
      vectors_(vectors),
      bm25_(bm25),
      model_id_(std::move(model_id)),
      dimensions_(dimensions),
      options_(options) {}

ConsistencyChecker::ConsistencyChecker(Engine& engine, CheckOptions options)
    : ConsistencyChecker(engine.storage(),
                         engine.vectors(),
                         engine.bm25(),
                         engine.embedder().model_id(),
                         engine.embedder().dimensions(),
                         options) {}

void ConsistencyChecker::check_index_ids(std::vector<std::int64_t> index_ids,
                                         const std::vector<std::int64_t>& expected,
                                         IndexCheck& out) const {
    if (!std::is_sorted(index_ids.begin(), index_ids.end())) {
        std::sort(index_ids.begin(), index_ids.end());
    }
    out.missing = difference(expected, index_ids, options_.max_listed_ids);
    out.extra = difference(index_ids, expected, options_.max_listed_ids);
}

core::Result<ConsistencyReport> ConsistencyChecker::check() const {
    ConsistencyReport report;
    report.integrity_check = options_.full_integrity ? "integrity_check" : "quick_check";
    report.model_id = model_id_;
    report.dimensions = dimensions_;
    auto integrity = storage_.verify_integrity(options_.full_integrity);
    if (!integrity) {
        return integrity.error();
    }
    report.integrity_problems = std::move(*integrity);
    auto stats = storage_.stats();
    if (!stats) {
        report.integrity_problems.push_back("counting rows failed: " + stats.error().detail);
        return report;
    }
    report.documents = stats->documents;
    report.chunks = stats->chunks;
    report.storage_seq = stats->last_seq;

    // for_each_chunk visits in chunk id order, so both expected sets come out sorted.
    std::vector<std::int64_t> live;
    std::vector<std::int64_t> embedded;
    live.reserve(static_cast<std::size_t>(std::max<std::int64_t>(0, stats->chunks)));
    auto scanned =
        storage_.for_each_chunk(model_id_, [&](const storage::IndexableChunk& indexable) {
            const std::int64_t id = indexable.chunk.id;
            live.push_back(id);
            if (indexable.embedding.empty()) {
                note_id(report.without_embedding, id, options_.max_listed_ids);
            } else if (indexable.embedding.size() != dimensions_) {
                note_id(report.wrong_dimensions, id, options_.max_listed_ids);
            } else {
                embedded.push_back(id);  // what the maintainer puts in the vector index
            }
        });
    if (!scanned) {
        // Unreadable rows are damage: report them rather than fail, and skip the comparisons.
        report.integrity_problems.push_back("scanning the chunks failed: " +
                                            scanned.error().detail);
        return report;
    }

    report.vectors.name = "vectors";
    report.vectors.entries = vectors_.size();
    report.vectors.applied_seq = vectors_.applied_seq();
    report.vectors.lag = report.storage_seq - report.vectors.applied_seq;
    check_index_ids(vectors_.chunk_ids(), embedded, report.vectors);

    report.bm25.name = "bm25";
    report.bm25.entries = bm25_.size();
    report.bm25.applied_seq = bm25_.applied_seq();
    report.bm25.lag = report.storage_seq - report.bm25.applied_seq;
    auto bm25_ids = bm25_.chunk_ids();
    if (!bm25_ids) {
        return bm25_ids.error();
    }
    check_index_ids(std::move(*bm25_ids), live, report.bm25);
    report.indexes_checked = true;
    return report;
}

core::Result<RepairOutcome> ConsistencyChecker::repair(IndexMaintainer& maintainer) const {
    auto before = check();
    if (!before) {
        return before.error();
    }
    RepairOutcome outcome;
    outcome.before = *before;
    outcome.after = *before;
    if (before->consistent()) {
        return outcome;
    }
    if (!before->integrity_problems.empty() || !before->indexes_checked) {
        outcome.actions.push_back(
            "storage failed its integrity check, so no index was rebuilt from it: restore "
            "ragd.sqlite from a backup (or re-ingest into a new data directory)");
        return outcome;
    }
    if (before->wrong_dimensions.count > 0) {
        outcome.actions.push_back(
            "stored vectors do not have the configured embed.dimensions (" +
            std::to_string(dimensions_) +
            "), so no index was rebuilt: restore the setting they were made with, or re-ingest");
        return outcome;
    }
    ConsistencyReport current = *before;
    for (int pass = 0; pass < 2 && !current.indexes_consistent(); ++pass) {
        const bool rebuild_vectors = needs_rebuild(current.vectors, pass);
        const bool rebuild_bm25 = needs_rebuild(current.bm25, pass);
        if (rebuild_vectors || rebuild_bm25) {
            // rebuild_from_storage also catches up an index it did not rebuild.
            auto rebuilt = maintainer.rebuild_from_storage(rebuild_vectors, rebuild_bm25);
            if (!rebuilt) {
                return rebuilt.error();
            }
            std::string which = rebuild_vectors && rebuild_bm25 ? "vectors and bm25"
                                : rebuild_vectors               ? "vectors"
                                                                : "bm25";
            outcome.actions.push_back("rebuilt " + which + " from storage (" + describe(*rebuilt) +
                                      ")");
        } else {
            auto caught_up = maintainer.catch_up();
            if (!caught_up) {
                return caught_up.error();
            }
            if (auto flushed = maintainer.flush(); !flushed) {
                return flushed.error();
            }
            // catch_up itself rebuilds an index found empty at sequence 0.
            outcome.actions.push_back(
                "caught the indexes up from seq " + std::to_string(caught_up->from_seq) + " (" +
                std::to_string(caught_up->changes) + " changes, " +
                (caught_up->rebuilt_vectors ? "vectors rebuilt, " : "") +
                (caught_up->rebuilt_bm25 ? "bm25 rebuilt, " : "") + describe(*caught_up) + ")");
        }
        auto again = check();
        if (!again) {
            return again.error();
        }
        current = std::move(*again);
    }
    if (current.without_embedding.count > 0) {
        outcome.actions.push_back(std::to_string(current.without_embedding.count) +
                                  " chunks have no " + model_id_ +
                                  " vector, which no index rebuild can add: re-ingest their "
                                  "documents");
    }
    outcome.after = std::move(current);
    return outcome;
}

boost::json::object report_to_json(const ConsistencyReport& report) {
    boost::json::array problems;
    for (const auto& problem : report.integrity_problems) {
        problems.emplace_back(problem);
    }
    boost::json::object storage{{"consistent", report.integrity_problems.empty()},
                                {"check", report.integrity_check},
                                {"problems", std::move(problems)},
                                {"documents", report.documents},
                                {"chunks", report.chunks},
                                {"last_seq", report.storage_seq}};
    boost::json::object embeddings{
        {"consistent", report.without_embedding.count == 0 && report.wrong_dimensions.count == 0},
        {"model_id", report.model_id},
        {"dimensions", report.dimensions},
        {"missing", ids_to_json(report.without_embedding)},
        {"wrong_dimensions", ids_to_json(report.wrong_dimensions)}};
    boost::json::object out{{"consistent", report.consistent()},
                            {"storage", std::move(storage)},
                            {"embeddings", std::move(embeddings)}};
    if (report.indexes_checked) {
        out["indexes"] = boost::json::object{{"vectors", index_to_json(report.vectors)},
                                             {"bm25", index_to_json(report.bm25)}};
    } else {
        out["indexes"] = nullptr;
    }
    return out;
}

std::string format_report(const ConsistencyReport& report) {
    std::string text = "storage: ";
    if (report.integrity_problems.empty()) {
        text += "ok (" + report.integrity_check + "), ";
    } else {
        text += std::to_string(report.integrity_problems.size()) + " problems (" +
                report.integrity_check + "), ";
    }
    text += std::to_string(report.documents) + " documents, " + std::to_string(report.chunks) +
            " chunks, last change seq " + std::to_string(report.storage_seq) + "\n";
    for (const auto& problem : report.integrity_problems) {
        text += "  " + problem + "\n";
    }
    text += "embeddings: ";
    if (report.without_embedding.count == 0 && report.wrong_dimensions.count == 0) {
        text += "ok, every chunk has a " + report.model_id + " vector of " +
                std::to_string(report.dimensions) + " dimensions\n";
    } else {
        if (report.without_embedding.count > 0) {
            text += std::to_string(report.without_embedding.count) + " chunks have no " +
                    report.model_id + " vector: " + ids_text(report.without_embedding) +
                    (report.wrong_dimensions.count > 0 ? "; " : "");
        }
        if (report.wrong_dimensions.count > 0) {
            text += std::to_string(report.wrong_dimensions.count) + " chunks have a vector " +
                    "that is not " + std::to_string(report.dimensions) +
                    " dimensions long: " + ids_text(report.wrong_dimensions);
        }
        text += "\n";
    }
    if (report.indexes_checked) {
        text += index_line(report.vectors);
        text += index_line(report.bm25);
    } else {
        text += "indexes: not compared (storage could not be read)\n";
    }
    text += std::string("result: ") + (report.consistent() ? "consistent" : "inconsistent") + "\n";
    return text;
}

}  // namespace ragd::pipeline
