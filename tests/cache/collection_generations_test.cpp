#include "cache/collection_generations.hpp"

#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace ragd::cache {
namespace {

TEST(CollectionGenerations, BumpAffectsOnlyItsCollection) {
    CollectionGenerations generations;
    EXPECT_EQ(generations.get("docs"), 0u);
    EXPECT_EQ(generations.bump("docs"), 1u);
    EXPECT_EQ(generations.bump("docs"), 2u);
    EXPECT_EQ(generations.get("docs"), 2u);
    EXPECT_EQ(generations.get("other"), 0u);
}

TEST(CollectionGenerations, BumpAllMovesKnownAndUnknownCollections) {
    CollectionGenerations generations;
    generations.bump("docs");
    generations.bump("docs");
    const auto docs_before = generations.get("docs");
    const auto unseen_before = generations.get("unseen");
    generations.bump_all();
    EXPECT_GT(generations.get("docs"), docs_before);
    EXPECT_GT(generations.get("unseen"), unseen_before);
    // A collection first bumped after bump_all still moves past what it reported before.
    const auto later_before = generations.get("later");
    EXPECT_GT(generations.bump("later"), later_before);
}

TEST(CollectionGenerations, AdvanceToNeverLowers) {
    CollectionGenerations generations;
    EXPECT_EQ(generations.advance_to("docs", 40), 40u);
    EXPECT_EQ(generations.advance_to("docs", 7), 40u);
    EXPECT_EQ(generations.bump("docs"), 41u);
}

TEST(CollectionGenerations, ConcurrentBumpsAreAllCounted) {
    CollectionGenerations generations;
    constexpr int kThreads = 4;
    constexpr int kBumps = 5000;
    std::vector<std::thread> threads;
    for (int thread_idx = 0; thread_idx < kThreads; ++thread_idx) {
        threads.emplace_back([&generations] {
            for (int bump_idx = 0; bump_idx < kBumps; ++bump_idx) {
                generations.bump("docs");
                (void)generations.get("docs");
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    EXPECT_EQ(generations.get("docs"), static_cast<std::uint64_t>(kThreads * kBumps));
}

}  // namespace
}  // namespace ragd::cache
