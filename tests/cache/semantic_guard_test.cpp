#include "cache/semantic_guard.hpp"

#include <gtest/gtest.h>

namespace ragd::cache {
namespace {

void expect_refused(std::string_view a, std::string_view b, std::string_view why) {
    const GuardVerdict verdict = semantic_guard(a, b);
    EXPECT_FALSE(verdict.allowed) << a << " | " << b;
    EXPECT_NE(verdict.reason.find(why), std::string::npos) << verdict.reason;
}

void expect_allowed(std::string_view a, std::string_view b) {
    const GuardVerdict verdict = semantic_guard(a, b);
    EXPECT_TRUE(verdict.allowed) << a << " | " << b << ": " << verdict.reason;
}

TEST(SemanticGuard, RefusesDifferentNegations) {
    expect_refused("can X be used with Y", "can X not be used with Y", "negations");
    expect_refused("backups with compression", "backups without compression", "negations");
    expect_refused("list all tables", "list all tables except system ones", "negations");
    expect_refused("does it work", "doesn't it work", "negations");
    expect_refused("is it never cached", "is it cached", "negations");
}

TEST(SemanticGuard, EquivalentNegationSpellingsMatch) {
    expect_allowed("why can't I connect", "why cannot i connect");
    expect_allowed("why can not I connect", "why can't I connect");
    expect_allowed("why can\xE2\x80\x99t I connect", "why can't i connect");
    expect_allowed("it doesn't start", "it does not start");
}

TEST(SemanticGuard, RefusesDifferentNumbers) {
    expect_refused("postgres 15 replication", "postgres 16 replication", "numbers");
    expect_refused("upgrade to v1.2.3", "upgrade to v1.2.4", "numbers");
    expect_refused("top 10 queries", "top queries", "numbers");
    expect_allowed("postgres 15 replication", "replication in postgres 15");
}

TEST(SemanticGuard, RefusesDifferentContentWords) {
    expect_refused("how to create index", "how to drop index", "content words");
    expect_refused("configure replication", "configure sharding", "content words");
    expect_refused("create an index", "create an index concurrently", "content words");
}

TEST(SemanticGuard, AllowsStopwordAndInflectionDifferences) {
    expect_allowed("how do I create an index", "how do i create an index?");
    expect_allowed("how do I create an index", "how can I create indexes");
    expect_allowed("creating indexes", "how to create an index");
    expect_allowed("what are the replication slots", "replication slot");
    expect_allowed("the user's role", "users roles");
}

TEST(SemanticGuard, StemmerFoldsCommonSuffixes) {
    EXPECT_EQ(stem_word("indexes"), stem_word("index"));
    EXPECT_EQ(stem_word("creating"), stem_word("create"));
    EXPECT_EQ(stem_word("created"), stem_word("create"));
    EXPECT_EQ(stem_word("queries"), stem_word("query"));
    EXPECT_EQ(stem_word("running"), stem_word("run"));
    EXPECT_EQ(stem_word("using"), stem_word("use"));
    EXPECT_EQ(stem_word("classes"), stem_word("class"));
    EXPECT_EQ(stem_word("added"), stem_word("add"));
    EXPECT_NE(stem_word("create"), stem_word("drop"));
}

TEST(SemanticGuard, AnalyzeQuerySplitsTerms) {
    const QueryTerms terms = analyze_query("Can't use Postgres 15.2 without SSL on 2 nodes");
    EXPECT_EQ(terms.negations, (std::vector<std::string>{"not", "without"}));
    EXPECT_EQ(terms.numbers, (std::vector<std::string>{"15.2", "2"}));
    EXPECT_EQ(terms.content, (std::vector<std::string>{"nod", "postgr", "ssl", "us"}));
}

}  // namespace
}  // namespace ragd::cache
