// What the storage tests share: a temporary data directory and the documents and chunks they
// write (storage_contract_test.cpp, sqlite_storage_test.cpp, postgres_storage_test.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#include <unistd.h>

#include "storage/storage.hpp"

namespace ragd::storage::testing {

/// A fresh directory under the system temp directory, removed (with everything in it, even
/// after a test took its permissions away) on destruction.
class TempDir {
public:
    TempDir() {
        std::random_device rd;
        path_ = std::filesystem::temp_directory_path() /
                ("ragd-storage-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
        std::filesystem::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::permissions(
            path_, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ec);
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    std::string str() const { return path_.string(); }
    std::filesystem::path path() const { return path_; }

private:
    std::filesystem::path path_;
};

/// Document `id` in collection "notes", source "/docs/<id>.md", title "Title of <id>", with two
/// metadata entries.
inline DocumentRecord make_doc(const std::string& id, const std::string& hash) {
    DocumentRecord doc;
    doc.id = id;
    doc.collection = "notes";
    doc.source = "/docs/" + id + ".md";
    doc.title = "Title of " + id;
    doc.content_hash = hash;
    doc.metadata = {{"author", "ann"}, {"lang", "en"}};
    return doc;
}

/// `count` chunks with ordinals 0.., source ranges [idx*100, idx*100+99] and `dims`-dimensional
/// embeddings (seed + idx + 0.001*d); dims 0 writes no embeddings.
inline std::vector<NewChunk> make_chunks(std::size_t count, std::size_t dims, float seed = 0.0F) {
    std::vector<NewChunk> chunks;
    for (std::size_t idx = 0; idx < count; ++idx) {
        NewChunk chunk;
        chunk.ordinal = static_cast<std::uint32_t>(idx);
        chunk.text = "chunk text " + std::to_string(idx);
        chunk.heading_path = {"Intro", "Part " + std::to_string(idx)};
        chunk.source_begin = idx * 100;
        chunk.source_end = idx * 100 + 99;
        for (std::size_t d = 0; d < dims; ++d) {
            chunk.embedding.push_back(seed + static_cast<float>(idx) +
                                      0.001F * static_cast<float>(d));
        }
        chunks.push_back(std::move(chunk));
    }
    return chunks;
}

}  // namespace ragd::storage::testing
