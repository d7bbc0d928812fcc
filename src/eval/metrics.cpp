// Metric definitions follow trec_eval as BEIR calls it through pytrec_eval (ndcg_cut.10,
// recall.10/100, recip_rank cut at 10), except that the run's order is taken as given instead of
// re-sorted by score, so a caller's tie-breaking is what gets scored.
#include "eval/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <functional>
#include <sstream>
#include <unordered_set>

namespace ragd::eval {
namespace {

constexpr std::size_t kNdcgDepth = 10;
constexpr std::size_t kMrrDepth = 10;
constexpr std::size_t kShortRecallDepth = 10;
constexpr std::size_t kLongRecallDepth = 100;

struct QueryScores {
    double ndcg_at_10 = 0.0;
    double recall_at_10 = 0.0;
    double recall_at_100 = 0.0;
    double mrr_at_10 = 0.0;
};

/// Sums of per-query scores; divided once at the end so every query weighs the same.
struct Accumulator {
    QueryScores sum;
    std::size_t queries = 0;

    void add(const QueryScores& scores) {
        sum.ndcg_at_10 += scores.ndcg_at_10;
        sum.recall_at_10 += scores.recall_at_10;
        sum.recall_at_100 += scores.recall_at_100;
        sum.mrr_at_10 += scores.mrr_at_10;
        ++queries;
    }
    MetricSet mean() const {
        MetricSet set;
        set.queries = queries;
        if (queries == 0)
            return set;
        const auto n = static_cast<double>(queries);
        set.ndcg_at_10 = sum.ndcg_at_10 / n;
        set.recall_at_10 = sum.recall_at_10 / n;
        set.recall_at_100 = sum.recall_at_100 / n;
        set.mrr_at_10 = sum.mrr_at_10 / n;
        return set;
    }
};

double discount(std::size_t rank) {
    return 1.0 / std::log2(static_cast<double>(rank) + 1.0);
}

/// Scores one query; `judgements` has at least one grade > 0.
QueryScores score_query(const std::vector<RankedDocument>* hits,
                        const std::map<std::string, int>& judgements,
                        std::size_t relevant) {
    QueryScores scores;
    std::vector<int> ideal;
    for (const auto& [doc, grade] : judgements) {
        if (grade > 0)
            ideal.push_back(grade);
    }
    std::sort(ideal.begin(), ideal.end(), std::greater<>());
    double ideal_dcg = 0.0;
    for (std::size_t idx = 0; idx < ideal.size() && idx < kNdcgDepth; ++idx) {
        ideal_dcg += ideal[idx] * discount(idx + 1);
    }
    if (hits == nullptr)
        return scores;

    double dcg = 0.0;
    std::size_t found_at_10 = 0;
    std::size_t found_at_100 = 0;
    std::size_t rank = 0;
    bool first_relevant_found = false;
    std::unordered_set<std::string_view> seen;
    for (const RankedDocument& hit : *hits) {
        if (rank >= kLongRecallDepth)
            break;
        // A repeated id would count a relevant document twice; it keeps only its first rank.
        if (!seen.insert(hit.id).second)
            continue;
        ++rank;
        auto judged = judgements.find(hit.id);
        if (judged == judgements.end() || judged->second <= 0)
            continue;
        ++found_at_100;
        if (rank <= kShortRecallDepth)
            ++found_at_10;
        if (rank <= kNdcgDepth)
            dcg += judged->second * discount(rank);
        if (!first_relevant_found) {
            first_relevant_found = true;
            if (rank <= kMrrDepth)
                scores.mrr_at_10 = 1.0 / static_cast<double>(rank);
        }
    }
    scores.ndcg_at_10 = dcg / ideal_dcg;
    scores.recall_at_10 = static_cast<double>(found_at_10) / static_cast<double>(relevant);
    scores.recall_at_100 = static_cast<double>(found_at_100) / static_cast<double>(relevant);
    return scores;
}

std::string format_fixed(double value, int decimals) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
    return buffer;
}

std::string pad_left(const std::string& text, std::size_t width) {
    return text.size() >= width ? text : std::string(width - text.size(), ' ') + text;
}

std::string pad_right(const std::string& text, std::size_t width) {
    return text.size() >= width ? text : text + std::string(width - text.size(), ' ');
}

}  // namespace

std::vector<RankedDocument> collapse_to_documents(const std::vector<RankedDocument>& chunk_hits) {
    std::vector<RankedDocument> documents;
    documents.reserve(chunk_hits.size());
    std::unordered_set<std::string_view> seen;
    for (const RankedDocument& hit : chunk_hits) {
        // Views point into chunk_hits, which outlives this loop.
        if (seen.insert(hit.id).second)
            documents.push_back(hit);
    }
    return documents;
}

std::string_view id_prefix(std::string_view id, std::string_view separator) {
    if (separator.empty())
        return id;
    std::size_t at = id.find(separator);
    return at == std::string_view::npos ? id : id.substr(0, at);
}

Run collapse_run_at(const Run& run, std::string_view separator) {
    Run collapsed;
    for (const auto& [query_id, hits] : run) {
        std::vector<RankedDocument> mapped;
        mapped.reserve(hits.size());
        for (const RankedDocument& hit : hits) {
            mapped.push_back(RankedDocument{std::string(id_prefix(hit.id, separator)), hit.score});
        }
        collapsed.emplace(query_id, collapse_to_documents(mapped));
    }
    return collapsed;
}

Qrels collapse_qrels_at(const Qrels& qrels, std::string_view separator) {
    Qrels collapsed;
    for (const auto& [query_id, judgements] : qrels) {
        auto& target = collapsed[query_id];
        for (const auto& [doc_id, grade] : judgements) {
            auto [it, inserted] = target.emplace(std::string(id_prefix(doc_id, separator)), grade);
            if (!inserted)
                it->second = std::max(it->second, grade);
        }
    }
    return collapsed;
}

std::string query_kind(std::string_view query_id) {
    std::size_t colon = query_id.find(':');
    return colon == std::string_view::npos ? std::string() : std::string(query_id.substr(0, colon));
}

EvalReport evaluate(const Run& run, const Qrels& qrels) {
    Accumulator all;
    std::map<std::string, Accumulator> by_kind;
    for (const auto& [query_id, judgements] : qrels) {
        std::size_t relevant = 0;
        for (const auto& [doc_id, grade] : judgements) {
            if (grade > 0)
                ++relevant;
        }
        // trec_eval skips queries with nothing relevant: recall and nDCG are undefined there.
        if (relevant == 0)
            continue;
        auto hits = run.find(query_id);
        QueryScores scores =
            score_query(hits == run.end() ? nullptr : &hits->second, judgements, relevant);
        all.add(scores);
        std::string kind = query_kind(query_id);
        if (!kind.empty())
            by_kind[kind].add(scores);
    }
    EvalReport report;
    report.all = all.mean();
    for (const auto& [kind, accumulator] : by_kind)
        report.by_kind.emplace(kind, accumulator.mean());
    return report;
}

std::string format_report(const EvalReport& report,
                          double queries_per_second,
                          const std::string& mode) {
    std::size_t label_width = 7;  // "queries"
    for (const auto& [kind, set] : report.by_kind)
        label_width = std::max(label_width, kind.size());
    label_width += 2;

    std::ostringstream out;
    out << "mode: " << mode << "    queries/second: " << format_fixed(queries_per_second, 1)
        << "\n\n";
    out << pad_right("queries", label_width) << pad_left("n", 7) << pad_left("nDCG@10", 10)
        << pad_left("Recall@10", 11) << pad_left("Recall@100", 12) << pad_left("MRR@10", 9) << "\n";
    auto row = [&](const std::string& label, const MetricSet& set) {
        out << pad_right(label, label_width) << pad_left(std::to_string(set.queries), 7)
            << pad_left(format_fixed(set.ndcg_at_10, 4), 10)
            << pad_left(format_fixed(set.recall_at_10, 4), 11)
            << pad_left(format_fixed(set.recall_at_100, 4), 12)
            << pad_left(format_fixed(set.mrr_at_10, 4), 9) << "\n";
    };
    row("all", report.all);
    for (const auto& [kind, set] : report.by_kind)
        row(kind, set);
    return out.str();
}

void write_trec_run(std::ostream& out, const Run& run, const std::string& tag) {
    char score[64];
    for (const auto& [query_id, hits] : run) {
        std::size_t rank = 0;
        for (const RankedDocument& hit : hits) {
            ++rank;
            auto [end, ec] = std::to_chars(score, score + sizeof score, hit.score);
            std::string_view score_text =
                ec == std::errc() ? std::string_view(score, end - score) : std::string_view("0");
            out << query_id << " Q0 " << hit.id << ' ' << rank << ' ' << score_text << ' ' << tag
                << '\n';
        }
    }
}

}  // namespace ragd::eval
