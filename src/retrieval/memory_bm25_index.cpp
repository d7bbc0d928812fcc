// ragd's own BM25 index: postings in memory, a snapshot file beside the database. Scores are
// Xapian's BM25Weight formula, so rankings match the Xapian backend's; a query walks plain
// arrays instead of reading B-tree blocks through pread, which made Xapian half of the CPU of
// an uncached query (bench/README.md).
//
// Concurrency: add/remove only tokenize and queue (under write_mutex_); commit applies the queue
// under an exclusive lock on the postings; searches hold a shared lock. So a search never sees
// half a commit, and tokenizing (the expensive part of indexing) never blocks a search.
#include "retrieval/memory_bm25_index.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <string_view>
#include <unordered_map>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "retrieval/bm25_snapshot.hpp"
#include "retrieval/bm25_terms.hpp"
#include "retrieval/flat_string_map.hpp"
#include "retrieval/pruned_scoring.hpp"

namespace ragd::retrieval {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSnapshotName = "bm25-memory.bin";
constexpr const char* kLockName = "bm25-memory.lock";
// Xapian's BM25 lower bound on a document's normalised length (ragd does not expose it).
constexpr double kMinNormLength = 0.5;
// Compact when dead postings outnumber live ones (and there are enough to matter).
constexpr std::size_t kMinDeadPostingsToCompact = 1 << 16;

struct Posting {
    std::uint32_t doc = 0;
    std::uint32_t wdf = 0;
};

/// A chunk's terms as queued by add(): term ids, sorted and merged.
struct PendingOp {
    enum class Kind { kAdd, kRemove, kClear } kind = Kind::kAdd;
    std::int64_t chunk_id = 0;
    std::string source;
    storage::Metadata metadata;
    std::vector<SnapshotTerm> terms;
};

/// A query term as scored: its BM25 weight and the most it can add to any document's score.
struct QueryTerm {
    std::uint32_t term = 0;
    double weight = 0;
    double bound = 0;
};

/// Per-thread scoring scratch: dense per-document accumulators, reused across queries.
struct ScoreScratch {
    /// A document's score and the query it belongs to, side by side: one memory access per
    /// posting instead of two.
    struct Accumulator {
        std::uint32_t stamp = 0;      ///< == round: score belongs to this query
        std::uint32_t candidate = 0;  ///< == round: in `candidates` (pruned search)
        double score = 0;
    };
    std::vector<Accumulator> accumulators;              ///< by document slot
    std::vector<std::pair<double, std::int64_t>> best;  ///< the top-k heap
    std::uint32_t round = 0;
    std::vector<std::uint32_t> touched;
    std::vector<std::int8_t> meta_ok;    ///< per metadata set: -1 unknown, 0 rejected, 1 accepted
    std::vector<QueryTerm> query_terms;  ///< by bound, largest first
    std::vector<double> remaining;       ///< [i]: sum of the bounds of query_terms[i..]
    std::vector<double> scores;          ///< for the k-th best score
    std::vector<std::uint32_t> candidates;  ///< after pruning: who can still make the top k
};

std::atomic<std::uint64_t> g_pruned_searches{0};

// A term's bound is computed in floating point like the parts it bounds; this slack keeps
// rounding from ever making a part exceed it.
constexpr double kBoundSlack = 1 + 1e-9;
// With more than this many postings per candidate, searching the postings for each candidate
// beats walking them all.
constexpr std::size_t kGallopRatio = 8;

ScoreScratch& score_scratch() {
    thread_local ScoreScratch scratch;
    return scratch;
}

std::string meta_key(const std::string& source, const storage::Metadata& metadata) {
    std::string key = std::to_string(source.size()) + ':' + source;
    for (const auto& [name, value] : metadata) {
        key +=
            std::to_string(name.size()) + ':' + name + std::to_string(value.size()) + ':' + value;
    }
    return key;
}

class MemoryBm25Index final : public Bm25Index {
public:
    MemoryBm25Index(fs::path dir, const Bm25Options& options, int lock_fd)
        : snapshot_path_(dir / kSnapshotName), options_(options), lock_fd_(lock_fd) {}

    ~MemoryBm25Index() override {
        (void)persist();  // best effort: a lost snapshot only means a longer catch-up
        ::close(lock_fd_);
    }

    MemoryBm25Index(const MemoryBm25Index&) = delete;
    MemoryBm25Index& operator=(const MemoryBm25Index&) = delete;

    /// Loads the snapshot if there is one; a damaged or foreign one is reported and ignored.
    void load(std::string* load_problem) {
        std::error_code ec;
        if (!fs::exists(snapshot_path_, ec)) {
            return;
        }
        auto snapshot = read_bm25_snapshot(snapshot_path_.string(), options_fingerprint());
        if (!snapshot) {
            if (load_problem != nullptr) {
                *load_problem = "BM25 index '" + snapshot_path_.string() +
                                "' could not be read and starts empty: " + snapshot.error().detail;
            }
            return;
        }
        std::unique_lock lock(data_mutex_);
        std::vector<std::uint32_t> term_ids;
        term_ids.reserve(snapshot->terms.size());
        for (const std::string& term : snapshot->terms) {
            term_ids.push_back(intern(term));
        }
        std::vector<std::uint32_t> meta_ids;
        meta_ids.reserve(snapshot->metas.size());
        for (auto& meta : snapshot->metas) {
            meta_ids.push_back(intern_meta(meta.source, meta.metadata));
        }
        for (auto& doc : snapshot->docs) {
            for (SnapshotTerm& term : doc.terms) {
                term.term = term_ids[term.term];
            }
            std::sort(doc.terms.begin(),
                      doc.terms.end(),
                      [](const SnapshotTerm& a, const SnapshotTerm& b) { return a.term < b.term; });
            erase_locked(doc.chunk_id);  // a valid file never repeats one; stay consistent anyway
            insert_locked(doc.chunk_id, meta_ids[doc.meta], std::move(doc.terms));
        }
        refresh_norms_locked();
        applied_seq_ = snapshot->applied_seq;
        committed_size_ = live_docs_;
        saved_seq_ = snapshot->applied_seq;
    }

    core::Result<void> add(const storage::IndexableChunk& chunk) override {
        PendingOp op;
        op.kind = PendingOp::Kind::kAdd;
        op.chunk_id = chunk.chunk.id;
        op.source = chunk.source;
        op.metadata = chunk.metadata;
        std::vector<TermOccurrence>& words = occurrence_scratch();
        words.clear();
        TermExtractor& extractor = TermExtractor::for_this_thread();
        extractor.begin();
        if (!chunk.title.empty()) {
            extractor.extract(chunk.title,
                              ExtractOptions{options_.title_wdf, options_.index_identifier_parts},
                              words);
        }
        for (const std::string& heading : chunk.chunk.heading_path) {
            if (heading != chunk.title) {
                extractor.extract(heading, ExtractOptions{options_.heading_wdf, false}, words);
            }
        }
        extractor.extract(
            chunk.chunk.text, ExtractOptions{1, options_.index_identifier_parts}, words);
        {
            std::lock_guard lock(dictionary_mutex_);
            op.terms.reserve(words.size());
            for (const TermOccurrence& word : words) {
                op.terms.push_back(SnapshotTerm{intern_unlocked(word.stem), word.wdf});
            }
        }
        merge_terms(op.terms);
        std::lock_guard lock(write_mutex_);
        pending_.push_back(std::move(op));
        return {};
    }

    core::Result<void> remove(std::int64_t chunk_id) override {
        std::lock_guard lock(write_mutex_);
        PendingOp op;
        op.kind = PendingOp::Kind::kRemove;
        op.chunk_id = chunk_id;
        pending_.push_back(std::move(op));
        return {};
    }

    core::Result<void> clear() override {
        std::lock_guard lock(write_mutex_);
        PendingOp op;
        op.kind = PendingOp::Kind::kClear;
        pending_.push_back(std::move(op));
        return {};
    }

    core::Result<void> commit(std::int64_t applied_seq) override {
        std::lock_guard write_lock(write_mutex_);
        std::unique_lock lock(data_mutex_);
        for (PendingOp& op : pending_) {
            switch (op.kind) {
                case PendingOp::Kind::kAdd:
                    erase_locked(op.chunk_id);
                    insert_locked(
                        op.chunk_id, intern_meta(op.source, op.metadata), std::move(op.terms));
                    break;
                case PendingOp::Kind::kRemove:
                    erase_locked(op.chunk_id);
                    break;
                case PendingOp::Kind::kClear:
                    clear_locked();
                    break;
            }
        }
        pending_.clear();
        if (dead_postings_ > kMinDeadPostingsToCompact && dead_postings_ > live_postings_) {
            compact_locked();
        }
        refresh_norms_locked();
        applied_seq_ = applied_seq;
        committed_size_ = live_docs_;
        return {};
    }

    std::int64_t applied_seq() const override { return applied_seq_.load(); }

    core::Result<void> persist() override {
        std::lock_guard persist_lock(persist_mutex_);
        Bm25Snapshot snapshot;
        {
            std::shared_lock lock(data_mutex_);
            if (applied_seq_.load() == saved_seq_) {
                return {};
            }
            snapshot = snapshot_locked();
        }
        if (auto written =
                write_bm25_snapshot(snapshot_path_.string(), snapshot, options_fingerprint());
            !written) {
            return written.error();
        }
        saved_seq_ = snapshot.applied_seq;
        return {};
    }

    core::Result<std::vector<Bm25Hit>> search(const std::string& query,
                                              std::size_t k,
                                              const SearchFilter& filter) const override {
        std::vector<Bm25Hit> hits;
        if (k == 0) {
            return hits;
        }
        std::vector<TermOccurrence>& words = occurrence_scratch();
        words.clear();
        TermExtractor& extractor = TermExtractor::for_this_thread();
        extractor.begin();
        extractor.extract(query, ExtractOptions{1, false, options_.query_stopwords}, words);
        if (words.empty()) {
            return hits;
        }
        // Query terms with their within-query frequency.
        std::vector<SnapshotTerm> terms;
        {
            std::lock_guard lock(dictionary_mutex_);
            for (const TermOccurrence& word : words) {
                if (const std::uint32_t* found =
                        dictionary_.find(word.stem, Dictionary::hash_of(word.stem))) {
                    terms.push_back(SnapshotTerm{*found, 1});
                }
            }
        }
        merge_terms(terms);

        std::shared_lock lock(data_mutex_);
        if (live_docs_ == 0 || terms.empty()) {
            return hits;
        }
        ScoreScratch& scratch = score_scratch();
        prepare(scratch);
        order_by_bound(terms, scratch);
        const std::vector<QueryTerm>& query_terms = scratch.query_terms;
        const std::vector<double>& remaining = scratch.remaining;
        // Term at a time, best bound first. Before each term after the first: if what the terms
        // left could add to any document is below the k-th best score so far (a lower bound on
        // the final k-th best), no document they have not touched yet can reach the top k, and
        // those left only need scoring for the documents that still can (prune_and_finish()).
        double most_so_far = 0;  // the most any document can have scored so far
        std::size_t next = 0;
        std::size_t first_term_docs = 0;
        double threshold = -1;  // a lower bound on the final k-th best score; -1: none yet
        bool pruned = false;
        for (; next < query_terms.size(); ++next) {
            if (options_.prune_by_bounds && next > 0 && remaining[next] < most_so_far) {
                threshold = kth_best_score(scratch, k, first_term_docs, threshold, filter);
                if (remaining[next] < threshold) {
                    prune_and_finish(scratch, next, threshold, k, filter);
                    g_pruned_searches.fetch_add(1, std::memory_order_relaxed);
                    pruned = true;
                    break;
                }
            }
            const QueryTerm& term = query_terms[next];
            // Postings of removed documents stay until compaction; they are scored like the
            // rest (a dead slot's length term is as good as any) and dropped below.
            for (const Posting& posting : postings_[term.term]) {
                ScoreScratch::Accumulator& slot = scratch.accumulators[posting.doc];
                if (slot.stamp != scratch.round) {
                    slot.stamp = scratch.round;
                    slot.score = 0;
                    scratch.touched.push_back(posting.doc);
                }
                slot.score += part(term, posting);
            }
            most_so_far += term.bound;
            if (next == 0) {
                first_term_docs = scratch.touched.size();
            }
        }
        // Best score first; equal scores by chunk id, as Xapian orders equal weights by docid.
        // `better` as a heap order keeps the worst of the best k on top.
        auto better = [](const auto& a, const auto& b) {
            return a.first != b.first ? a.first > b.first : a.second < b.second;
        };
        auto& best = scratch.best;
        best.clear();
        for (std::uint32_t doc : pruned ? scratch.candidates : scratch.touched) {
            if (!eligible(scratch, doc, filter)) {
                continue;
            }
            std::pair<double, std::int64_t> candidate{scratch.accumulators[doc].score,
                                                      chunk_ids_[doc]};
            if (best.size() < k) {
                best.push_back(candidate);
                std::push_heap(best.begin(), best.end(), better);
            } else if (better(candidate, best.front())) {
                std::pop_heap(best.begin(), best.end(), better);
                best.back() = candidate;
                std::push_heap(best.begin(), best.end(), better);
            }
        }
        std::sort_heap(best.begin(), best.end(), better);
        hits.reserve(best.size());
        for (const auto& [score, chunk_id] : best) {
            hits.push_back(Bm25Hit{chunk_id, score});
        }
        return hits;
    }

    std::size_t size() const override { return committed_size_.load(); }

    std::uint64_t disk_bytes() const override {
        std::error_code ec;
        auto bytes = fs::file_size(snapshot_path_, ec);
        return ec ? 0 : bytes;
    }

    core::Result<std::vector<std::int64_t>> chunk_ids() const override {
        std::shared_lock lock(data_mutex_);
        std::vector<std::int64_t> ids;
        ids.reserve(live_docs_);
        for (std::size_t doc = 0; doc < chunk_ids_.size(); ++doc) {
            if (live_[doc] != 0) {
                ids.push_back(chunk_ids_[doc]);
            }
        }
        std::sort(ids.begin(), ids.end());
        return ids;
    }

private:
    struct Meta {
        std::string source;
        storage::Metadata metadata;
    };

    static std::vector<TermOccurrence>& occurrence_scratch() {
        thread_local std::vector<TermOccurrence> words;
        return words;
    }

    std::uint64_t options_fingerprint() const {
        // Options that change what is indexed; k1, b and stopwords only affect queries.
        return (std::uint64_t{options_.title_wdf} << 32) ^
               (std::uint64_t{options_.heading_wdf} << 8) ^
               (options_.index_identifier_parts ? 1 : 0);
    }

    /// Xapian's BM25 term weight: idf (kept positive for very common terms the way Xapian does)
    /// × (k1 + 1). A word repeated in the query counts once per occurrence, as in Xapian, where
    /// each occurrence is its own leaf of the OR query with wqf 1 (so k3's saturation, which
    /// applies per leaf, never comes into play).
    double term_weight(double docs, std::uint32_t doc_freq, std::uint32_t occurrences) const {
        double ratio = (docs - doc_freq + 0.5) / (doc_freq + 0.5);
        if (ratio < 2) {
            ratio = ratio * 0.5 + 1;
        }
        return std::log(ratio) * (options_.k1 + 1) * occurrences;
    }

    /// Each document's BM25 length term, k1 × ((1 − b) + b × normalised length): it depends on
    /// the average length, so it is recomputed per commit rather than per posting per query.
    void refresh_norms_locked() {
        const double length_factor =
            live_docs_ == 0 ? 0.0
                            : static_cast<double>(live_docs_) /
                                  static_cast<double>(std::max<std::uint64_t>(total_length_, 1));
        length_norm_.resize(doc_length_.size());
        min_norm_ = std::numeric_limits<double>::infinity();
        for (std::size_t doc = 0; doc < doc_length_.size(); ++doc) {
            double norm_length = std::max(doc_length_[doc] * length_factor, kMinNormLength);
            length_norm_[doc] = options_.k1 * (norm_length * options_.b + (1 - options_.b));
            min_norm_ = std::min(min_norm_, length_norm_[doc]);
        }
        if (length_norm_.empty()) {
            min_norm_ = 0;
        }
    }

    /// Sorts by term id and adds up repeated terms' wdf.
    static void merge_terms(std::vector<SnapshotTerm>& terms) {
        std::sort(terms.begin(), terms.end(), [](const SnapshotTerm& a, const SnapshotTerm& b) {
            return a.term < b.term;
        });
        std::size_t out = 0;
        for (std::size_t at = 0; at < terms.size(); ++at) {
            if (out > 0 && terms[out - 1].term == terms[at].term) {
                terms[out - 1].wdf += terms[at].wdf;
            } else {
                terms[out++] = terms[at];
            }
        }
        terms.resize(out);
    }

    void prepare(ScoreScratch& scratch) const {
        if (scratch.accumulators.size() < chunk_ids_.size()) {
            scratch.accumulators.resize(chunk_ids_.size());
        }
        if (++scratch.round == 0) {  // wrapped: old stamps could alias the new round
            for (auto& slot : scratch.accumulators) {
                slot.stamp = 0;
                slot.candidate = 0;
            }
            scratch.round = 1;
        }
        scratch.touched.clear();
        scratch.meta_ok.assign(metas_.size(), -1);
    }

    bool accepts(ScoreScratch& scratch, std::uint32_t meta, const SearchFilter& filter) const {
        std::int8_t& known = scratch.meta_ok[meta];
        if (known < 0) {
            known = filter_accepts(filter, metas_[meta].source, metas_[meta].metadata) ? 1 : 0;
        }
        return known == 1;
    }

    bool eligible(ScoreScratch& scratch, std::uint32_t doc, const SearchFilter& filter) const {
        return live_[doc] != 0 && (filter.empty() || accepts(scratch, doc_meta_[doc], filter));
    }

    /// Fills scratch.query_terms (largest bound first) and scratch.remaining. A part is
    /// weight × wdf / (norm + wdf), which grows with wdf and shrinks with norm, so the term's
    /// largest wdf over the smallest norm bounds it.
    void order_by_bound(const std::vector<SnapshotTerm>& terms, ScoreScratch& scratch) const {
        const double docs = static_cast<double>(live_docs_);
        std::vector<QueryTerm>& query_terms = scratch.query_terms;
        query_terms.clear();
        for (const SnapshotTerm& term : terms) {
            if (term.term >= postings_.size() || doc_freq_[term.term] == 0) {
                continue;
            }
            QueryTerm scored;
            scored.term = term.term;
            scored.weight = term_weight(docs, doc_freq_[term.term], term.wdf);
            const double most_wdf = max_wdf_[term.term];
            scored.bound =
                most_wdf == 0 ? 0 : scored.weight * most_wdf / (min_norm_ + most_wdf) * kBoundSlack;
            query_terms.push_back(scored);
        }
        std::sort(query_terms.begin(), query_terms.end(), [](const auto& a, const auto& b) {
            return a.bound != b.bound ? a.bound > b.bound : a.term < b.term;
        });
        scratch.remaining.assign(query_terms.size() + 1, 0.0);
        for (std::size_t at = query_terms.size(); at-- > 0;) {
            scratch.remaining[at] = scratch.remaining[at + 1] + query_terms[at].bound;
        }
    }

    /// A lower bound on the final k-th best score (at least `floor`, an earlier one): the k-th
    /// best current score among the first documents touched (those of the best terms, where
    /// the top k usually is). Any subset gives a lower bound, scores only grow, and a small one
    /// keeps this check cheap next to the postings it may save.
    double kth_best_score(ScoreScratch& scratch,
                          std::size_t k,
                          std::size_t sample,
                          double floor,
                          const SearchFilter& filter) const {
        KthLargest kth(scratch.scores, k, floor);
        const std::size_t end = std::min(scratch.touched.size(), std::max(sample, k * 8));
        for (std::size_t at = 0; at < end; ++at) {
            const std::uint32_t doc = scratch.touched[at];
            if (eligible(scratch, doc, filter)) {
                kth.offer(scratch.accumulators[doc].score);
            }
        }
        return kth.value();
    }

    /// Keeps the eligible documents that can still reach `threshold` with what query_terms[next..]
    /// may add (the rest end below the k-th best score, so outside the top k even on ties), and
    /// adds those terms' parts to them alone. After each term the threshold is raised to the
    /// k-th best of the kept scores and the set shrinks again. Parts are added in the same term
    /// order as the unpruned loop, so every score kept is bit for bit what it would have been.
    void prune_and_finish(ScoreScratch& scratch,
                          std::size_t next,
                          double threshold,
                          std::size_t k,
                          const SearchFilter& filter) const {
        std::vector<std::uint32_t>& candidates = scratch.candidates;
        candidates.clear();
        const double can_add = scratch.remaining[next];
        for (std::uint32_t doc : scratch.touched) {
            if (scratch.accumulators[doc].score + can_add >= threshold &&
                eligible(scratch, doc, filter)) {
                candidates.push_back(doc);
                scratch.accumulators[doc].candidate = scratch.round;
            }
        }
        bool sorted = false;
        for (std::size_t at = next; at < scratch.query_terms.size(); ++at) {
            const QueryTerm& term = scratch.query_terms[at];
            if (candidates.size() * kGallopRatio < postings_[term.term].size()) {
                if (!sorted) {
                    std::sort(candidates.begin(), candidates.end());
                    sorted = true;
                }
                search_candidates_in_postings(scratch, term);
            } else {
                scan_postings_for_candidates(scratch, term);
            }
            threshold = kth_best_of(scratch, candidates, k, threshold);
            const double still_can_add = scratch.remaining[at + 1];
            std::erase_if(candidates, [&](std::uint32_t doc) {
                ScoreScratch::Accumulator& slot = scratch.accumulators[doc];
                if (slot.score + still_can_add < threshold) {
                    slot.candidate = 0;
                    return true;
                }
                return false;
            });
        }
    }

    /// One posting's share of a document's score. Both scoring loops use this one expression,
    /// which is what makes pruned and unpruned scores equal to the bit.
    double part(const QueryTerm& term, const Posting& posting) const {
        const double wdf = posting.wdf;
        return term.weight * wdf / (length_norm_[posting.doc] + wdf);
    }

    /// Few candidates, long postings: a galloping search for each (candidates in document order).
    void search_candidates_in_postings(ScoreScratch& scratch, const QueryTerm& term) const {
        const std::vector<Posting>& list = postings_[term.term];
        std::size_t pos = 0;
        for (std::uint32_t doc : scratch.candidates) {
            pos = gallop_to(std::span<const Posting>(list), pos, doc);
            if (pos == list.size()) {
                return;
            }
            if (list[pos].doc == doc) {
                scratch.accumulators[doc].score += part(term, list[pos]);
            }
        }
    }

    /// Many candidates: walk the postings and score only the marked ones.
    void scan_postings_for_candidates(ScoreScratch& scratch, const QueryTerm& term) const {
        for (const Posting& posting : postings_[term.term]) {
            ScoreScratch::Accumulator& slot = scratch.accumulators[posting.doc];
            if (slot.candidate == scratch.round) {
                slot.score += part(term, posting);
            }
        }
    }

    static double kth_best_of(ScoreScratch& scratch,
                              const std::vector<std::uint32_t>& docs,
                              std::size_t k,
                              double floor) {
        KthLargest kth(scratch.scores, k, floor);
        for (std::uint32_t doc : docs) {
            kth.offer(scratch.accumulators[doc].score);
        }
        return kth.value();
    }

    std::uint32_t intern(const std::string& term) {
        std::lock_guard lock(dictionary_mutex_);
        return intern_unlocked(term);
    }

    /// Term id of `term`, adding it; dictionary_mutex_ held. Ids are never reused, so a term id
    /// taken before a commit stays valid after it.
    std::uint32_t intern_unlocked(std::string_view term) {
        const std::uint64_t hash = Dictionary::hash_of(term);
        if (const std::uint32_t* found = dictionary_.find(term, hash)) {
            return *found;
        }
        const std::string& stored = term_strings_.emplace_back(term);
        auto id = static_cast<std::uint32_t>(term_strings_.size() - 1);
        dictionary_.insert(stored, hash, id);
        return id;
    }

    std::uint32_t intern_meta(const std::string& source, const storage::Metadata& metadata) {
        auto [it, added] = meta_ids_.try_emplace(meta_key(source, metadata),
                                                 static_cast<std::uint32_t>(metas_.size()));
        if (added) {
            metas_.push_back(Meta{source, metadata});
        }
        return it->second;
    }

    void insert_locked(std::int64_t chunk_id, std::uint32_t meta, std::vector<SnapshotTerm> terms) {
        auto doc = static_cast<std::uint32_t>(chunk_ids_.size());
        std::uint64_t length = 0;
        for (const SnapshotTerm& term : terms) {
            if (term.term >= postings_.size()) {
                postings_.resize(term.term + 1);
                doc_freq_.resize(term.term + 1, 0);
                max_wdf_.resize(term.term + 1, 0);
            }
            postings_[term.term].push_back(Posting{doc, term.wdf});
            max_wdf_[term.term] = std::max(max_wdf_[term.term], term.wdf);
            ++doc_freq_[term.term];
            length += term.wdf;
        }
        chunk_ids_.push_back(chunk_id);
        doc_length_.push_back(static_cast<double>(length));
        live_.push_back(1);
        doc_meta_.push_back(meta);
        live_postings_ += terms.size();
        forward_.push_back(std::move(terms));
        slot_of_.insert_or_assign(chunk_id, doc);
        total_length_ += length;
        ++live_docs_;
    }

    void erase_locked(std::int64_t chunk_id) {
        auto found = slot_of_.find(chunk_id);
        if (found == slot_of_.end()) {
            return;
        }
        std::uint32_t doc = found->second;
        slot_of_.erase(found);
        live_[doc] = 0;
        for (const SnapshotTerm& term : forward_[doc]) {
            --doc_freq_[term.term];
        }
        total_length_ -= static_cast<std::uint64_t>(doc_length_[doc]);
        live_postings_ -= forward_[doc].size();
        dead_postings_ += forward_[doc].size();
        forward_[doc].clear();
        forward_[doc].shrink_to_fit();
        --live_docs_;
    }

    void clear_locked() {
        postings_.clear();
        doc_freq_.clear();
        max_wdf_.clear();
        chunk_ids_.clear();
        doc_length_.clear();
        length_norm_.clear();
        live_.clear();
        doc_meta_.clear();
        forward_.clear();
        slot_of_.clear();
        metas_.clear();
        meta_ids_.clear();
        total_length_ = 0;
        live_docs_ = 0;
        live_postings_ = 0;
        dead_postings_ = 0;
    }

    /// Renumbers the live documents densely and drops dead postings and unused metadata sets.
    void compact_locked() {
        std::vector<std::int64_t> chunk_ids;
        std::vector<std::uint32_t> metas;
        std::vector<std::vector<SnapshotTerm>> forward;
        for (std::size_t doc = 0; doc < chunk_ids_.size(); ++doc) {
            if (live_[doc] != 0) {
                chunk_ids.push_back(chunk_ids_[doc]);
                metas.push_back(doc_meta_[doc]);
                forward.push_back(std::move(forward_[doc]));
            }
        }
        std::vector<Meta> old_metas = std::move(metas_);
        clear_locked();
        std::vector<std::uint32_t> new_meta(old_metas.size(), ~0U);
        for (std::size_t at = 0; at < chunk_ids.size(); ++at) {
            std::uint32_t& meta = new_meta[metas[at]];
            if (meta == ~0U) {
                meta = intern_meta(old_metas[metas[at]].source, old_metas[metas[at]].metadata);
            }
            insert_locked(chunk_ids[at], meta, std::move(forward[at]));
        }
    }

    Bm25Snapshot snapshot_locked() const {
        Bm25Snapshot snapshot;
        snapshot.applied_seq = applied_seq_.load();
        // Only the terms live documents use, renumbered densely.
        std::vector<std::uint32_t> term_map(postings_.size(), ~0U);
        std::vector<std::uint32_t> meta_map(metas_.size(), ~0U);
        std::lock_guard lock(dictionary_mutex_);
        for (std::size_t doc = 0; doc < chunk_ids_.size(); ++doc) {
            if (live_[doc] == 0) {
                continue;
            }
            SnapshotDoc out;
            out.chunk_id = chunk_ids_[doc];
            std::uint32_t& meta = meta_map[doc_meta_[doc]];
            if (meta == ~0U) {
                meta = static_cast<std::uint32_t>(snapshot.metas.size());
                snapshot.metas.push_back(
                    SnapshotMeta{metas_[doc_meta_[doc]].source, metas_[doc_meta_[doc]].metadata});
            }
            out.meta = meta;
            out.terms.reserve(forward_[doc].size());
            for (const SnapshotTerm& term : forward_[doc]) {
                std::uint32_t& mapped = term_map[term.term];
                if (mapped == ~0U) {
                    mapped = static_cast<std::uint32_t>(snapshot.terms.size());
                    snapshot.terms.push_back(term_strings_[term.term]);
                }
                out.terms.push_back(SnapshotTerm{mapped, term.wdf});
            }
            snapshot.docs.push_back(std::move(out));
        }
        return snapshot;
    }

    const fs::path snapshot_path_;
    const Bm25Options options_;
    const int lock_fd_;  ///< holds the flock that keeps a second writer out

    std::mutex write_mutex_;
    std::vector<PendingOp> pending_;  ///< guarded by write_mutex_

    /// Term strings and their ids; ids are assigned by add() before commit, so the dictionary
    /// has its own lock and may hold terms no committed document uses yet.
    mutable std::mutex dictionary_mutex_;
    std::deque<std::string> term_strings_;
    using Dictionary = FlatStringMap<std::uint32_t>;
    Dictionary dictionary_;  ///< term → id; keys point into term_strings_ (a deque: stable)

    /// Everything below is guarded by data_mutex_ (shared for searches).
    mutable std::shared_mutex data_mutex_;
    std::vector<std::vector<Posting>> postings_;  ///< by term id, in document order
    std::vector<std::uint32_t> doc_freq_;         ///< live documents per term id
    std::vector<std::uint32_t> max_wdf_;   ///< largest wdf in a term's postings (dead ones too)
    std::vector<std::int64_t> chunk_ids_;  ///< by document slot
    std::vector<double> doc_length_;       ///< sum of wdf, by slot
    std::vector<double> length_norm_;      ///< by slot, see refresh_norms_locked()
    double min_norm_ = 0;                  ///< smallest of length_norm_
    std::vector<std::uint8_t> live_;       ///< by slot; 0 once removed or replaced
    std::vector<std::uint32_t> doc_meta_;  ///< by slot, index into metas_
    std::vector<std::vector<SnapshotTerm>> forward_;           ///< by slot: its terms, for removal
    std::unordered_map<std::int64_t, std::uint32_t> slot_of_;  ///< live chunk id → slot
    std::vector<Meta> metas_;
    std::unordered_map<std::string, std::uint32_t> meta_ids_;
    std::uint64_t total_length_ = 0;
    std::size_t live_docs_ = 0;
    std::size_t live_postings_ = 0;
    std::size_t dead_postings_ = 0;

    std::atomic<std::int64_t> applied_seq_{0};
    std::atomic<std::size_t> committed_size_{0};
    std::mutex persist_mutex_;
    std::int64_t saved_seq_ = 0;  ///< guarded by persist_mutex_: the seq the snapshot file holds
};

}  // namespace

core::Result<std::unique_ptr<Bm25Index>> open_memory_bm25_index(const std::string& dir,
                                                                const Bm25Options& options,
                                                                std::string* load_problem) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
        return core::fail(core::ErrorCode::kIo, "cannot create '" + dir + "': " + ec.message());
    }
    fs::path lock_path = fs::path(dir) / kLockName;
    int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        return core::fail(core::ErrorCode::kIo,
                          "cannot open '" + lock_path.string() + "': " + std::strerror(errno));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int error = errno;
        ::close(fd);
        if (error == EWOULDBLOCK) {
            return core::fail(core::ErrorCode::kConflict,
                              "BM25 index in '" + dir + "' is locked by another writer");
        }
        return core::fail(core::ErrorCode::kIo,
                          "cannot lock '" + lock_path.string() + "': " + std::strerror(error));
    }
    auto index = std::make_unique<MemoryBm25Index>(fs::path(dir), options, fd);
    index->load(load_problem);
    return std::unique_ptr<Bm25Index>(std::move(index));
}

std::uint64_t memory_bm25_pruned_searches() {
    return g_pruned_searches.load(std::memory_order_relaxed);
}

}  // namespace ragd::retrieval
