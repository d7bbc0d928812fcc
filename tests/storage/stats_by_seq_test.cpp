// StatsBySeq: the counts are read again only when the change sequence moved, and a failure of
// either read is passed on without being remembered.
#include "storage/stats_by_seq.hpp"

#include <gtest/gtest.h>

namespace ragd::storage {
namespace {

struct FakeStore {
    std::int64_t seq = 0;
    std::int64_t documents = 0;
    int counts = 0;  // how often stats() ran
    bool fail_seq = false;
    bool fail_stats = false;

    StatsBySeq cache() {
        return StatsBySeq(
            [this]() -> core::Result<std::int64_t> {
                if (fail_seq) {
                    return core::Error(core::ErrorCode::kUnavailable, "seq down");
                }
                return seq;
            },
            [this]() -> core::Result<StorageStats> {
                if (fail_stats) {
                    return core::Error(core::ErrorCode::kUnavailable, "stats down");
                }
                ++counts;
                StorageStats stats;
                stats.documents = documents;
                stats.last_seq = seq;
                return stats;
            });
    }
};

TEST(StatsBySeq, CountsOnlyWhenTheSequenceMoved) {
    FakeStore store;
    store.seq = 3;
    store.documents = 2;
    StatsBySeq stats = store.cache();
    for (int scrape = 0; scrape < 5; ++scrape) {
        auto got = stats.get();
        ASSERT_TRUE(got) << got.error().detail;
        EXPECT_EQ(got->documents, 2);
        EXPECT_EQ(got->last_seq, 3);
    }
    EXPECT_EQ(store.counts, 1);

    store.seq = 4;  // a write
    store.documents = 3;
    auto after = stats.get();
    ASSERT_TRUE(after);
    EXPECT_EQ(after->documents, 3);
    EXPECT_EQ(after->last_seq, 4);
    ASSERT_TRUE(stats.get());
    EXPECT_EQ(store.counts, 2);
}

TEST(StatsBySeq, FailuresArePassedOnAndNotRemembered) {
    FakeStore store;
    store.seq = 1;
    StatsBySeq stats = store.cache();
    store.fail_stats = true;
    auto failed = stats.get();
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.error().detail, "stats down");
    store.fail_stats = false;
    ASSERT_TRUE(stats.get());
    EXPECT_EQ(store.counts, 1);

    store.fail_seq = true;
    auto no_seq = stats.get();
    ASSERT_FALSE(no_seq);
    EXPECT_EQ(no_seq.error().detail, "seq down");
    store.fail_seq = false;
    ASSERT_TRUE(stats.get());
    EXPECT_EQ(store.counts, 1);
}

}  // namespace
}  // namespace ragd::storage
