#include "storage/stats_by_seq.hpp"

namespace ragd::storage {

core::Result<StorageStats> StatsBySeq::get() {
    auto seq = last_seq_();
    if (!seq) {
        return seq.error();
    }
    {
        std::lock_guard lock(mutex_);
        if (counted_ && counted_->last_seq == *seq) {
            return *counted_;
        }
    }
    // Counted outside the lock: a slow count must not hold up a scrape that could be answered
    // from memory.
    auto stats = stats_();
    if (!stats) {
        return stats.error();
    }
    std::lock_guard lock(mutex_);
    if (!counted_ || counted_->last_seq <= stats->last_seq) {
        counted_ = *stats;
    }
    return stats;
}

}  // namespace ragd::storage
