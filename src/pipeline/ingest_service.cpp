#include "pipeline/ingest_service.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <system_error>
#include <thread>
#include <vector>

#include "core/hash.hpp"
#include "core/serial_background_task.hpp"
#include "embed/lexical_embedder.hpp"
#include "ingest/chunker.hpp"
#include "ingest/parser.hpp"

namespace ragd::pipeline {
namespace fs = std::filesystem;
namespace {

constexpr std::size_t kCatchUpEveryFiles = 256;
// Or after this many stored chunks: half the chunks IndexMaintainer keeps offered, so the batch
// being indexed and the one being stored meanwhile both fit, and no chunk is read back.
constexpr std::size_t kCatchUpEveryChunks = 4096;

// Files a bulk ingest has in flight with a remote embedder, whatever storage gains from.
constexpr std::size_t kRemoteEmbedderFilesInFlight = 16;

}  // namespace

IngestService::IngestService(const core::IngestConfig& config,
                             storage::Storage& storage,
                             const embed::Embedder& embedder,
                             IndexMaintainer& maintainer)
    : config_(config), storage_(storage), embedder_(embedder), maintainer_(maintainer) {}

std::string IngestService::document_id_for_path(const fs::path& path) {
    std::error_code ec;
    fs::path absolute = fs::weakly_canonical(fs::absolute(path, ec), ec);
    return core::sha256_hex(absolute.string()).substr(0, 16);
}

core::Result<IngestResult> IngestService::ingest(IngestRequest request, bool update_indexes) {
    std::string hash = core::sha256_hex(request.content);
    if (request.id.empty()) {
        request.id = request.source.empty() ? hash.substr(0, 16)
                                            : core::sha256_hex(request.source).substr(0, 16);
    }
    // Unchanged content: skip parsing and embedding entirely (storage would also say so).
    auto existing = storage_.content_hash(request.id);
    if (!existing) {
        return existing.error();
    }
    bool rewrite = false;
    if (existing->has_value() && **existing == hash) {
        auto chunks = storage_.chunks_of(request.id);
        if (!chunks) {
            return chunks.error();
        }
        // A document's chunks and vectors are written in one transaction, so one chunk tells
        // whether its vectors are this embedder's. If not (embed.model or embed.provider
        // changed), it is embedded again rather than left out of vector search.
        if (!chunks->empty()) {
            const std::int64_t first = chunks->front().id;
            auto probe =
                storage_.get_chunks(std::span<const std::int64_t>(&first, 1), embedder_.model_id());
            if (!probe) {
                return probe.error();
            }
            rewrite = probe->empty() || probe->front().embedding.empty();
        }
        if (!rewrite) {
            return IngestResult{
                request.id, request.source, storage::UpsertStatus::kUnchanged, chunks->size()};
        }
    }

    auto parsed = ingest::parse_document(request.content, request.format);
    if (!parsed) {
        return parsed.error();
    }
    ingest::ChunkerOptions options{config_.chunk_tokens, config_.chunk_overlap};
    std::vector<ingest::ChunkDraft> drafts = ingest::chunk_document(*parsed, options);

    storage::DocumentRecord doc;
    doc.id = request.id;
    doc.source = request.source;
    doc.title = !request.title.empty() ? request.title : parsed->title;
    if (doc.title.empty() && !request.source.empty()) {
        doc.title = fs::path(request.source).filename().string();
    }
    doc.content_hash = hash;
    doc.rewrite_unchanged = rewrite;
    doc.metadata = std::move(request.metadata);
    std::sort(doc.metadata.begin(), doc.metadata.end());

    std::vector<std::string> texts;
    texts.reserve(drafts.size());
    for (const auto& draft : drafts) {
        texts.push_back(embed::compose_embedding_text(doc.title, draft.heading_path, draft.text));
    }
    std::vector<std::string_view> views(texts.begin(), texts.end());
    auto vectors = embedder_.embed(views, embed::EmbedKind::kDocument);
    if (!vectors) {
        return vectors.error();
    }

    std::vector<storage::NewChunk> chunks;
    chunks.reserve(drafts.size());
    for (std::size_t i = 0; i < drafts.size(); ++i) {
        auto& draft = drafts[i];
        chunks.push_back(storage::NewChunk{draft.ordinal,
                                           std::move(draft.text),
                                           std::move(draft.heading_path),
                                           draft.source_begin,
                                           draft.source_end,
                                           std::move((*vectors)[i])});
    }
    auto outcome = storage_.upsert_document(doc, chunks, embedder_.model_id());
    if (!outcome) {
        return outcome.error();
    }
    if (outcome->status != storage::UpsertStatus::kUnchanged &&
        embedder_.model_id() == maintainer_.model_id()) {
        offer_to_indexes(doc, chunks, *outcome);
    }
    if (update_indexes && outcome->status != storage::UpsertStatus::kUnchanged) {
        if (auto caught_up = maintainer_.catch_up(); !caught_up) {
            return caught_up.error();
        }
    }
    return IngestResult{doc.id, doc.source, outcome->status, outcome->chunk_ids.size()};
}

void IngestService::offer_to_indexes(const storage::DocumentRecord& doc,
                                     std::vector<storage::NewChunk>& chunks,
                                     const storage::UpsertOutcome& outcome) {
    if (outcome.chunk_ids.size() != chunks.size()) {
        return;  // not the write this call made; let the catch-up read storage
    }
    // Exactly what storage's indexable_chunks_of would return; the texts and vectors are moved,
    // as nothing reads `chunks` after the write.
    std::vector<storage::IndexableChunk> indexable(chunks.size());
    for (std::size_t chunk_idx = 0; chunk_idx < chunks.size(); ++chunk_idx) {
        storage::NewChunk& stored = chunks[chunk_idx];
        storage::IndexableChunk& chunk = indexable[chunk_idx];
        chunk.chunk.id = outcome.chunk_ids[chunk_idx];
        chunk.chunk.document_id = doc.id;
        chunk.chunk.ordinal = stored.ordinal;
        chunk.chunk.text = std::move(stored.text);
        chunk.chunk.heading_path = std::move(stored.heading_path);
        chunk.chunk.source_begin = stored.source_begin;
        chunk.chunk.source_end = stored.source_end;
        chunk.title = doc.title;
        chunk.source = doc.source;
        chunk.collection = doc.collection;
        chunk.metadata = doc.metadata;
        chunk.embedding = std::move(stored.embedding);
    }
    maintainer_.offer(outcome.seq, doc.id, std::move(indexable));
}

core::Result<bool> IngestService::remove(const std::string& id) {
    auto deleted = storage_.delete_document(id);
    if (!deleted) {
        return deleted.error();
    }
    if (*deleted) {
        if (auto caught_up = maintainer_.catch_up(); !caught_up) {
            return caught_up.error();
        }
    }
    return *deleted;
}

core::Result<IngestResult> IngestService::ingest_file(const fs::path& path) {
    auto format = ingest::format_from_path(path.string());
    if (!format) {
        return core::fail(core::ErrorCode::kUnsupported,
                          "unsupported file type '" + path.extension().string() + "'");
    }
    std::error_code ec;
    auto size = fs::file_size(path, ec);
    if (ec) {
        return core::fail(core::ErrorCode::kIo, ec.message());
    }
    if (size > config_.max_file_bytes) {
        return core::fail(core::ErrorCode::kTooLarge,
                          "file is " + std::to_string(size) +
                              " bytes, over ingest.max_file_bytes (" +
                              std::to_string(config_.max_file_bytes) + ")");
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return core::fail(core::ErrorCode::kIo,
                          std::string("cannot open: ") + std::strerror(errno));
    }
    std::ostringstream buffer;
    buffer << in.rdbuf();
    if (in.bad()) {
        return core::fail(core::ErrorCode::kIo, "read failed");
    }
    IngestRequest request;
    fs::path absolute = fs::weakly_canonical(fs::absolute(path, ec), ec);
    request.id = document_id_for_path(path);
    request.source = absolute.string();
    request.content = std::move(buffer).str();
    request.format = *format;
    return ingest(std::move(request), /*update_indexes=*/false);
}

FolderReport IngestService::ingest_paths(const std::vector<std::string>& paths,
                                         const std::function<void(const IngestResult&)>& progress) {
    FolderReport report;
    auto report_indexing = [&report](const core::Result<void>& indexed) {
        if (!indexed) {
            report.problems.push_back({"(indexes)", "indexing: " + indexed.error().detail});
        }
    };
    // Indexing the files stored so far overlaps with reading, embedding and storing the next.
    core::SerialBackgroundTask catch_up(maintainer_.catch_up_task());
    std::size_t files_since_catch_up = 0;
    std::size_t chunks_since_catch_up = 0;
    // Called from several writer threads when storage overlaps writes: the report, the
    // progress callback and the catch-up bookkeeping are serialized here.
    std::mutex report_mutex;
    auto handle_file = [&](const fs::path& file) {
        std::error_code ec;
        auto size = fs::file_size(file, ec);
        auto result = ingest_file(file);
        std::lock_guard lock(report_mutex);
        if (!result) {
            report.problems.push_back({file.string(), result.error().detail});
            return;
        }
        report.bytes += ec ? 0 : size;
        if (progress) {
            progress(*result);
        }
        const bool stored = result->status != storage::UpsertStatus::kUnchanged;
        chunks_since_catch_up += stored ? result->chunks : 0;
        report.results.push_back(std::move(*result));
        // Keep the indexes near storage during a long ingest, so a crash loses little work.
        if (++files_since_catch_up >= kCatchUpEveryFiles ||
            chunks_since_catch_up >= kCatchUpEveryChunks) {
            files_since_catch_up = 0;
            chunks_since_catch_up = 0;
            report_indexing(catch_up.start());
        }
    };
    // A remote embedder makes each file wait on the network before it is written: files in
    // flight overlap those waits even where storage has one writer (SQLite).
    const std::size_t writers =
        config_.write_concurrency != 0
            ? config_.write_concurrency
            : std::max(storage_.useful_write_concurrency(),
                       embedder_.remote() != nullptr ? kRemoteEmbedderFilesInFlight : 1);
    auto handle_files = [&](const std::vector<fs::path>& files) {
        if (writers <= 1 || files.size() <= 1) {
            for (const auto& file : files) {
                handle_file(file);
            }
            return;
        }
        // Files are taken in order, so documents are written roughly in it; each change is
        // still one transaction, and the sequence numbers follow commit order.
        std::atomic<std::size_t> next{0};
        std::vector<std::jthread> threads;
        threads.reserve(std::min(writers, files.size()));
        for (std::size_t t = 0; t < std::min(writers, files.size()); ++t) {
            threads.emplace_back([&] {
                for (std::size_t i = next++; i < files.size(); i = next++) {
                    handle_file(files[i]);
                }
            });
        }
    };
    for (const auto& given : paths) {
        fs::path root(given);
        std::error_code ec;
        auto status = fs::status(root, ec);
        if (ec || !fs::exists(status)) {
            report.problems.push_back({given, "no such file or directory"});
            continue;
        }
        if (!fs::is_directory(status)) {
            handle_file(root);
            continue;
        }
        std::vector<fs::path> files;
        fs::recursive_directory_iterator it(
            root, fs::directory_options::skip_permission_denied, ec);
        if (ec) {
            report.problems.push_back({given, ec.message()});
            continue;
        }
        for (auto end = fs::recursive_directory_iterator(); it != end; it.increment(ec)) {
            if (ec) {
                report.problems.push_back({it->path().string(), ec.message()});
                break;
            }
            const auto name = it->path().filename().string();
            if (!name.empty() && name[0] == '.') {
                if (it->is_directory(ec)) {
                    it.disable_recursion_pending();
                }
                continue;
            }
            if (!ingest::format_from_path(it->path().string())) {
                continue;  // not a document type ragd ingests: skipped quietly
            }
            if (it->is_regular_file(ec)) {
                files.push_back(it->path());
            } else if (!it->is_directory(ec)) {
                // A document-typed name that is not a readable file (a dangling symlink, a
                // socket): say so rather than skip it silently.
                report.problems.push_back({it->path().string(),
                                           "not a regular file (broken "
                                           "symlink?)"});
            }
        }
        std::sort(files.begin(), files.end());  // deterministic order (and seqs, with one writer)
        handle_files(files);
    }
    report_indexing(catch_up.wait());
    if (auto caught_up = maintainer_.catch_up(); !caught_up) {
        report.problems.push_back({"(indexes)", caught_up.error().detail});
    }
    return report;
}

}  // namespace ragd::pipeline
