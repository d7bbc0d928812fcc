#include "pipeline/engine.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "embed/http_embedder.hpp"
#include "embed/lexical_embedder.hpp"
#include "llm/extractive_generator.hpp"
#include "retrieval/memory_bm25_index.hpp"
#include "storage/postgres_storage.hpp"

namespace ragd::pipeline {
namespace fs = std::filesystem;
namespace {

// flock() on <data_dir>/ragd.lock: the kernel drops it when the process dies, so a crash never
// leaves a stale lock behind. The pid inside is only for the error message.
core::Result<int> lock_data_dir(const std::string& dir) {
    std::string path = dir + "/ragd.lock";
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        return core::fail(core::ErrorCode::kIo,
                          "cannot open " + path + ": " + std::strerror(errno));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        std::string holder;
        std::ifstream(path) >> holder;
        ::close(fd);
        return core::fail(core::ErrorCode::kConflict,
                          "data directory " + dir + " is in use by another ragd process" +
                              (holder.empty() ? "" : " (pid " + holder + ")") +
                              "; stop it or use its HTTP API");
    }
    std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) == 0) {
        [[maybe_unused]] auto written = ::pwrite(fd, pid.data(), pid.size(), 0);
    }
    return fd;
}

core::Result<std::unique_ptr<storage::Storage>> open_storage(const core::StorageConfig& config) {
    const auto encoding = config.embedding_encoding == "float32"
                              ? storage::EmbeddingEncoding::kFloat32
                              : storage::EmbeddingEncoding::kInt8;
    if (config.backend == "postgres") {
        storage::PostgresOptions options;
        options.conninfo = config.postgres_url;
        options.embedding_encoding = encoding;
        options.max_connections = config.postgres_connections;
        return storage::open_postgres_storage(options);
    }
    storage::SqliteOptions options;
    options.durable_commits = config.durable_commits;
    options.embedding_encoding = encoding;
    return storage::open_sqlite_storage(config.data_dir, options);
}

// The derived indexes in a data directory belong to one database. Caught up from another (the
// data directory moved to a different PostgreSQL, or from SQLite to PostgreSQL), they would
// mix two corpora and trust sequence numbers that mean nothing there, so they start over.
// "storage.id" names the database they were built from. It is written only once the old
// indexes are gone, so a crash in between cannot leave them labelled as this database's.
constexpr const char* kIndexFiles[] = {"vectors.hnsw", "vectors.meta", "bm25", "bm25-memory.bin"};

core::Result<void> claim_indexes_for(const std::string& dir,
                                     const std::string& identity,
                                     const std::function<void(const std::string&)>& note) {
    const fs::path path = fs::path(dir) / "storage.id";
    std::string recorded;
    if (std::ifstream in(path); in) {
        std::getline(in, recorded);
    }
    if (recorded == identity) {
        return {};
    }
    // A data directory from before storage.id existed held SQLite's own indexes.
    const bool same_database = recorded.empty() && identity == "sqlite";
    std::error_code ec;
    if (!same_database &&
        std::any_of(std::begin(kIndexFiles), std::end(kIndexFiles), [&](const char* name) {
            return fs::exists(fs::path(dir) / name, ec);
        })) {
        note("indexes were built from another database; rebuilding them from " + identity);
        for (const char* name : kIndexFiles) {
            fs::remove_all(fs::path(dir) / name, ec);
            if (ec) {
                return core::fail(
                    core::ErrorCode::kIo,
                    "cannot remove " + (fs::path(dir) / name).string() + ": " + ec.message());
            }
        }
    }
    const std::string temp = path.string() + ".tmp";
    {
        std::ofstream out(temp, std::ios::trunc);
        out << identity << "\n";
        if (!out.flush()) {
            return core::fail(core::ErrorCode::kIo, "cannot write " + temp);
        }
    }
    fs::rename(temp, path, ec);
    if (ec) {
        return core::fail(core::ErrorCode::kIo,
                          "cannot write " + path.string() + ": " + ec.message());
    }
    return {};
}

}  // namespace

core::Result<std::unique_ptr<Engine>> Engine::open(const core::Config& config,
                                                   std::string* notes,
                                                   const EngineOpenOptions& options) {
    std::unique_ptr<Engine> engine(new Engine());
    engine->config_ = config;
    const std::string& dir = config.storage.data_dir;
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
        return core::fail(core::ErrorCode::kIo,
                          "cannot create data directory " + dir + ": " + ec.message());
    }
    auto lock = lock_data_dir(dir);
    if (!lock) {
        return lock.error();
    }
    engine->lock_fd_ = *lock;

    auto storage = open_storage(config.storage);
    if (!storage) {
        return storage.error();
    }
    engine->storage_ = std::move(*storage);
    if (config.storage.passage_cache_bytes > 0) {
        auto cached = std::make_unique<storage::PassageCachingStorage>(
            std::move(engine->storage_), config.storage.passage_cache_bytes);
        engine->passages_ = cached.get();
        engine->storage_ = std::move(cached);
    }
    if (config.embed.provider == "openai") {
        auto remote = embed::HttpEmbedder::create(config.embed);
        if (!remote) {
            return remote.error();
        }
        engine->embedder_ = std::move(*remote);
    } else {
        engine->embedder_ = embed::make_lexical_embedder(config.embed.dimensions);
    }

    auto note = [&](const std::string& line) {
        if (notes != nullptr) {
            *notes += line + "\n";
        }
    };
    retrieval::VectorIndexOptions vector_options;
    vector_options.dimensions = engine->embedder_->dimensions();
    vector_options.model_id = engine->embedder_->model_id();
    vector_options.m = config.retrieval.hnsw_m;
    vector_options.ef_construction = config.retrieval.hnsw_ef_construction;
    vector_options.ef_search = config.retrieval.hnsw_ef_search;
    std::string problem;
    auto last_seq = engine->storage_->last_seq();
    if (!last_seq) {
        return last_seq.error();
    }
    if (options.catch_up) {
        auto identity = engine->storage_->identity();
        if (!identity) {
            return identity.error();
        }
        if (auto claimed = claim_indexes_for(dir, *identity, note); !claimed) {
            return claimed.error();
        }
    }
    auto vectors = retrieval::open_vector_index(dir, vector_options, &problem);
    if (!vectors) {
        return vectors.error();
    }
    // Repairs are for catch_up; without it the index stays as found so a check can report it.
    const std::string repair_note = options.catch_up ? "; rebuilding it from storage" : "";
    if (options.catch_up && (*vectors)->applied_seq() > *last_seq) {
        // The index belongs to newer data than storage holds (storage restored from a backup):
        // it cannot be trusted, so start it over.
        note("vector index is ahead of storage; rebuilding it");
        fs::remove(fs::path(dir) / "vectors.hnsw", ec);
        fs::remove(fs::path(dir) / "vectors.meta", ec);
        vectors = retrieval::open_vector_index(dir, vector_options, &problem);
        if (!vectors) {
            return vectors.error();
        }
    }
    if (!problem.empty()) {
        note("vector index: " + problem + repair_note);
    }
    engine->vectors_ = std::move(*vectors);
    problem.clear();
    auto bm25 = config.retrieval.bm25_backend == "xapian"
                    ? retrieval::open_bm25_index(dir, &problem)
                    : retrieval::open_memory_bm25_index(dir, retrieval::Bm25Options{}, &problem);
    if (!bm25) {
        return bm25.error();
    }
    if (!problem.empty()) {
        note("bm25 index: " + problem + repair_note);
    }
    engine->bm25_ = std::move(*bm25);
    engine->generator_ =
        std::make_unique<llm::ExtractiveGenerator>(config.llm.extractive_max_sentences);

    engine->maintainer_ = std::make_unique<IndexMaintainer>(
        *engine->storage_, *engine->vectors_, *engine->bm25_, engine->embedder_->model_id());
    core::Result<CatchUpReport> caught_up = CatchUpReport{};
    if (options.catch_up) {
        caught_up = engine->maintainer_->catch_up();
    }
    if (!caught_up) {
        return caught_up.error();
    }
    if (caught_up->rebuilt_vectors || caught_up->rebuilt_bm25 || caught_up->changes > 0) {
        note("indexes caught up from seq " + std::to_string(caught_up->from_seq) + " to " +
             std::to_string(caught_up->to_seq) + " (" + std::to_string(caught_up->changes) +
             " changes, " + std::to_string(caught_up->chunks_added) + " chunks indexed" +
             (caught_up->rebuilt_vectors ? ", vectors rebuilt" : "") +
             (caught_up->rebuilt_bm25 ? ", bm25 rebuilt" : "") + ")");
        if (auto flushed = engine->maintainer_->flush(); !flushed) {
            return flushed.error();
        }
    }
    engine->ingest_ = std::make_unique<IngestService>(
        config.ingest, *engine->storage_, *engine->embedder_, *engine->maintainer_);
    engine->query_ = std::make_unique<QueryService>(config.retrieval,
                                                    *engine->storage_,
                                                    *engine->embedder_,
                                                    *engine->vectors_,
                                                    *engine->bm25_,
                                                    *engine->generator_);
    return engine;
}

void Engine::follow_changes() {
    if (!follower_ && config_.storage.follow_interval.count() > 0) {
        follower_ = std::make_unique<ChangeFollower>(*maintainer_, config_.storage.follow_interval);
    }
}

Engine::~Engine() {
    follower_.reset();  // its catch-ups use everything below
    if (maintainer_) {
        (void)maintainer_->flush();
    }
    // Release the indexes and storage before the lock, so the next holder sees them closed.
    query_.reset();
    ingest_.reset();
    maintainer_.reset();
    bm25_.reset();
    vectors_.reset();
    storage_.reset();
    if (lock_fd_ >= 0) {
        ::close(lock_fd_);
    }
}

std::int64_t Engine::indexed_seq() const {
    return std::min(vectors_->applied_seq(), bm25_->applied_seq());
}

storage::PassageCacheStats Engine::passage_cache_stats() const {
    return passages_ != nullptr ? passages_->passage_stats() : storage::PassageCacheStats{};
}

IndexStats Engine::index_stats() const {
    IndexStats stats;
    stats.vectors = vectors_->size();
    stats.bm25_chunks = bm25_->size();
    stats.vectors_applied_seq = vectors_->applied_seq();
    stats.bm25_applied_seq = bm25_->applied_seq();
    stats.vector_memory_bytes = vectors_->memory_bytes();
    stats.bm25_disk_bytes = bm25_->disk_bytes();
    return stats;
}

}  // namespace ragd::pipeline
