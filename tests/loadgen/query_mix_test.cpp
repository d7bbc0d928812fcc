// The query mix: the repeat fraction is exact, repeats reuse queries already sent, and new
// queries never collide.
#include "loadgen/query_mix.hpp"

#include <cmath>
#include <set>
#include <string>

#include <gtest/gtest.h>

namespace ragd::loadgen {
namespace {

std::vector<std::string> three_lines() {
    return {"alpha", "beta", "gamma"};
}

TEST(QueryMix, RepeatFractionIsExactForEveryPrefix) {
    for (const double fraction : {0.0, 0.1, 0.25, 0.5, 0.9, 0.999}) {
        QueryMix mix(three_lines(), fraction);
        std::uint64_t repeats = 0;
        for (std::uint64_t seq = 0; seq < 10'000; ++seq) {
            repeats += mix.pick(seq).repeat ? 1 : 0;
            EXPECT_EQ(
                repeats,
                static_cast<std::uint64_t>(std::floor(static_cast<double>(seq + 1) * fraction)))
                << "fraction " << fraction << " after " << seq + 1;
        }
    }
}

TEST(QueryMix, RepeatsReuseEarlierQueriesAndNewOnesAreFresh) {
    QueryMix mix(three_lines(), 0.3, 99);
    std::set<std::string> sent;
    std::uint64_t next_unique = 0;
    std::uint64_t hits = 0;
    for (std::uint64_t seq = 0; seq < 5'000; ++seq) {
        const auto pick = mix.pick(seq);
        const std::string text = mix.text(pick.unique_index);
        if (pick.repeat) {
            EXPECT_LT(pick.unique_index, next_unique);
            EXPECT_TRUE(sent.count(text)) << text;
            ++hits;
        } else {
            EXPECT_EQ(pick.unique_index, next_unique++);
            EXPECT_TRUE(sent.insert(text).second) << "new query repeats an old one: " << text;
        }
        EXPECT_EQ(mix.query(seq), text);
    }
    // As an answer cache would see it: the hit rate is the repeat fraction.
    EXPECT_EQ(hits, 1500U);
}

TEST(QueryMix, ZeroMeansAllUniqueAndOneMeansOneQuery) {
    QueryMix unique(three_lines(), 0.0);
    std::set<std::string> texts;
    for (std::uint64_t seq = 0; seq < 100; ++seq) {
        texts.insert(unique.query(seq));
    }
    EXPECT_EQ(texts.size(), 100U);

    QueryMix same(three_lines(), 1.0);
    EXPECT_FALSE(same.pick(0).repeat);
    for (std::uint64_t seq = 1; seq < 100; ++seq) {
        EXPECT_TRUE(same.pick(seq).repeat);
        EXPECT_EQ(same.query(seq), "alpha");
    }
    EXPECT_EQ(QueryMix(three_lines(), 7.0).repeat_fraction(), 1.0);
    EXPECT_EQ(QueryMix(three_lines(), -1.0).repeat_fraction(), 0.0);
}

TEST(QueryMix, LinesFirstThenSuffixedPasses) {
    QueryMix mix(three_lines(), 0.0);
    EXPECT_EQ(mix.text(0), "alpha");
    EXPECT_EQ(mix.text(2), "gamma");
    EXPECT_EQ(mix.text(3), "alpha #2");
    EXPECT_EQ(mix.text(7), "beta #3");
}

TEST(QueryMix, BlankAndDuplicateLinesAreDropped) {
    QueryMix mix({"one\r", "", "  ", "two", "one"}, 0.0);
    EXPECT_EQ(mix.line_count(), 2U);
    EXPECT_EQ(mix.text(0), "one");
    EXPECT_EQ(mix.text(1), "two");
    EXPECT_GT(QueryMix({}, 0.0).line_count(), 0U) << "built-in questions when none are given";
}

TEST(QueryMix, SameSeedSameMix) {
    QueryMix first(three_lines(), 0.5, 5);
    QueryMix second(three_lines(), 0.5, 5);
    QueryMix other(three_lines(), 0.5, 6);
    bool differs = false;
    for (std::uint64_t seq = 0; seq < 1000; ++seq) {
        EXPECT_EQ(first.query(seq), second.query(seq));
        differs = differs || first.query(seq) != other.query(seq);
    }
    EXPECT_TRUE(differs);
}

}  // namespace
}  // namespace ragd::loadgen
