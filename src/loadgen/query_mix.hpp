// Which query text request number N sends: a set fraction repeat a query already sent (to give
// an answer cache a known hit rate), the rest are new. A pure function of N, so any number of
// threads can share one QueryMix through an atomic request counter.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ragd::loadgen {

class QueryMix {
public:
    /// `lines`: the query file's lines (blank lines and duplicates are dropped; empty means a
    /// few built-in questions). `repeat_fraction` in [0, 1] (clamped). `seed` picks which
    /// earlier query a repeat reuses.
    QueryMix(std::vector<std::string> lines, double repeat_fraction, std::uint64_t seed = 1);

    struct Pick {
        std::uint64_t unique_index = 0;  ///< which distinct query (0, 1, 2, ... in first-use order)
        bool repeat = false;             ///< reuses a query an earlier request used
    };

    /// Request `seq` (0, 1, 2, ...) repeats iff floor((seq+1)*F) > floor(seq*F), so exactly
    /// floor(n*F) of the first n requests repeat. A repeat reuses one of the distinct queries
    /// used before it, chosen uniformly; the others take the next distinct query.
    Pick pick(std::uint64_t seq) const;
    /// Text of distinct query `unique_index`: the lines in order, then again with a " #2",
    /// " #3", ... suffix on each further pass, so no two distinct indexes share a text.
    std::string text(std::uint64_t unique_index) const;
    /// text(pick(seq).unique_index).
    std::string query(std::uint64_t seq) const { return text(pick(seq).unique_index); }

    std::size_t line_count() const { return lines_.size(); }
    double repeat_fraction() const { return repeat_fraction_; }

private:
    std::vector<std::string> lines_;
    double repeat_fraction_;
    std::uint64_t seed_;
};

}  // namespace ragd::loadgen
