// Metrics against hand-computed values on tiny runs, plus collapse, report and TREC output.
#include "eval/metrics.hpp"

#include <cmath>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace ragd::eval {
namespace {

constexpr double kTolerance = 1e-12;

std::vector<RankedDocument> hits(std::initializer_list<const char*> ids) {
    std::vector<RankedDocument> out;
    double score = 1.0;
    for (const char* id : ids) {
        out.push_back(RankedDocument{id, score});
        score -= 0.01;
    }
    return out;
}

std::vector<RankedDocument> filler_then(std::size_t filler, const char* id) {
    std::vector<RankedDocument> out;
    for (std::size_t idx = 0; idx < filler; ++idx) {
        out.push_back(RankedDocument{"filler" + std::to_string(idx), 0.0});
    }
    out.push_back(RankedDocument{id, 0.0});
    return out;
}

TEST(Metrics, BinaryQueryWithUnjudgedDocuments) {
    // Relevant d1, d2 at ranks 2 and 4; x and y are not in the qrels (non-relevant).
    // DCG = 1/log2(3) + 1/log2(5) = 0.63092975 + 0.43067656 = 1.06160631
    // IDCG = 1 + 1/log2(3) = 1.63092975  →  nDCG@10 = 0.65092093; MRR@10 = 1/2.
    Qrels qrels{{"q1", {{"d1", 1}, {"d2", 1}}}};
    eval::Run run{{"q1", hits({"x", "d1", "y", "d2"})}};
    EvalReport report = evaluate(run, qrels);
    EXPECT_EQ(report.all.queries, 1u);
    EXPECT_NEAR(report.all.ndcg_at_10, 0.6509209298071326, kTolerance);
    EXPECT_NEAR(report.all.recall_at_10, 1.0, kTolerance);
    EXPECT_NEAR(report.all.recall_at_100, 1.0, kTolerance);
    EXPECT_NEAR(report.all.mrr_at_10, 0.5, kTolerance);
    EXPECT_TRUE(report.by_kind.empty());  // "q1" has no ':' so no kind
}

TEST(Metrics, GradedQrelsUseGradeAsGainAndIdealOrder) {
    // Grades a=2, b=1, c=0 (judged non-relevant). Run b, c, a.
    // DCG = 1/log2(2) + 0 + 2/log2(4) = 1 + 1 = 2; IDCG = 2/1 + 1/log2(3) = 2.63092975
    // nDCG = 0.76018753. Two relevant, both retrieved: recall 1; first relevant at rank 1.
    Qrels qrels{{"q", {{"a", 2}, {"b", 1}, {"c", 0}}}};
    eval::Run run{{"q", hits({"b", "c", "a"})}};
    EvalReport report = evaluate(run, qrels);
    EXPECT_NEAR(report.all.ndcg_at_10, 0.7601875334318685, kTolerance);
    EXPECT_NEAR(report.all.recall_at_10, 1.0, kTolerance);
    EXPECT_NEAR(report.all.mrr_at_10, 1.0, kTolerance);
}

TEST(Metrics, ZeroGradeOnlyHitCountsForNothing) {
    Qrels qrels{{"q", {{"a", 1}, {"c", 0}}}};
    eval::Run run{{"q", hits({"c"})}};
    EvalReport report = evaluate(run, qrels);
    EXPECT_EQ(report.all.queries, 1u);
    EXPECT_EQ(report.all.ndcg_at_10, 0.0);
    EXPECT_EQ(report.all.recall_at_100, 0.0);
    EXPECT_EQ(report.all.mrr_at_10, 0.0);
}

TEST(Metrics, RecallAtTenVersusHundredAndMrrCutoff) {
    // r at rank 5, s at rank 50: R@10 = 1/2, R@100 = 1, MRR = 1/5,
    // nDCG = (1/log2(6)) / (1 + 1/log2(3)) = 0.23719771.
    std::vector<RankedDocument> ranked = filler_then(4, "r");
    auto tail = filler_then(44, "s");
    for (auto& hit : tail)
        hit.id = hit.id == "s" ? "s" : hit.id + "b";
    ranked.insert(ranked.end(), tail.begin(), tail.end());
    ASSERT_EQ(ranked[4].id, "r");
    ASSERT_EQ(ranked[49].id, "s");
    Qrels qrels{{"q", {{"r", 1}, {"s", 1}}}};
    EvalReport report = evaluate(eval::Run{{"q", ranked}}, qrels);
    EXPECT_NEAR(report.all.recall_at_10, 0.5, kTolerance);
    EXPECT_NEAR(report.all.recall_at_100, 1.0, kTolerance);
    EXPECT_NEAR(report.all.mrr_at_10, 0.2, kTolerance);
    EXPECT_NEAR(report.all.ndcg_at_10, 0.23719771276929622, kTolerance);
}

TEST(Metrics, RelevantJustOutsideTheCutoffsScoresZero) {
    Qrels qrels{{"q", {{"hit", 1}}}};
    // Rank 11: outside nDCG@10, MRR@10 and R@10 but inside R@100.
    EvalReport at_11 = evaluate(eval::Run{{"q", filler_then(10, "hit")}}, qrels);
    EXPECT_EQ(at_11.all.ndcg_at_10, 0.0);
    EXPECT_EQ(at_11.all.mrr_at_10, 0.0);
    EXPECT_EQ(at_11.all.recall_at_10, 0.0);
    EXPECT_EQ(at_11.all.recall_at_100, 1.0);
    // Rank 101: outside everything.
    EvalReport at_101 = evaluate(eval::Run{{"q", filler_then(100, "hit")}}, qrels);
    EXPECT_EQ(at_101.all.recall_at_100, 0.0);
    // Rank 10 exactly: inside; MRR 1/10, nDCG 1/log2(11).
    EvalReport at_10 = evaluate(eval::Run{{"q", filler_then(9, "hit")}}, qrels);
    EXPECT_NEAR(at_10.all.mrr_at_10, 0.1, kTolerance);
    EXPECT_NEAR(at_10.all.ndcg_at_10, 1.0 / std::log2(11.0), kTolerance);
    EXPECT_EQ(at_10.all.recall_at_10, 1.0);
}

TEST(Metrics, AveragesOverAllQueriesWithQrelsIncludingThoseWithoutHits) {
    // ref:a perfect (1,1,1,1); ref:b has no run entry (0); guc:c has an empty run (0);
    // guc:d finds its only relevant doc at rank 2 (nDCG 1/log2(3), MRR 1/2, recall 1).
    // guc:zero has only a grade-0 judgement and is not averaged; "extra" is not in the qrels.
    Qrels qrels{{"ref:a", {{"a1", 1}}},
                {"ref:b", {{"b1", 1}}},
                {"guc:c", {{"c1", 1}}},
                {"guc:d", {{"d1", 1}}},
                {"guc:zero", {{"z", 0}}}};
    eval::Run run{{"ref:a", hits({"a1"})},
                  {"guc:c", {}},
                  {"guc:d", hits({"x", "d1"})},
                  {"extra", hits({"a1"})}};
    EvalReport report = evaluate(run, qrels);
    const double d_ndcg = 1.0 / std::log2(3.0);
    EXPECT_EQ(report.all.queries, 4u);
    EXPECT_NEAR(report.all.ndcg_at_10, (1.0 + 0 + 0 + d_ndcg) / 4, kTolerance);
    EXPECT_NEAR(report.all.recall_at_10, 2.0 / 4, kTolerance);
    EXPECT_NEAR(report.all.recall_at_100, 2.0 / 4, kTolerance);
    EXPECT_NEAR(report.all.mrr_at_10, 1.5 / 4, kTolerance);

    ASSERT_EQ(report.by_kind.size(), 2u);
    const MetricSet& ref = report.by_kind.at("ref");
    EXPECT_EQ(ref.queries, 2u);
    EXPECT_NEAR(ref.ndcg_at_10, 0.5, kTolerance);
    EXPECT_NEAR(ref.mrr_at_10, 0.5, kTolerance);
    const MetricSet& guc = report.by_kind.at("guc");
    EXPECT_EQ(guc.queries, 2u);
    EXPECT_NEAR(guc.ndcg_at_10, d_ndcg / 2, kTolerance);
    EXPECT_NEAR(guc.recall_at_10, 0.5, kTolerance);
    EXPECT_NEAR(guc.mrr_at_10, 0.25, kTolerance);
}

TEST(Metrics, RepeatedIdCountsOnceAtItsFirstRank) {
    // Uncollapsed input d1, d1: recall must stay 1/2, and the repeat takes no rank.
    Qrels qrels{{"q", {{"d1", 1}, {"d2", 1}}}};
    EvalReport report = evaluate(eval::Run{{"q", hits({"d1", "d1", "d2"})}}, qrels);
    EXPECT_NEAR(report.all.recall_at_10, 1.0, kTolerance);
    EXPECT_NEAR(report.all.ndcg_at_10, 1.0, kTolerance);  // d1, d2 at ranks 1, 2 = ideal
}

TEST(Metrics, EmptyQrelsGiveZeroQueries) {
    EvalReport report = evaluate(eval::Run{{"q", hits({"a"})}}, Qrels{});
    EXPECT_EQ(report.all.queries, 0u);
    EXPECT_EQ(report.all.ndcg_at_10, 0.0);
}

TEST(Collapse, KeepsFirstOccurrenceInOrder) {
    std::vector<RankedDocument> chunks{
        {"docA", 0.9}, {"docB", 0.8}, {"docA", 0.7}, {"docC", 0.6}, {"docB", 0.5}};
    auto documents = collapse_to_documents(chunks);
    ASSERT_EQ(documents.size(), 3u);
    EXPECT_EQ(documents[0].id, "docA");
    EXPECT_EQ(documents[0].score, 0.9);
    EXPECT_EQ(documents[1].id, "docB");
    EXPECT_EQ(documents[1].score, 0.8);
    EXPECT_EQ(documents[2].id, "docC");
    EXPECT_TRUE(collapse_to_documents({}).empty());
}

TEST(Collapse, PageLevelPrefixes) {
    EXPECT_EQ(id_prefix("sql-createindex#id-1.9/1", "#"), "sql-createindex");
    EXPECT_EQ(id_prefix("plain", "#"), "plain");
    EXPECT_EQ(id_prefix("a#b", ""), "a#b");

    eval::Run run{{"q", {{"p1#x/1", 0.9}, {"p2#y", 0.8}, {"p1#z", 0.7}}}};
    eval::Run collapsed = collapse_run_at(run, "#");
    ASSERT_EQ(collapsed.at("q").size(), 2u);
    EXPECT_EQ(collapsed.at("q")[0].id, "p1");
    EXPECT_EQ(collapsed.at("q")[1].id, "p2");

    Qrels qrels{{"q", {{"p2#a", 1}, {"p2#b", 3}, {"p3#c", 0}}}};
    Qrels page_qrels = collapse_qrels_at(qrels, "#");
    EXPECT_EQ(page_qrels.at("q").size(), 2u);
    EXPECT_EQ(page_qrels.at("q").at("p2"), 3);  // highest grade wins
    EXPECT_EQ(page_qrels.at("q").at("p3"), 0);
    // p2 at rank 2 of the collapsed run: MRR 1/2.
    EXPECT_NEAR(evaluate(collapsed, page_qrels).all.mrr_at_10, 0.5, kTolerance);
}

TEST(QueryKind, PrefixBeforeFirstColon) {
    EXPECT_EQ(query_kind("ref:sql-createindex"), "ref");
    EXPECT_EQ(query_kind("guc:a:b"), "guc");
    EXPECT_EQ(query_kind("plain"), "");
}

TEST(TrecRun, WritesOneLinePerHitWithOneBasedRanksInGivenOrder) {
    eval::Run run{{"q2", {{"d9", 0.5}}}, {"q1", {{"d1", 2.5}, {"d2", 0.25}, {"d3", 0.25}}}};
    std::ostringstream out;
    write_trec_run(out, run, "ragd-hybrid");
    EXPECT_EQ(out.str(),
              "q1 Q0 d1 1 2.5 ragd-hybrid\n"
              "q1 Q0 d2 2 0.25 ragd-hybrid\n"
              "q1 Q0 d3 3 0.25 ragd-hybrid\n"
              "q2 Q0 d9 1 0.5 ragd-hybrid\n");
}

TEST(TrecRun, ScoresRoundTrip) {
    eval::Run run{{"q", {{"d", 0.016393442622950821}}}};
    std::ostringstream out;
    write_trec_run(out, run, "t");
    std::istringstream in(out.str());
    std::string qid, q0, doc, tag;
    int rank = 0;
    double score = 0;
    in >> qid >> q0 >> doc >> rank >> score >> tag;
    EXPECT_EQ(score, 0.016393442622950821);
    EXPECT_EQ(rank, 1);
    EXPECT_EQ(tag, "t");
}

TEST(Report, AlignedTableWithAllAndKinds) {
    EvalReport report;
    report.all = MetricSet{0.41144, 0.59871, 0.85762, 0.35573, 622};
    report.by_kind["guc"] = MetricSet{0.3229, 0.518, 0.8232, 0.2624, 362};
    report.by_kind["ref"] = MetricSet{0.5347, 0.7112, 0.9054, 0.4855, 260};
    std::string text = format_report(report, 1234.56, "hybrid");
    EXPECT_NE(text.find("mode: hybrid"), std::string::npos) << text;
    EXPECT_NE(text.find("queries/second: 1234.6"), std::string::npos) << text;
    EXPECT_NE(text.find("nDCG@10"), std::string::npos);
    EXPECT_NE(text.find("Recall@100"), std::string::npos);
    EXPECT_NE(text.find("0.4114"), std::string::npos);
    EXPECT_NE(text.find("0.8232"), std::string::npos);
    // Rows are aligned: the header and all three data rows have the same length.
    std::istringstream lines(text);
    std::string line;
    std::vector<std::string> rows;
    while (std::getline(lines, line)) {
        if (!line.empty() && line.rfind("mode:", 0) != 0)
            rows.push_back(line);
    }
    ASSERT_EQ(rows.size(), 4u) << text;
    for (const auto& row : rows)
        EXPECT_EQ(row.size(), rows[0].size()) << text;
    EXPECT_EQ(rows[1].rfind("all", 0), 0u);
    EXPECT_EQ(rows[2].rfind("guc", 0), 0u);
    EXPECT_EQ(rows[3].rfind("ref", 0), 0u);
}

}  // namespace
}  // namespace ragd::eval
