// The helpers of BM25 scoring that skips postings: the k-th largest with a floor, and the
// galloping search, each against a plain reference over random inputs.
#include "retrieval/pruned_scoring.hpp"

#include <algorithm>
#include <functional>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace ragd::retrieval {
namespace {

struct Entry {
    std::uint32_t doc = 0;
};

double reference_kth(std::vector<double> scores, std::size_t k, double floor) {
    std::erase_if(scores, [&](double score) { return score <= floor; });
    if (k == 0 || scores.size() < k) {
        return floor;
    }
    std::sort(scores.begin(), scores.end(), std::greater<>());
    return scores[k - 1];
}

TEST(KthLargest, MatchesSortingForEveryKAndFloor) {
    std::mt19937 random(11);
    std::uniform_real_distribution<double> score(0.0, 10.0);
    std::vector<double> heap;
    for (int round = 0; round < 500; ++round) {
        std::vector<double> scores(static_cast<std::size_t>(round % 60));
        for (double& value : scores) {
            // Some repeats, so that ties at the k-th place are covered.
            value = round % 3 == 0 ? static_cast<double>(static_cast<int>(score(random)))
                                   : score(random);
        }
        const std::size_t k = static_cast<std::size_t>(round % 7);
        const double floor = round % 4 == 0 ? -1.0 : score(random);
        KthLargest kth(heap, k, floor);
        for (double value : scores) {
            kth.offer(value);
        }
        EXPECT_EQ(kth.value(), reference_kth(scores, k, floor)) << "round " << round;
    }
}

TEST(KthLargest, FewerThanKAboveTheFloorGivesTheFloor) {
    std::vector<double> heap;
    KthLargest kth(heap, 3, 5.0);
    kth.offer(9.0);
    kth.offer(4.0);
    kth.offer(5.0);  // not above the floor
    kth.offer(7.0);
    EXPECT_EQ(kth.value(), 5.0);
    kth.offer(6.0);
    EXPECT_EQ(kth.value(), 6.0);
}

TEST(GallopTo, FindsTheFirstEntryNotBelowTheDocumentFromAnyStart) {
    std::mt19937 random(5);
    for (int round = 0; round < 300; ++round) {
        std::vector<Entry> list;
        std::uint32_t doc = 0;
        const int size = round % 90;
        for (int at = 0; at < size; ++at) {
            doc += 1 + static_cast<std::uint32_t>(random() % 5);
            list.push_back(Entry{doc});
        }
        const std::span<const Entry> view(list);
        for (std::size_t from = 0; from <= list.size(); ++from) {
            for (std::uint32_t want = 0; want <= doc + 2; want += 1 + want / 7) {
                auto expected = static_cast<std::size_t>(
                    std::find_if(list.begin() + static_cast<std::ptrdiff_t>(from),
                                 list.end(),
                                 [&](const Entry& entry) { return entry.doc >= want; }) -
                    list.begin());
                ASSERT_EQ(gallop_to(view, from, want), expected)
                    << "size " << list.size() << " from " << from << " want " << want;
            }
        }
    }
}

}  // namespace
}  // namespace ragd::retrieval
