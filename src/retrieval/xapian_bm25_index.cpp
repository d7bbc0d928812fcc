// Xapian glass BM25 index. One WritableDatabase behind a mutex takes every write; searches read
// through a pool of read-only Database handles, so a long commit never blocks a query.
#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <string>

#include <xapian.h>

#include "retrieval/bm25_index.hpp"

namespace ragd::retrieval {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSeqKey = "ragd_applied_seq";
/// Layout of the index (docid = chunk id, no positions, stemmed terms only); a different value
/// means rebuild. "2" also held every word unstemmed, which doubled the postings to write.
constexpr const char* kFormatKey = "ragd_format";
constexpr const char* kFormat = "3";
constexpr std::uint64_t kMaxCheckedBytes = 256ULL << 20;
constexpr std::int64_t kMaxDocid = 0xFFFFFFFF;
constexpr Xapian::valueno kSourceSlot = 0;
// Xapian rejects terms over 245 bytes; longer filter terms are replaced by a hash.
constexpr std::size_t kMaxTermBytes = 240;
constexpr int kSearchAttempts = 4;

std::string hex64(std::uint64_t value) {
    static const char* kDigits = "0123456789abcdef";
    std::string out(16, '0');
    for (int pos = 15; pos >= 0; --pos) {
        out[static_cast<std::size_t>(pos)] = kDigits[value & 0xf];
        value >>= 4;
    }
    return out;
}

std::uint64_t fnv1a64(std::string_view bytes) {
    std::uint64_t hash = 0xcbf29ce484222325ULL;
    for (unsigned char c : bytes) {
        hash = (hash ^ c) * 0x100000001b3ULL;
    }
    return hash;
}

/// "XM<keylen>:<key>=<value>": the length makes "a=b"+"c" and "a"+"b=c" different terms.
std::string metadata_term(const std::string& key, const std::string& value) {
    std::string term = "XM";
    term += std::to_string(key.size());
    term += ':';
    term += key;
    term += '=';
    term += value;
    if (term.size() > kMaxTermBytes) {
        // Two independent 64-bit hashes make an accidental match practically impossible.
        term = "XMH" + hex64(fnv1a64(term)) + hex64(fnv1a64(term + "#"));
    }
    return term;
}

/// Identifiers like enable_seqscan are one Xapian term; their parts are what prose queries say.
std::string identifier_parts(const std::string& text) {
    std::string parts;
    std::size_t pos = 0;
    while (pos < text.size()) {
        auto is_word = [&](std::size_t at) {
            auto c = static_cast<unsigned char>(text[at]);
            return std::isalnum(c) || c == '_' || c >= 0x80;
        };
        if (!is_word(pos)) {
            ++pos;
            continue;
        }
        std::size_t begin = pos;
        bool has_underscore = false;
        while (pos < text.size() && is_word(pos)) {
            has_underscore = has_underscore || text[pos] == '_';
            ++pos;
        }
        if (has_underscore) {
            for (std::size_t at = begin; at < pos; ++at) {
                parts.push_back(text[at] == '_' ? ' ' : text[at]);
            }
            parts.push_back('\n');
        }
    }
    return parts;
}

/// Smallest string greater than every string with `prefix`; empty if none exists.
std::string prefix_upper_bound(std::string prefix) {
    while (!prefix.empty()) {
        auto last = static_cast<unsigned char>(prefix.back());
        if (last != 0xff) {
            prefix.back() = static_cast<char>(last + 1);
            return prefix;
        }
        prefix.pop_back();
    }
    return prefix;
}

std::uint64_t directory_bytes(const fs::path& dir) {
    std::uint64_t total = 0;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        std::error_code size_ec;
        auto size = it->file_size(size_ec);
        if (!size_ec) {
            total += size;
        }
    }
    return total;
}

std::int64_t parse_seq(const std::string& text) {
    std::int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    return (ec == std::errc() && end == text.data() + text.size()) ? value : 0;
}

class XapianBm25Index final : public Bm25Index {
public:
    XapianBm25Index(std::string path, const Bm25Options& options)
        : path_(std::move(path)), options_(options) {}

    /// Opens (creating) the database and reads its state; throws Xapian::Error.
    void open(int flags) {
        // Damage inside a table can open cleanly and only fail (or silently miss) at query time,
        // so verify every table before trusting the index. Bounded: past kMaxCheckedBytes the
        // check would slow startup more than a rebuild costs.
        if (fs::exists(path_) && directory_bytes(path_) <= kMaxCheckedBytes) {
            std::ostringstream report;
            std::size_t errors =
                Xapian::Database::check(path_, Xapian::DBCHECK_SHORT_TREE, &report);
            if (errors > 0) {
                throw Xapian::DatabaseCorruptError(std::to_string(errors) +
                                                   " errors found by the table check");
            }
        }
        writer_ = std::make_unique<Xapian::WritableDatabase>(path_, flags);
        applied_seq_ = parse_seq(writer_->get_metadata(kSeqKey));
        committed_size_ = writer_->get_doccount();
        std::string format = writer_->get_metadata(kFormatKey);
        if (format != kFormat && (committed_size_ > 0 || applied_seq_ > 0)) {
            throw Xapian::DatabaseCorruptError(
                "index layout '" + format + "' is not the current '" + std::string(kFormat) + "'");
        }
        // Touch the posting and term tables too: a damaged table may open but fail on read.
        Xapian::Enquire probe(*writer_);
        probe.set_query(Xapian::Query::MatchAll);
        auto mset = probe.get_mset(0, 1);
        if (!mset.empty()) {
            (void)mset.begin().get_document().get_data();
        }
        generator_.set_stemmer(Xapian::Stem("english"));
        // Stemmed terms only (Z-prefixed), no unstemmed copy of every word: half the postings
        // to write, and on pgdocs BM25 nDCG@10 rose (0.477 -> 0.494; see bench/README.md),
        // since a capitalised query word now also matches its inflections.
        generator_.set_stemming_strategy(Xapian::TermGenerator::STEM_ALL_Z);
    }

    core::Result<void> add(const storage::IndexableChunk& chunk) override {
        Xapian::Document doc;
        // The Xapian docid is the chunk id: replacing and deleting by docid is a direct write,
        // while replace-by-unique-term had to look the term up through pending changes.
        if (chunk.chunk.id <= 0 || chunk.chunk.id > kMaxDocid) {
            return core::fail(
                core::ErrorCode::kUnsupported,
                "chunk id " + std::to_string(chunk.chunk.id) + " does not fit a BM25 document id");
        }
        const auto docid = static_cast<Xapian::docid>(chunk.chunk.id);
        for (const auto& [key, value] : chunk.metadata) {
            doc.add_boolean_term(metadata_term(key, value));
        }
        doc.add_value(kSourceSlot, chunk.source);
        std::lock_guard lock(write_mutex_);
        try {
            // No positional data: BM25 does not use it, and positions were over half of the
            // indexing time and of the index size. Quoted phrases match as all-words (AND).
            generator_.set_document(doc);
            if (!chunk.title.empty()) {
                generator_.index_text_without_positions(chunk.title, options_.title_wdf);
            }
            for (const std::string& heading : chunk.chunk.heading_path) {
                if (heading == chunk.title) {
                    continue;
                }
                generator_.index_text_without_positions(heading, options_.heading_wdf);
            }
            generator_.index_text_without_positions(chunk.chunk.text);
            if (options_.index_identifier_parts) {
                std::string parts = identifier_parts(chunk.title);
                parts += identifier_parts(chunk.chunk.text);
                if (!parts.empty()) {
                    generator_.index_text_without_positions(parts);
                }
            }
            writer_->replace_document(docid, doc);
        } catch (const Xapian::Error& e) {
            return core::fail(core::ErrorCode::kIo,
                              "BM25 index add of chunk " + std::to_string(chunk.chunk.id) +
                                  " failed: " + e.get_description());
        }
        return {};
    }

    core::Result<void> remove(std::int64_t chunk_id) override {
        std::lock_guard lock(write_mutex_);
        if (chunk_id <= 0 || chunk_id > kMaxDocid) {
            return {};  // never added
        }
        try {
            writer_->delete_document(static_cast<Xapian::docid>(chunk_id));
        } catch (const Xapian::DocNotFoundError&) {
            // Removing an absent chunk is a no-op (catch-up replays changes).
        } catch (const Xapian::Error& e) {
            return core::fail(core::ErrorCode::kIo,
                              "BM25 index remove of chunk " + std::to_string(chunk_id) +
                                  " failed: " + e.get_description());
        }
        return {};
    }

    core::Result<void> commit(std::int64_t applied_seq) override {
        std::lock_guard lock(write_mutex_);
        try {
            writer_->set_metadata(kSeqKey, std::to_string(applied_seq));
            writer_->set_metadata(kFormatKey, kFormat);
            writer_->commit();
            committed_size_ = writer_->get_doccount();
        } catch (const Xapian::Error& e) {
            return core::fail(core::ErrorCode::kIo,
                              "BM25 index commit at seq " + std::to_string(applied_seq) +
                                  " failed: " + e.get_description());
        }
        applied_seq_ = applied_seq;
        generation_.fetch_add(1);
        return {};
    }

    std::int64_t applied_seq() const override { return applied_seq_.load(); }

    core::Result<std::vector<Bm25Hit>> search(const std::string& query,
                                              std::size_t k,
                                              const SearchFilter& filter) const override {
        std::vector<Bm25Hit> hits;
        if (k == 0) {
            return hits;
        }
        Xapian::Query parsed = parse(query, Xapian::QueryParser::FLAG_DEFAULT);
        if (parsed.empty()) {
            return hits;
        }
        auto found = run(apply_filter(parsed, filter), k);
        if (found && found->empty() && query.find('"') != std::string::npos) {
            // An unclosed or over-strict quoted phrase matched nothing: fall back to the words.
            Xapian::Query words = parse(query, 0);
            if (!words.empty()) {
                return run(apply_filter(words, filter), k);
            }
        }
        return found;
    }

    std::size_t size() const override { return committed_size_.load(); }

    std::uint64_t disk_bytes() const override { return directory_bytes(path_); }

    core::Result<void> clear() override {
        std::lock_guard lock(write_mutex_);
        try {
            std::vector<Xapian::docid> ids;
            for (auto it = writer_->postlist_begin(""); it != writer_->postlist_end(""); ++it) {
                ids.push_back(*it);
            }
            for (Xapian::docid id : ids) {
                writer_->delete_document(id);
            }
        } catch (const Xapian::Error& e) {
            return core::fail(core::ErrorCode::kIo,
                              "BM25 index clear failed: " + e.get_description());
        }
        return {};
    }

    core::Result<std::vector<std::int64_t>> chunk_ids() const override {
        std::vector<std::int64_t> ids;
        try {
            // A reader of its own sees the committed revision only, as searches do.
            Xapian::Database db(path_);
            ids.reserve(db.get_doccount());
            for (auto it = db.postlist_begin(""); it != db.postlist_end(""); ++it) {
                ids.push_back(static_cast<std::int64_t>(*it));
            }
        } catch (const Xapian::Error& e) {
            return core::fail(core::ErrorCode::kIo,
                              "listing the chunk ids of BM25 index '" + path_ +
                                  "' failed: " + e.get_description());
        }
        return ids;  // the all-documents posting list is in docid order
    }

private:
    struct Reader {
        std::unique_ptr<Xapian::Database> db;
        std::uint64_t generation = 0;
    };

    core::Result<std::vector<Bm25Hit>> run(const Xapian::Query& full, std::size_t k) const {
        std::vector<Bm25Hit> hits;
        Reader reader = acquire_reader();
        if (!reader.db) {
            return core::fail(core::ErrorCode::kIo,
                              "cannot open BM25 index '" + path_ + "' for reading");
        }
        std::string last_error;
        for (int attempt = 0; attempt < kSearchAttempts; ++attempt) {
            try {
                std::uint64_t current = generation_.load();
                if (reader.generation != current) {
                    reader.db->reopen();
                    reader.generation = current;
                }
                {
                    // Enquire and MSet share the Database's internals through Xapian's
                    // non-atomic reference counts, so they must be gone before the reader goes
                    // back to the pool where another thread may pick it up.
                    Xapian::Enquire enquire(*reader.db);
                    enquire.set_query(full);
                    enquire.set_weighting_scheme(
                        Xapian::BM25Weight(options_.k1, 0, 1, options_.b, 0.5));
                    Xapian::MSet mset = enquire.get_mset(0, static_cast<Xapian::doccount>(k));
                    hits.clear();
                    hits.reserve(mset.size());
                    for (auto it = mset.begin(); it != mset.end(); ++it) {
                        hits.push_back(Bm25Hit{static_cast<std::int64_t>(*it), it.get_weight()});
                    }
                }
                release_reader(std::move(reader));
                return hits;
            } catch (const Xapian::DatabaseModifiedError& e) {
                // A writer recycled the revision this handle reads: catch up and retry.
                last_error = e.get_description();
                reader.generation = ~std::uint64_t{0};
            } catch (const Xapian::Error& e) {
                return core::fail(core::ErrorCode::kIo,
                                  "BM25 search failed: " + e.get_description());
            }
        }
        return core::fail(core::ErrorCode::kUnavailable,
                          "BM25 search kept racing commits: " + last_error);
    }

    Xapian::Query parse(const std::string& text, unsigned flags) const {
        Xapian::QueryParser parser;
        parser.set_stemmer(Xapian::Stem("english"));
        parser.set_stemming_strategy(Xapian::QueryParser::STEM_ALL_Z);  // as indexed
        parser.set_default_op(Xapian::Query::OP_OR);
        if (options_.query_stopwords) {
            parser.set_stopper(&stopper());
        }
        try {
            return parser.parse_query(text, flags);
        } catch (const Xapian::QueryParserError&) {
            // Unbalanced brackets and the like: read the text as plain words instead.
            try {
                return parser.parse_query(text, 0);
            } catch (const Xapian::QueryParserError&) {
                return Xapian::Query();
            }
        }
    }

    static const Xapian::SimpleStopper& stopper() {
        static constexpr const char* kWords[] = {
            "a",    "an",  "and",  "are", "as",  "at",    "be",   "by",   "for",
            "from", "in",  "into", "is",  "it",  "its",   "of",   "on",   "or",
            "that", "the", "this", "to",  "was", "which", "with", "when", "will"};
        static const Xapian::SimpleStopper kStopper(std::begin(kWords), std::end(kWords));
        return kStopper;
    }

    static Xapian::Query apply_filter(const Xapian::Query& query, const SearchFilter& filter) {
        if (filter.empty()) {
            return query;
        }
        std::vector<Xapian::Query> conditions;
        for (const auto& [key, value] : filter.metadata) {
            conditions.emplace_back(metadata_term(key, value));
        }
        if (!filter.source_prefix.empty()) {
            std::string upper = prefix_upper_bound(filter.source_prefix);
            if (upper.empty()) {
                conditions.emplace_back(
                    Xapian::Query::OP_VALUE_GE, kSourceSlot, filter.source_prefix);
            } else {
                // VALUE_RANGE is inclusive; exclude the bound itself, which lacks the prefix.
                conditions.emplace_back(
                    Xapian::Query::OP_AND_NOT,
                    Xapian::Query(
                        Xapian::Query::OP_VALUE_RANGE, kSourceSlot, filter.source_prefix, upper),
                    Xapian::Query(Xapian::Query::OP_VALUE_RANGE, kSourceSlot, upper, upper));
            }
        }
        Xapian::Query all(Xapian::Query::OP_AND, conditions.begin(), conditions.end());
        return Xapian::Query(Xapian::Query::OP_FILTER, query, all);
    }

    Reader acquire_reader() const {
        {
            std::lock_guard lock(pool_mutex_);
            if (!idle_readers_.empty()) {
                Reader reader = std::move(idle_readers_.back());
                idle_readers_.pop_back();
                return reader;
            }
        }
        Reader reader;
        // Opening can lose a race with a commit that is switching revisions; that is transient,
        // so try again rather than fail the search.
        for (int attempt = 0; attempt < kSearchAttempts && !reader.db; ++attempt) {
            try {
                reader.generation = generation_.load();
                reader.db = std::make_unique<Xapian::Database>(path_);
            } catch (const Xapian::Error&) {
                reader.db.reset();
            }
        }
        return reader;
    }

    void release_reader(Reader reader) const {
        std::lock_guard lock(pool_mutex_);
        idle_readers_.push_back(std::move(reader));
    }

    std::string path_;
    Bm25Options options_;
    std::mutex write_mutex_;
    std::unique_ptr<Xapian::WritableDatabase> writer_;  ///< guarded by write_mutex_
    Xapian::TermGenerator generator_;                   ///< guarded by write_mutex_
    std::atomic<std::int64_t> applied_seq_{0};
    std::atomic<std::size_t> committed_size_{0};
    /// Bumped after every commit; readers older than this reopen before searching.
    std::atomic<std::uint64_t> generation_{0};
    mutable std::mutex pool_mutex_;
    mutable std::vector<Reader> idle_readers_;  ///< guarded by pool_mutex_
};

}  // namespace

bool filter_accepts(const SearchFilter& filter,
                    const std::string& source,
                    const storage::Metadata& metadata) {
    if (!source.starts_with(filter.source_prefix)) {
        return false;
    }
    return std::all_of(filter.metadata.begin(), filter.metadata.end(), [&](const auto& wanted) {
        return std::any_of(
            metadata.begin(), metadata.end(), [&](const auto& have) { return have == wanted; });
    });
}

core::Result<std::unique_ptr<Bm25Index>> open_bm25_index(const std::string& dir,
                                                         std::string* load_problem) {
    return open_bm25_index(dir, Bm25Options{}, load_problem);
}

core::Result<std::unique_ptr<Bm25Index>> open_bm25_index(const std::string& dir,
                                                         const Bm25Options& options,
                                                         std::string* load_problem) {
    fs::path path = fs::path(dir) / "bm25";
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
        return core::fail(core::ErrorCode::kIo, "cannot create '" + dir + "': " + ec.message());
    }
    auto index = std::make_unique<XapianBm25Index>(path.string(), options);
    try {
        index->open(Xapian::DB_CREATE_OR_OPEN);
        return std::unique_ptr<Bm25Index>(std::move(index));
    } catch (const Xapian::DatabaseLockError& e) {
        // Another process owns it: that is not corruption, so never delete it.
        return core::fail(core::ErrorCode::kConflict,
                          "BM25 index '" + path.string() + "' is locked: " + e.get_description());
    } catch (const Xapian::Error& e) {
        if (load_problem != nullptr) {
            *load_problem = "BM25 index '" + path.string() +
                            "' could not be read and was recreated empty: " + e.get_description();
        }
    }
    index = std::make_unique<XapianBm25Index>(path.string(), options);
    fs::remove_all(path, ec);
    if (ec) {
        return core::fail(
            core::ErrorCode::kIo,
            "cannot remove corrupt BM25 index '" + path.string() + "': " + ec.message());
    }
    try {
        index->open(Xapian::DB_CREATE_OR_OVERWRITE);
    } catch (const Xapian::Error& e) {
        return core::fail(
            core::ErrorCode::kIo,
            "cannot create BM25 index '" + path.string() + "': " + e.get_description());
    }
    return std::unique_ptr<Bm25Index>(std::move(index));
}

}  // namespace ragd::retrieval
