// The ingest path: bytes → parse → chunk → embed → one storage transaction → index catch-up.
// Used by `ragd ingest` (files and folders) and by POST /v1/documents.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "core/config.hpp"
#include "core/error.hpp"
#include "embed/embedder.hpp"
#include "ingest/document.hpp"
#include "pipeline/index_maintainer.hpp"
#include "storage/storage.hpp"

namespace ragd::pipeline {

struct IngestRequest {
    std::string id;       ///< empty: derived from source (or content hash when no source)
    std::string source;   ///< file path or caller-given origin
    std::string title;    ///< empty: the parser's title, else the source's file name
    std::string content;  ///< raw bytes in `format`
    ingest::DocumentFormat format = ingest::DocumentFormat::kText;
    storage::Metadata metadata;
};

struct IngestResult {
    std::string id;
    std::string source;
    storage::UpsertStatus status = storage::UpsertStatus::kCreated;
    std::size_t chunks = 0;
};

/// One file that could not be ingested, and why.
struct IngestProblem {
    std::string path;
    std::string reason;
};

struct FolderReport {
    std::vector<IngestResult> results;
    std::vector<IngestProblem> problems;
    std::uint64_t bytes = 0;  ///< bytes of the files read
};

/// A document parsed, chunked and embedded: what one storage write needs.
struct PreparedDocument {
    storage::DocumentRecord doc;
    std::vector<storage::NewChunk> chunks;
};

class IngestService {
public:
    /// A single-writer bulk ingest stores documents in groups of this many (or of this many
    /// chunks), one storage transaction each: a commit per file was ~10 % of ingesting short
    /// Markdown files (bench/README.md). A crash loses at most the group being prepared.
    static constexpr std::size_t kDocumentsPerGroup = 64;
    static constexpr std::size_t kChunksPerGroup = 2048;

    IngestService(const core::IngestConfig& config,
                  storage::Storage& storage,
                  const embed::Embedder& embedder,
                  IndexMaintainer& maintainer);

    /// Stores one document and, if `update_indexes`, brings the indexes up to date before
    /// returning (bulk callers pass false and call catch_up() once at the end).
    core::Result<IngestResult> ingest(IngestRequest request, bool update_indexes = true);
    /// Stores several documents in group writes of kDocumentsPerGroup (one transaction each on
    /// SQLite, so one commit per group instead of one per document), without catching the
    /// indexes up: the caller does, once. One result per request, in order; a request that
    /// fails leaves the others stored. With OnFailure::kStop the results end at the first
    /// failure, and nothing after it is stored.
    std::vector<core::Result<IngestResult>> ingest_batch(
        std::vector<IngestRequest> requests,
        storage::OnFailure on_failure = storage::OnFailure::kGoOn);
    /// Removes a document from storage and both indexes; false when there was no such document.
    core::Result<bool> remove(const std::string& id);

    /// Ingests files and folders (recursively; hidden entries and unknown extensions skipped),
    /// reporting each file that fails and going on with the rest. `progress` (optional) is called
    /// after each file.
    FolderReport ingest_paths(const std::vector<std::string>& paths,
                              const std::function<void(const IngestResult&)>& progress = {});

    /// Stable document id for a file: derived from its absolute, normalised path.
    static std::string document_id_for_path(const std::filesystem::path& path);

private:
    /// Unchanged content (an IngestResult: nothing to write), or the document to write.
    using Prepared = std::variant<IngestResult, PreparedDocument>;
    /// The unchanged check, parsing, chunking and embedding: everything before the write.
    /// `store_was_empty`: storage had no write when the caller began, so the check is skipped.
    core::Result<Prepared> prepare(IngestRequest request, bool store_was_empty = false);
    /// ingest_batch, skipping the unchanged check when `store_was_empty`.
    std::vector<core::Result<IngestResult>> ingest_in_groups(std::vector<IngestRequest> requests,
                                                             storage::OnFailure on_failure,
                                                             bool store_was_empty);
    /// Parsing, chunking and embedding of a document to be written.
    core::Result<Prepared> prepare_new(IngestRequest request, std::string hash, bool rewrite);
    /// Writes documents as one group and offers their chunks to the indexes.
    std::vector<core::Result<IngestResult>> store(std::span<PreparedDocument> prepared,
                                                  storage::OnFailure on_failure);
    /// A file found by ingest_paths: its path, and its absolute, canonical form when known
    /// (empty: worked out when it is read).
    struct FileToIngest {
        std::filesystem::path path;
        std::filesystem::path absolute;
    };
    /// A file as a request; `size` gets the bytes read (or the size that was too large).
    core::Result<IngestRequest> read_file(const FileToIngest& file, std::uintmax_t& size) const;
    core::Result<Prepared> prepare_file(const FileToIngest& file,
                                        std::uintmax_t& size,
                                        bool store_was_empty);
    /// Hands the chunks just stored to the index maintainer, so that its next catch-up need
    /// not read them back (moves their texts and vectors out of `chunks`).
    void offer_to_indexes(const storage::DocumentRecord& doc,
                          std::vector<storage::NewChunk>& chunks,
                          const storage::UpsertOutcome& outcome);

    core::IngestConfig config_;
    storage::Storage& storage_;
    const embed::Embedder& embedder_;
    IndexMaintainer& maintainer_;
};

}  // namespace ragd::pipeline
