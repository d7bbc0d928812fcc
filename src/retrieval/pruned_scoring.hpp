// Building blocks of BM25 scoring that skips postings (memory_bm25_index.cpp): the k-th best
// score seen, as a running lower bound on the final k-th best, and a galloping search through
// postings kept in document order.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace ragd::retrieval {

/// The k-th largest of the scores offered, or `floor` when fewer than k were above it: a
/// min-heap of the k largest so far. Scores at or below the floor (a lower bound known already)
/// cost one comparison, and so do most others once the heap is full. `heap` is the caller's
/// (reused scratch, so a query allocates nothing here).
class KthLargest {
public:
    KthLargest(std::vector<double>& heap, std::size_t k, double floor)
        : heap_(heap), k_(k), floor_(floor) {
        heap_.clear();
    }

    void offer(double score) {
        if (score <= floor_ || k_ == 0) {
            return;
        }
        if (heap_.size() < k_) {
            heap_.push_back(score);
            std::push_heap(heap_.begin(), heap_.end(), std::greater<>());
        } else if (score > heap_.front()) {
            std::pop_heap(heap_.begin(), heap_.end(), std::greater<>());
            heap_.back() = score;
            std::push_heap(heap_.begin(), heap_.end(), std::greater<>());
        }
    }

    double value() const { return heap_.size() < k_ || k_ == 0 ? floor_ : heap_.front(); }

private:
    std::vector<double>& heap_;
    const std::size_t k_;
    const double floor_;
};

/// First position at or after `from` whose `doc` is not below `doc` (list.size() if none), in
/// entries sorted by `doc`: steps of 1, 2, 4... from `from`, then a binary search in the last
/// step, so finding the next of a few wanted documents in a long list costs O(log distance).
template <class Entry>
std::size_t gallop_to(std::span<const Entry> list, std::size_t from, std::uint32_t doc) {
    std::size_t low = from;
    std::size_t step = 1;
    std::size_t high = from;
    while (high < list.size() && list[high].doc < doc) {
        low = high + 1;
        high += step;
        step *= 2;
    }
    high = std::min(high, list.size());
    const auto begin = list.begin();
    return static_cast<std::size_t>(
        std::lower_bound(begin + static_cast<std::ptrdiff_t>(low),
                         begin + static_cast<std::ptrdiff_t>(high),
                         doc,
                         [](const Entry& entry, std::uint32_t want) { return entry.doc < want; }) -
        begin);
}

}  // namespace ragd::retrieval
