// Reciprocal rank fusion against hand-computed scores.
#include "retrieval/fusion.hpp"

#include <gtest/gtest.h>

namespace ragd::retrieval {
namespace {

TEST(Fusion, ScoresAreWeightedReciprocalRanks) {
    std::vector<RankedList> lists = {{{10, 20, 30}, 1.0}, {{30, 10}, 2.0}};
    auto fused = reciprocal_rank_fusion(lists, 60, 10);
    ASSERT_EQ(fused.size(), 3u);
    // 10: 1/61 + 2/62; 30: 1/63 + 2/61; 20: 1/62
    EXPECT_EQ(fused[0].chunk_id, 30);
    EXPECT_DOUBLE_EQ(fused[0].score, 1.0 / 63 + 2.0 / 61);
    EXPECT_EQ(fused[0].ranks, (std::vector<std::uint32_t>{3, 1}));
    EXPECT_EQ(fused[1].chunk_id, 10);
    EXPECT_DOUBLE_EQ(fused[1].score, 1.0 / 61 + 2.0 / 62);
    EXPECT_EQ(fused[1].ranks, (std::vector<std::uint32_t>{1, 2}));
    EXPECT_EQ(fused[2].chunk_id, 20);
    EXPECT_DOUBLE_EQ(fused[2].score, 1.0 / 62);
    EXPECT_EQ(fused[2].ranks, (std::vector<std::uint32_t>{2, 0}));
}

TEST(Fusion, LimitTruncatesAndEmptyInputsGiveNothing) {
    std::vector<RankedList> lists = {{{1, 2, 3, 4}, 1.0}};
    EXPECT_EQ(reciprocal_rank_fusion(lists, 60, 2).size(), 2u);
    EXPECT_TRUE(reciprocal_rank_fusion(lists, 60, 0).empty());
    EXPECT_TRUE(reciprocal_rank_fusion({}, 60, 5).empty());
    std::vector<RankedList> empty_lists = {{{}, 1.0}, {{}, 1.0}};
    EXPECT_TRUE(reciprocal_rank_fusion(empty_lists, 60, 5).empty());
}

TEST(Fusion, TiesBreakOnBestRankThenLowerId) {
    // 7 and 9 swap places across equally weighted lists: equal scores, equal best rank -> id.
    std::vector<RankedList> swapped = {{{9, 7}, 1.0}, {{7, 9}, 1.0}};
    auto fused = reciprocal_rank_fusion(swapped, 60, 10);
    ASSERT_EQ(fused.size(), 2u);
    EXPECT_DOUBLE_EQ(fused[0].score, fused[1].score);
    EXPECT_EQ(fused[0].chunk_id, 7);
    EXPECT_EQ(fused[1].chunk_id, 9);
    // Equal scores from different ranks: 1/(1+1) + 1/(1+5) == 1/(1+2) + 1/(1+2) with k=1
    // (0.6667 each); 5 has the better best rank (1) so comes first.
    std::vector<RankedList> lists = {{{5, 6}, 1.0}, {{100, 6, 101, 102, 5}, 1.0}};
    auto ranked = reciprocal_rank_fusion(lists, 1, 10);
    ASSERT_GE(ranked.size(), 2u);
    EXPECT_EQ(ranked[0].chunk_id, 5);
    EXPECT_EQ(ranked[1].chunk_id, 6);
    EXPECT_NEAR(ranked[0].score, ranked[1].score, 1e-12);
}

TEST(Fusion, DuplicateInOneListCountsOnceAtBestRank) {
    std::vector<RankedList> lists = {{{4, 4, 5}, 1.0}};
    auto fused = reciprocal_rank_fusion(lists, 10, 10);
    ASSERT_EQ(fused.size(), 2u);
    EXPECT_EQ(fused[0].chunk_id, 4);
    EXPECT_DOUBLE_EQ(fused[0].score, 1.0 / 11);
    EXPECT_EQ(fused[1].ranks[0], 3u);
}

TEST(Fusion, ZeroWeightListStillReportsRanks) {
    std::vector<RankedList> lists = {{{1}, 0.0}, {{2}, 1.0}};
    auto fused = reciprocal_rank_fusion(lists, 60, 10);
    ASSERT_EQ(fused.size(), 2u);
    EXPECT_EQ(fused[0].chunk_id, 2);
    EXPECT_EQ(fused[1].chunk_id, 1);
    EXPECT_EQ(fused[1].score, 0.0);
    EXPECT_EQ(fused[1].ranks, (std::vector<std::uint32_t>{1, 0}));
}

}  // namespace
}  // namespace ragd::retrieval
