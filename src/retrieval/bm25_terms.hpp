// Term extraction for ragd's in-memory BM25 index: words as Xapian's TermGenerator finds them
// (letters, digits and '_', inner apostrophes, "9.6", "C++"), lower-cased and Snowball-stemmed
// (English). Index and queries go through the same code, so they always agree on terms.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ragd::retrieval {

/// One stemmed term of a text and how often it counts (its within-document frequency share).
struct TermOccurrence {
    std::string_view stem;  ///< valid until this thread's extractor's next begin()
    std::uint32_t wdf = 0;
};

struct ExtractOptions {
    std::uint32_t wdf = 1;          ///< what each occurrence counts (title words count more)
    bool identifier_parts = false;  ///< "enable_seqscan" also yields "enable" and "seqscan"
    bool skip_stopwords = false;    ///< drop English function words (queries, when asked)
};

/// Per-thread term extraction: Xapian::Stem is not thread-safe, so each thread has its own
/// stemmer and word → stem cache (stemming is most of the cost of indexing a word).
class TermExtractor {
public:
    /// The calling thread's extractor.
    static TermExtractor& for_this_thread();

    ~TermExtractor();
    TermExtractor(const TermExtractor&) = delete;
    TermExtractor& operator=(const TermExtractor&) = delete;

    /// Starts a new batch of texts: stems returned before are invalidated (the cache may be
    /// trimmed here, never in the middle of a batch).
    void begin();
    /// Appends every term of `text` to `out`.
    void extract(std::string_view text,
                 const ExtractOptions& options,
                 std::vector<TermOccurrence>& out);

private:
    TermExtractor();
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace ragd::retrieval
