#include "pipeline/ingest_service.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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

std::string id_for_absolute_path(const fs::path& absolute) {
    return core::sha256_hex(absolute.string()).substr(0, 16);
}

/// Closes a file descriptor when it goes out of scope.
struct FileDescriptor {
    explicit FileDescriptor(int descriptor) : fd(descriptor) {}
    int fd;
    FileDescriptor(const FileDescriptor&) = delete;
    FileDescriptor& operator=(const FileDescriptor&) = delete;
    ~FileDescriptor() { ::close(fd); }
};

fs::path absolute_path(const fs::path& path) {
    std::error_code ec;
    return fs::weakly_canonical(fs::absolute(path, ec), ec);
}

}  // namespace

IngestService::IngestService(const core::IngestConfig& config,
                             storage::Storage& storage,
                             const embed::Embedder& embedder,
                             IndexMaintainer& maintainer)
    : config_(config), storage_(storage), embedder_(embedder), maintainer_(maintainer) {}

std::string IngestService::document_id_for_path(const fs::path& path) {
    return id_for_absolute_path(absolute_path(path));
}

core::Result<IngestResult> IngestService::ingest(IngestRequest request, bool update_indexes) {
    auto prepared = prepare(std::move(request));
    if (!prepared) {
        return prepared.error();
    }
    if (auto* unchanged = std::get_if<IngestResult>(&*prepared)) {
        return std::move(*unchanged);
    }
    auto stored = store(std::span<PreparedDocument>(&std::get<PreparedDocument>(*prepared), 1),
                        storage::OnFailure::kGoOn);
    core::Result<IngestResult> result = std::move(stored.front());
    if (result && update_indexes && result->status != storage::UpsertStatus::kUnchanged) {
        if (auto caught_up = maintainer_.catch_up(); !caught_up) {
            return caught_up.error();
        }
    }
    return result;
}

std::vector<core::Result<IngestResult>> IngestService::ingest_batch(
    std::vector<IngestRequest> requests, storage::OnFailure on_failure) {
    return ingest_in_groups(std::move(requests), on_failure, /*store_was_empty=*/false);
}

std::vector<core::Result<IngestResult>> IngestService::ingest_in_groups(
    std::vector<IngestRequest> requests, storage::OnFailure on_failure, bool store_was_empty) {
    const bool stop = on_failure == storage::OnFailure::kStop;
    std::vector<std::optional<core::Result<IngestResult>>> results(requests.size());
    std::size_t answered = requests.size();  // with kStop: up to the first failure
    // Prepared documents are written kDocumentsPerGroup (or kChunksPerGroup chunks) at a time,
    // so a large batch never holds more than one group's texts and vectors.
    std::vector<PreparedDocument> group;
    std::vector<std::size_t> group_slots;  // which request each prepared document answers
    std::size_t group_chunks = 0;
    auto write_group = [&]() -> bool {
        auto stored = store(group, on_failure);
        for (std::size_t idx = 0; idx < stored.size(); ++idx) {
            results[group_slots[idx]].emplace(std::move(stored[idx]));
        }
        const bool stopped =
            stored.size() < group.size() || (stop && !stored.empty() && !stored.back());
        if (stopped) {
            answered = group_slots[stored.size() - 1] + 1;  // a write failed: the rest waits
        }
        group.clear();
        group_slots.clear();
        group_chunks = 0;
        return !stopped;
    };
    for (std::size_t idx = 0; idx < requests.size(); ++idx) {
        auto prepared = prepare(std::move(requests[idx]), store_was_empty);
        if (!prepared) {
            results[idx].emplace(prepared.error());
            if (stop) {
                answered = idx + 1;
                break;
            }
        } else if (auto* unchanged = std::get_if<IngestResult>(&*prepared)) {
            results[idx].emplace(std::move(*unchanged));
        } else {
            group_chunks += std::get<PreparedDocument>(*prepared).chunks.size();
            group.push_back(std::move(std::get<PreparedDocument>(*prepared)));
            group_slots.push_back(idx);
            if ((group.size() >= kDocumentsPerGroup || group_chunks >= kChunksPerGroup) &&
                !write_group()) {
                break;
            }
        }
    }
    if (!group.empty()) {
        write_group();
    }
    std::vector<core::Result<IngestResult>> out;
    out.reserve(answered);
    for (std::size_t idx = 0; idx < answered; ++idx) {
        out.push_back(std::move(*results[idx]));
    }
    return out;
}

core::Result<IngestService::Prepared> IngestService::prepare(IngestRequest request,
                                                             bool store_was_empty) {
    std::string hash = core::sha256_hex(request.content);
    if (request.id.empty()) {
        request.id = request.source.empty() ? hash.substr(0, 16)
                                            : core::sha256_hex(request.source).substr(0, 16);
    }
    if (store_was_empty) {
        return prepare_new(std::move(request), std::move(hash), /*rewrite=*/false);
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
            return Prepared(IngestResult{
                request.id, request.source, storage::UpsertStatus::kUnchanged, chunks->size()});
        }
    }
    return prepare_new(std::move(request), std::move(hash), rewrite);
}

core::Result<IngestService::Prepared> IngestService::prepare_new(IngestRequest request,
                                                                 std::string hash,
                                                                 bool rewrite) {
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

    PreparedDocument prepared{std::move(doc), {}};
    prepared.chunks.reserve(drafts.size());
    for (std::size_t i = 0; i < drafts.size(); ++i) {
        auto& draft = drafts[i];
        prepared.chunks.push_back(storage::NewChunk{draft.ordinal,
                                                    std::move(draft.text),
                                                    std::move(draft.heading_path),
                                                    draft.source_begin,
                                                    draft.source_end,
                                                    std::move((*vectors)[i])});
    }
    return Prepared(std::move(prepared));
}

std::vector<core::Result<IngestResult>> IngestService::store(std::span<PreparedDocument> prepared,
                                                             storage::OnFailure on_failure) {
    std::vector<storage::DocumentWrite> writes;
    writes.reserve(prepared.size());
    for (const PreparedDocument& document : prepared) {
        writes.push_back(storage::DocumentWrite{&document.doc, document.chunks});
    }
    auto outcomes = storage_.upsert_documents(writes, embedder_.model_id(), on_failure);
    std::vector<core::Result<IngestResult>> results;
    results.reserve(outcomes.size());
    for (std::size_t idx = 0; idx < outcomes.size(); ++idx) {
        auto& outcome = outcomes[idx];
        PreparedDocument& document = prepared[idx];
        if (!outcome) {
            results.emplace_back(outcome.error());
            continue;
        }
        if (outcome->status != storage::UpsertStatus::kUnchanged &&
            embedder_.model_id() == maintainer_.model_id()) {
            offer_to_indexes(document.doc, document.chunks, *outcome);
        }
        results.emplace_back(IngestResult{
            document.doc.id, document.doc.source, outcome->status, outcome->chunk_ids.size()});
    }
    return results;
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

core::Result<IngestRequest> IngestService::read_file(const FileToIngest& file,
                                                     std::uintmax_t& size) const {
    auto format = ingest::format_from_path(file.path.string());
    if (!format) {
        return core::fail(core::ErrorCode::kUnsupported,
                          "unsupported file type '" + file.path.extension().string() + "'");
    }
    // open, fstat, read, close: the size comes with the open file, not from a stat of its name.
    const int fd = ::open(file.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return core::fail(core::ErrorCode::kIo,
                          std::string("cannot open: ") + std::strerror(errno));
    }
    FileDescriptor closer{fd};
    struct stat info {};
    if (::fstat(fd, &info) != 0) {
        return core::fail(core::ErrorCode::kIo, std::string("stat: ") + std::strerror(errno));
    }
    size = static_cast<std::uintmax_t>(info.st_size);
    if (size > config_.max_file_bytes) {
        return core::fail(core::ErrorCode::kTooLarge,
                          "file is " + std::to_string(size) +
                              " bytes, over ingest.max_file_bytes (" +
                              std::to_string(config_.max_file_bytes) + ")");
    }
    // What fstat reported is read, normally in one call: a file that grows meanwhile is read as
    // it was, one that shrinks as it is.
    IngestRequest request;
    request.content.resize(size);
    std::size_t got = 0;
    while (got < request.content.size()) {
        const ssize_t n = ::read(fd, request.content.data() + got, request.content.size() - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return core::fail(core::ErrorCode::kIo,
                              std::string("read failed: ") + std::strerror(errno));
        }
        if (n == 0) {
            break;
        }
        got += static_cast<std::size_t>(n);
    }
    request.content.resize(got);
    size = got;
    const fs::path absolute = file.absolute.empty() ? absolute_path(file.path) : file.absolute;
    request.id = id_for_absolute_path(absolute);
    request.source = absolute.string();
    request.format = *format;
    return request;
}

core::Result<IngestService::Prepared> IngestService::prepare_file(const FileToIngest& file,
                                                                  std::uintmax_t& size,
                                                                  bool store_was_empty) {
    auto request = read_file(file, size);
    if (!request) {
        return request.error();
    }
    return prepare(std::move(*request), store_was_empty);
}

FolderReport IngestService::ingest_paths(const std::vector<std::string>& paths,
                                         const std::function<void(const IngestResult&)>& progress) {
    FolderReport report;
    auto report_indexing = [&report](const core::Result<void>& indexed) {
        if (!indexed) {
            report.problems.push_back({"(indexes)", "indexing: " + indexed.error().detail});
        }
    };
    // Into a store that has never been written, no file can be unchanged: the check before
    // parsing (a read per file) is left out. Storage still checks inside each write, so a file
    // given twice is stored once.
    const bool store_was_empty = [this] {
        auto last = storage_.last_seq();
        return last && *last == 0;
    }();
    // Indexing the files stored so far overlaps with reading, embedding and storing the next.
    core::SerialBackgroundTask catch_up(maintainer_.catch_up_task());
    std::size_t files_since_catch_up = 0;
    std::size_t chunks_since_catch_up = 0;
    // Called from several writer threads when storage overlaps writes: the report, the
    // progress callback and the catch-up bookkeeping are serialized here.
    std::mutex report_mutex;
    auto record =
        [&](const fs::path& file, std::uintmax_t size, core::Result<IngestResult> result) {
            std::lock_guard lock(report_mutex);
            if (!result) {
                report.problems.push_back({file.string(), result.error().detail});
                return;
            }
            report.bytes += size;
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
    // One file, written alone: what each of several writer threads does.
    auto handle_file = [&](const FileToIngest& file) {
        std::uintmax_t size = 0;
        auto prepared = prepare_file(file, size, store_was_empty);
        if (!prepared) {
            record(file.path, size, prepared.error());
        } else if (auto* unchanged = std::get_if<IngestResult>(&*prepared)) {
            record(file.path, size, std::move(*unchanged));
        } else {
            auto stored =
                store(std::span<PreparedDocument>(&std::get<PreparedDocument>(*prepared), 1),
                      storage::OnFailure::kGoOn);
            record(file.path, size, std::move(stored.front()));
        }
    };
    // One writer: files are read kDocumentsPerGroup at a time and stored as groups
    // (ingest_in_groups), each reported in order once its group is written.
    auto handle_in_groups = [&](const std::vector<FileToIngest>& files) {
        for (std::size_t begin = 0; begin < files.size(); begin += kDocumentsPerGroup) {
            const std::size_t count = std::min(kDocumentsPerGroup, files.size() - begin);
            std::vector<std::uintmax_t> sizes(count, 0);
            std::vector<std::optional<core::Error>> unreadable(count);
            std::vector<IngestRequest> requests;
            requests.reserve(count);
            for (std::size_t idx = 0; idx < count; ++idx) {
                auto request = read_file(files[begin + idx], sizes[idx]);
                if (request) {
                    requests.push_back(std::move(*request));
                } else {
                    unreadable[idx] = request.error();
                }
            }
            auto results =
                ingest_in_groups(std::move(requests), storage::OnFailure::kGoOn, store_was_empty);
            std::size_t next = 0;
            for (std::size_t idx = 0; idx < count; ++idx) {
                record(files[begin + idx].path,
                       sizes[idx],
                       unreadable[idx] ? core::Result<IngestResult>(*unreadable[idx])
                                       : std::move(results[next++]));
            }
        }
    };
    // A remote embedder makes each file wait on the network before it is written: files in
    // flight overlap those waits even where storage has one writer (SQLite).
    const std::size_t writers =
        config_.write_concurrency != 0
            ? config_.write_concurrency
            : std::max(storage_.useful_write_concurrency(),
                       embedder_.remote() != nullptr ? kRemoteEmbedderFilesInFlight : 1);
    auto handle_files = [&](const std::vector<FileToIngest>& files) {
        if (writers <= 1 || files.size() <= 1) {
            handle_in_groups(files);
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
            handle_file(FileToIngest{root, {}});
            continue;
        }
        std::vector<FileToIngest> files;
        // Each directory is made canonical once, not each file in it (three system calls a
        // file); a file that is a symbolic link is resolved on its own when read.
        fs::path directory;
        fs::path canonical_directory;
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
                FileToIngest file{it->path(), {}};
                if (!it->is_symlink(ec)) {
                    if (file.path.parent_path() != directory) {
                        directory = file.path.parent_path();
                        canonical_directory = absolute_path(directory);
                    }
                    file.absolute = canonical_directory / file.path.filename();
                }
                files.push_back(std::move(file));
            } else if (!it->is_directory(ec)) {
                // A document-typed name that is not a readable file (a dangling symlink, a
                // socket): say so rather than skip it silently.
                report.problems.push_back({it->path().string(),
                                           "not a regular file (broken "
                                           "symlink?)"});
            }
        }
        // Deterministic order (and seqs, with one writer).
        std::sort(files.begin(), files.end(), [](const FileToIngest& a, const FileToIngest& b) {
            return a.path < b.path;
        });
        handle_files(files);
    }
    report_indexing(catch_up.wait());
    if (auto caught_up = maintainer_.catch_up(); !caught_up) {
        report.problems.push_back({"(indexes)", caught_up.error().detail});
    }
    return report;
}

}  // namespace ragd::pipeline
