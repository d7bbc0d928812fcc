// hnswlib-backed VectorIndex. hnswlib 0.6.2 allows concurrent addPoint and searchKnn but not a
// concurrent resizeIndex, and its markDelete reads the label map unlocked: hence two locks here.
#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <shared_mutex>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

#include "retrieval/int8_dot_space.hpp"
#include "retrieval/vector_index.hpp"

namespace ragd::retrieval {
namespace {

namespace fs = std::filesystem;

constexpr const char* kIndexFile = "vectors.hnsw";
constexpr const char* kMetaFile = "vectors.meta";
/// v2: vectors stored as int8 with a scale (Int8DotSpace); v1 stored floats and is rebuilt.
constexpr const char* kMetaMagic = "ragd-vectors-v2";
constexpr std::size_t kInitialCapacity = 1024;

/// 64-bit checksum of a file, 8 bytes per step: catches torn or foreign files before hnswlib's
/// loader (which trusts its header) sees them.
core::Result<std::uint64_t> file_checksum(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return core::fail(core::ErrorCode::kIo, "cannot read '" + path.string() + "'");
    }
    std::uint64_t hash = 0xcbf29ce484222325ULL;
    std::vector<char> buffer(1 << 20);
    while (in) {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        auto got = static_cast<std::size_t>(in.gcount());
        std::size_t word_end = got - got % 8;
        for (std::size_t pos = 0; pos < word_end; pos += 8) {
            std::uint64_t word = 0;
            std::memcpy(&word, buffer.data() + pos, 8);
            hash = (hash ^ word) * 0x100000001b3ULL;
            hash ^= hash >> 29;
        }
        for (std::size_t pos = word_end; pos < got; ++pos) {
            hash = (hash ^ static_cast<unsigned char>(buffer[pos])) * 0x100000001b3ULL;
        }
    }
    return hash;
}

core::Result<void> fsync_path(const fs::path& path, bool directory) {
    int fd = ::open(path.c_str(), directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
    if (fd < 0) {
        return core::fail(core::ErrorCode::kIo, "cannot open '" + path.string() + "' to sync");
    }
    int rc = ::fsync(fd);
    ::close(fd);
    if (rc != 0) {
        return core::fail(core::ErrorCode::kIo, "fsync of '" + path.string() + "' failed");
    }
    return {};
}

struct Meta {
    std::size_t dimensions = 0;
    std::int64_t applied_seq = 0;
    std::uint64_t file_bytes = 0;
    std::uint64_t checksum = 0;
    std::string model_id;  ///< "" in files written before it was recorded
};

/// The model id as one whitespace-free token of the meta file.
std::string meta_token(std::string text) {
    for (char& c : text) {
        if (std::isspace(static_cast<unsigned char>(c)) != 0) {
            c = '_';
        }
    }
    return text;
}

core::Result<Meta> read_meta(const fs::path& path) {
    std::ifstream in(path);
    if (!in) {
        return core::fail(core::ErrorCode::kNotFound, kMetaFile + std::string(" is missing"));
    }
    std::string magic;
    in >> magic;
    if (magic == "ragd-vectors-v1") {
        return core::fail(
            core::ErrorCode::kCorrupt,
            std::string(kMetaFile) + " is from an older version (float vectors, now int8)");
    }
    if (magic != kMetaMagic) {
        return core::fail(core::ErrorCode::kCorrupt,
                          std::string(kMetaFile) + " has unknown format '" + magic + "'");
    }
    Meta meta;
    int fields = 0;
    std::string key;
    while (in >> key) {
        if (key == "dimensions") {
            in >> meta.dimensions;
        } else if (key == "applied_seq") {
            in >> meta.applied_seq;
        } else if (key == "file_bytes") {
            in >> meta.file_bytes;
        } else if (key == "checksum") {
            in >> std::hex >> meta.checksum >> std::dec;
        } else if (key == "model") {
            in >> meta.model_id;
            continue;  // optional: not one of the required fields
        } else {
            std::string ignored;
            in >> ignored;
            continue;
        }
        if (!in) {
            return core::fail(core::ErrorCode::kCorrupt,
                              std::string(kMetaFile) + " has a bad value for '" + key + "'");
        }
        ++fields;
    }
    if (fields < 4) {
        return core::fail(core::ErrorCode::kCorrupt, std::string(kMetaFile) + " is incomplete");
    }
    return meta;
}

class HnswVectorIndex final : public VectorIndex {
public:
    HnswVectorIndex(std::string dir, const VectorIndexOptions& options)
        : dir_(std::move(dir)), options_(options), space_(options.dimensions) {}

    void create_empty() {
        index_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(
            &space_, kInitialCapacity, options_.m, options_.ef_construction);
        index_->setEf(options_.ef_search);
        live_ = 0;
        applied_seq_ = 0;
    }

    /// Loads the persisted index; any error means "treat as missing".
    core::Result<void> load() {
        fs::path index_path = fs::path(dir_) / kIndexFile;
        fs::path meta_path = fs::path(dir_) / kMetaFile;
        std::error_code ec;
        auto meta = read_meta(meta_path);
        if (!meta) {
            return meta.error();
        }
        if (meta->dimensions != options_.dimensions) {
            return core::fail(core::ErrorCode::kCorrupt,
                              "vectors were built with " + std::to_string(meta->dimensions) +
                                  " dimensions, configured " + std::to_string(options_.dimensions));
        }
        if (!meta->model_id.empty() && meta->model_id != "-" && !options_.model_id.empty() &&
            meta->model_id != meta_token(options_.model_id)) {
            return core::fail(core::ErrorCode::kCorrupt,
                              "vectors were built by model " + meta->model_id + ", configured " +
                                  meta_token(options_.model_id));
        }
        auto size = fs::file_size(index_path, ec);
        if (ec) {
            return core::fail(core::ErrorCode::kNotFound, std::string(kIndexFile) + " is missing");
        }
        if (size != meta->file_bytes) {
            return core::fail(core::ErrorCode::kCorrupt,
                              std::string(kIndexFile) + " is " + std::to_string(size) +
                                  " bytes, its meta says " + std::to_string(meta->file_bytes));
        }
        auto checksum = file_checksum(index_path);
        if (!checksum) {
            return checksum.error();
        }
        if (*checksum != meta->checksum) {
            return core::fail(core::ErrorCode::kCorrupt,
                              std::string(kIndexFile) + " checksum does not match its meta");
        }
        try {
            auto loaded =
                std::make_unique<hnswlib::HierarchicalNSW<float>>(&space_, index_path.string());
            // The loading constructor leaves num_deleted_ uninitialised before counting into
            // it (hnswlib 0.6.2), so count again from the delete marks.
            loaded->num_deleted_ = 0;
            for (std::size_t internal = 0; internal < loaded->cur_element_count; ++internal) {
                if (loaded->isMarkedDeleted(static_cast<hnswlib::tableint>(internal))) {
                    ++loaded->num_deleted_;
                }
            }
            std::size_t expected_element_bytes =
                loaded->size_links_level0_ + space_.encoded_bytes() + sizeof(hnswlib::labeltype);
            if (loaded->size_data_per_element_ != expected_element_bytes ||
                loaded->label_lookup_.size() != loaded->cur_element_count) {
                return core::fail(core::ErrorCode::kCorrupt,
                                  std::string(kIndexFile) + " has an inconsistent layout");
            }
            loaded->setEf(options_.ef_search);
            live_ = loaded->cur_element_count - loaded->num_deleted_;
            index_ = std::move(loaded);
        } catch (const std::exception& e) {
            return core::fail(core::ErrorCode::kCorrupt,
                              std::string(kIndexFile) + " failed to load: " + e.what());
        }
        applied_seq_ = meta->applied_seq;
        return {};
    }

    core::Result<void> add(std::int64_t chunk_id, std::span<const float> vector) override {
        if (vector.size() != options_.dimensions) {
            return core::fail(core::ErrorCode::kInvalidArgument,
                              "vector for chunk " + std::to_string(chunk_id) + " has " +
                                  std::to_string(vector.size()) + " floats, index expects " +
                                  std::to_string(options_.dimensions));
        }
        auto label = static_cast<hnswlib::labeltype>(chunk_id);
        std::vector<std::byte> encoded(space_.encoded_bytes());
        space_.encode(vector, encoded);
        std::lock_guard write_lock(write_mutex_);
        bool counted_live = false;
        auto found = index_->label_lookup_.find(label);
        if (found != index_->label_lookup_.end()) {
            counted_live = !index_->isMarkedDeleted(found->second);
        } else if (index_->cur_element_count >= index_->max_elements_) {
            std::unique_lock resize_lock(resize_mutex_);
            try {
                index_->resizeIndex(std::max(kInitialCapacity, index_->max_elements_ * 2));
            } catch (const std::exception& e) {
                return core::fail(core::ErrorCode::kInternal,
                                  std::string("vector index resize failed: ") + e.what());
            }
        }
        std::shared_lock resize_lock(resize_mutex_);
        try {
            // An existing label is updated in place, and un-deleted if it was removed.
            index_->addPoint(encoded.data(), label);
        } catch (const std::exception& e) {
            return core::fail(
                core::ErrorCode::kInternal,
                "vector index add of chunk " + std::to_string(chunk_id) + " failed: " + e.what());
        }
        if (!counted_live) {
            live_.fetch_add(1);
        }
        return {};
    }

    void remove(std::int64_t chunk_id) override {
        auto label = static_cast<hnswlib::labeltype>(chunk_id);
        std::lock_guard write_lock(write_mutex_);
        std::shared_lock resize_lock(resize_mutex_);
        auto found = index_->label_lookup_.find(label);
        if (found == index_->label_lookup_.end() || index_->isMarkedDeleted(found->second)) {
            return;
        }
        index_->markDeletedInternal(found->second);
        live_.fetch_sub(1);
    }

    std::vector<VectorHit> search(std::span<const float> query,
                                  std::size_t k,
                                  const std::function<bool(std::int64_t)>& accept) const override {
        std::vector<VectorHit> hits;
        if (k == 0 || query.size() != options_.dimensions) {
            return hits;
        }
        std::vector<std::byte> encoded(space_.encoded_bytes());
        space_.encode(query, encoded);
        std::shared_lock resize_lock(resize_mutex_);
        std::size_t total = index_->cur_element_count;
        if (total == 0) {
            return hits;
        }
        // ef is fixed at construction (setEf is not thread-safe); searchKnn uses max(ef, fetch).
        std::size_t fetch = accept ? k * 4 : k;
        while (true) {
            fetch = std::min(fetch, total);
            hits.clear();
            auto queue = index_->searchKnn(encoded.data(), fetch);
            std::size_t returned = queue.size();
            hits.reserve(returned);
            while (!queue.empty()) {
                auto [distance, label] = queue.top();
                queue.pop();
                auto id = static_cast<std::int64_t>(label);
                if (!accept || accept(id)) {
                    hits.push_back(VectorHit{id, 1.0f - distance});
                }
            }
            if (hits.size() >= k || fetch >= total) {
                break;
            }
            fetch *= 4;
        }
        // The queue pops worst first; ties on similarity break on id for determinism.
        std::sort(hits.begin(), hits.end(), [](const VectorHit& a, const VectorHit& b) {
            if (a.similarity != b.similarity) {
                return a.similarity > b.similarity;
            }
            return a.chunk_id < b.chunk_id;
        });
        if (hits.size() > k) {
            hits.resize(k);
        }
        return hits;
    }

    std::size_t size() const override { return live_.load(); }
    std::size_t dimensions() const override { return options_.dimensions; }
    std::int64_t applied_seq() const override { return applied_seq_.load(); }
    void set_applied_seq(std::int64_t seq) override { applied_seq_.store(seq); }

    core::Result<void> save() override {
        std::lock_guard write_lock(write_mutex_);
        std::shared_lock resize_lock(resize_mutex_);
        fs::path dir(dir_);
        std::error_code ec;
        fs::create_directories(dir, ec);
        if (ec) {
            return core::fail(core::ErrorCode::kIo,
                              "cannot create '" + dir_ + "': " + ec.message());
        }
        fs::path index_tmp = dir / (std::string(kIndexFile) + ".tmp");
        fs::path meta_tmp = dir / (std::string(kMetaFile) + ".tmp");
        // A failed save leaves no temp file behind: on a full disk it would hold the space that
        // is needed to recover. After the renames the names are gone and this removes nothing.
        struct RemoveTemps {
            const fs::path& index;
            const fs::path& meta;
            ~RemoveTemps() {
                std::error_code ignored;
                fs::remove(index, ignored);
                fs::remove(meta, ignored);
            }
        } remove_temps{index_tmp, meta_tmp};
        try {
            index_->saveIndex(index_tmp.string());
        } catch (const std::exception& e) {
            return core::fail(core::ErrorCode::kIo,
                              "writing '" + index_tmp.string() + "' failed: " + e.what());
        }
        // saveIndex does not report write errors; the size check catches a short write.
        auto bytes = fs::file_size(index_tmp, ec);
        std::uint64_t expected = index_bytes_on_disk();
        if (ec || bytes != expected) {
            return core::fail(core::ErrorCode::kIo,
                              "writing '" + index_tmp.string() + "' came up short (" +
                                  std::to_string(bytes) + " of " + std::to_string(expected) +
                                  " bytes)");
        }
        auto checksum = file_checksum(index_tmp);
        if (!checksum) {
            return checksum.error();
        }
        {
            std::ofstream meta(meta_tmp, std::ios::trunc);
            meta << kMetaMagic << "\n"
                 << "dimensions " << options_.dimensions << "\n"
                 << "model "
                 << (options_.model_id.empty() ? std::string("-") : meta_token(options_.model_id))
                 << "\n"
                 << "m " << options_.m << "\n"
                 << "ef_construction " << options_.ef_construction << "\n"
                 << "applied_seq " << applied_seq_.load() << "\n"
                 << "count " << live_.load() << "\n"
                 << "file_bytes " << bytes << "\n"
                 << "checksum " << std::hex << *checksum << std::dec << "\n";
            meta.flush();
            if (!meta) {
                return core::fail(core::ErrorCode::kIo,
                                  "writing '" + meta_tmp.string() + "' failed");
            }
        }
        if (auto synced = fsync_path(index_tmp, false); !synced) {
            return synced;
        }
        if (auto synced = fsync_path(meta_tmp, false); !synced) {
            return synced;
        }
        // Index first, meta last: a crash in between leaves a meta whose checksum does not
        // match, so the next start rebuilds instead of trusting a half-swapped pair.
        fs::rename(index_tmp, dir / kIndexFile, ec);
        if (!ec) {
            fs::rename(meta_tmp, dir / kMetaFile, ec);
        }
        if (ec) {
            return core::fail(core::ErrorCode::kIo,
                              "renaming vector index files in '" + dir_ + "': " + ec.message());
        }
        return fsync_path(dir, true);
    }

    std::uint64_t memory_bytes() const override {
        std::shared_lock resize_lock(resize_mutex_);
        const auto& index = *index_;
        std::uint64_t bytes = index.max_elements_ * index.size_data_per_element_;
        bytes += index.max_elements_ *
                 (sizeof(std::mutex) + sizeof(int) + sizeof(char*) + sizeof(hnswlib::vl_type));
        // Upper layers hold about 1/(M-1) of the elements' link lists.
        bytes += index.cur_element_count * index.size_links_per_element_ /
                 std::max<std::size_t>(1, index.M_ - 1);
        bytes += index.label_lookup_.size() * 48;  // unordered_map node + bucket
        return bytes;
    }

    std::vector<std::int64_t> chunk_ids() const override {
        std::vector<std::int64_t> ids;
        {
            // The label map is only safe from concurrent writers under write_mutex_ (taken
            // first, as everywhere here).
            std::lock_guard write_lock(write_mutex_);
            std::shared_lock resize_lock(resize_mutex_);
            ids.reserve(index_->label_lookup_.size());
            for (const auto& [label, internal] : index_->label_lookup_) {
                if (!index_->isMarkedDeleted(internal)) {
                    ids.push_back(static_cast<std::int64_t>(label));
                }
            }
        }
        std::sort(ids.begin(), ids.end());
        return ids;
    }

    void clear() override {
        std::lock_guard write_lock(write_mutex_);
        std::unique_lock resize_lock(resize_mutex_);
        create_empty();
    }

private:
    /// The size hnswlib's saveIndex writes (mirrors its layout; called under the locks).
    std::uint64_t index_bytes_on_disk() const {
        const auto& index = *index_;
        std::uint64_t bytes = 0;
        bytes += sizeof(index.offsetLevel0_) + sizeof(index.max_elements_) +
                 sizeof(index.cur_element_count) + sizeof(index.size_data_per_element_) +
                 sizeof(index.label_offset_) + sizeof(index.offsetData_) + sizeof(index.maxlevel_) +
                 sizeof(index.enterpoint_node_) + sizeof(index.maxM_) + sizeof(index.maxM0_) +
                 sizeof(index.M_) + sizeof(index.mult_) + sizeof(index.ef_construction_);
        bytes += index.cur_element_count * index.size_data_per_element_;
        for (std::size_t internal = 0; internal < index.cur_element_count; ++internal) {
            bytes += sizeof(unsigned int);
            if (index.element_levels_[internal] > 0) {
                bytes += index.size_links_per_element_ *
                         static_cast<std::size_t>(index.element_levels_[internal]);
            }
        }
        return bytes;
    }

    std::string dir_;
    VectorIndexOptions options_;
    Int8DotSpace space_;  // must outlive index_, which keeps a pointer into it
    std::unique_ptr<hnswlib::HierarchicalNSW<float>> index_;
    /// Serialises add/remove/save: hnswlib's label map is not safe for concurrent writers.
    mutable std::mutex write_mutex_;
    /// Shared by every index operation, exclusive for resizeIndex (which reallocates).
    mutable std::shared_mutex resize_mutex_;
    std::atomic<std::size_t> live_{0};
    std::atomic<std::int64_t> applied_seq_{0};
};

}  // namespace

core::Result<std::unique_ptr<VectorIndex>> open_vector_index(const std::string& dir,
                                                             const VectorIndexOptions& options,
                                                             std::string* load_problem) {
    if (options.dimensions == 0 || options.m < 2 || options.ef_construction == 0) {
        return core::fail(core::ErrorCode::kInvalidArgument,
                          "vector index options need dimensions > 0, m >= 2 and "
                          "ef_construction > 0 (got " +
                              std::to_string(options.dimensions) + ", " +
                              std::to_string(options.m) + ", " +
                              std::to_string(options.ef_construction) + ")");
    }
    auto index = std::make_unique<HnswVectorIndex>(dir, options);
    std::error_code ec;
    bool has_files =
        fs::exists(fs::path(dir) / kIndexFile, ec) || fs::exists(fs::path(dir) / kMetaFile, ec);
    if (has_files) {
        if (auto loaded = index->load(); !loaded) {
            if (load_problem != nullptr) {
                *load_problem = "vector index in '" + dir + "' ignored: " + loaded.error().detail;
            }
            index->create_empty();
        }
    } else {
        index->create_empty();
    }
    return std::unique_ptr<VectorIndex>(std::move(index));
}

}  // namespace ragd::retrieval
