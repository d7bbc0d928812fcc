// Layout (host byte order; a marker refuses a file from another byte order):
//   header: "RAGDBM25", u32 version, u32 byte-order marker, u64 options fingerprint,
//           i64 applied_seq, u64 payload bytes, u64 FNV-1a of the payload
//   payload: u32 n, n × (u32 len, term bytes)
//            u32 n, n × (string source, u32 pairs, pairs × (string key, string value))
//            u32 n, n × (i64 chunk id, u32 meta, u32 terms, terms × (u32 term, u32 wdf))
#include "retrieval/bm25_snapshot.hpp"

#include <cassert>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <fcntl.h>
#include <unistd.h>

namespace ragd::retrieval {
namespace {

namespace fs = std::filesystem;

constexpr char kMagic[8] = {'R', 'A', 'G', 'D', 'B', 'M', '2', '5'};
constexpr std::uint32_t kVersion = 1;
constexpr std::uint32_t kByteOrder = 0x01020304;
constexpr std::size_t kHeaderBytes = 8 + 4 + 4 + 8 + 8 + 8 + 8;

constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ULL;

std::uint64_t fnv1a64_continue(std::uint64_t hash, const char* data, std::size_t size) {
    for (std::size_t at = 0; at < size; ++at) {
        hash = (hash ^ static_cast<unsigned char>(data[at])) * 0x100000001b3ULL;
    }
    return hash;
}

std::uint64_t fnv1a64(const char* data, std::size_t size) {
    return fnv1a64_continue(kFnvOffset, data, size);
}

/// The fixed-size header; written last (over a placeholder) once the payload is known.
std::string header_bytes(std::uint64_t options_fingerprint,
                         std::int64_t applied_seq,
                         std::uint64_t payload_bytes,
                         std::uint64_t payload_hash) {
    std::string header(kMagic, sizeof kMagic);
    auto put = [&header](auto value) {
        header.append(reinterpret_cast<const char*>(&value), sizeof value);
    };
    put(kVersion);
    put(kByteOrder);
    put(options_fingerprint);
    put(applied_seq);
    put(payload_bytes);
    put(payload_hash);
    assert(header.size() == kHeaderBytes);
    return header;
}

/// Appends values to a file through a bounded buffer, hashing what it writes: the payload of a
/// large index is never held in memory whole.
class Writer {
public:
    explicit Writer(std::ofstream& out) : out_(&out) { buffer_.reserve(kFlushBytes); }

    template <class T>
    void put(T value) {
        append(reinterpret_cast<const char*>(&value), sizeof value);
    }
    void put_string(const std::string& text) {
        put(static_cast<std::uint32_t>(text.size()));
        append(text.data(), text.size());
    }
    /// Writes out what is buffered; size() and hash() then cover everything put so far.
    void flush() {
        hash_ = fnv1a64_continue(hash_, buffer_.data(), buffer_.size());
        out_->write(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
        size_ += buffer_.size();
        buffer_.clear();
    }
    std::uint64_t size() const { return size_; }
    std::uint64_t hash() const { return hash_; }

private:
    static constexpr std::size_t kFlushBytes = 1 << 20;

    void append(const char* data, std::size_t size) {
        buffer_.append(data, size);
        if (buffer_.size() >= kFlushBytes) {
            flush();
        }
    }

    std::ofstream* out_;
    std::string buffer_;
    std::uint64_t size_ = 0;
    std::uint64_t hash_ = kFnvOffset;
};

class Reader {
public:
    Reader(const char* data, std::size_t size) : data_(data), size_(size) {}

    template <class T>
    bool get(T& value) {
        if (size_ - pos_ < sizeof value) {
            return false;
        }
        std::memcpy(&value, data_ + pos_, sizeof value);
        pos_ += sizeof value;
        return true;
    }
    bool get_string(std::string& text) {
        std::uint32_t length = 0;
        if (!get(length) || size_ - pos_ < length) {
            return false;
        }
        text.assign(data_ + pos_, length);
        pos_ += length;
        return true;
    }
    /// A count of items of at least `min_item_bytes` each that the rest could hold.
    bool get_count(std::uint32_t& count, std::size_t min_item_bytes) {
        return get(count) && count <= (size_ - pos_) / min_item_bytes;
    }
    bool at_end() const { return pos_ == size_; }

private:
    const char* data_;
    std::size_t size_;
    std::size_t pos_ = 0;
};

core::Result<void> fsync_file(const fs::path& path, bool directory) {
    int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
    if (fd < 0) {
        return core::fail(core::ErrorCode::kIo,
                          "cannot open '" + path.string() + "': " + std::strerror(errno));
    }
    int rc = ::fsync(fd);
    int error = errno;
    ::close(fd);
    if (rc != 0) {
        return core::fail(core::ErrorCode::kIo,
                          "fsync of '" + path.string() + "' failed: " + std::strerror(error));
    }
    return {};
}

core::Error corrupt(const std::string& path, const std::string& why) {
    return core::Error{core::ErrorCode::kCorrupt, "BM25 snapshot '" + path + "': " + why};
}

}  // namespace

core::Result<void> write_bm25_snapshot(const std::string& path,
                                       const Bm25Snapshot& snapshot,
                                       std::uint64_t options_fingerprint) {
    fs::path target(path);
    fs::path temp = target;
    temp += ".tmp";
    {
        std::ofstream out(temp, std::ios::binary | std::ios::trunc);
        out.write(std::string(kHeaderBytes, '\0').data(),
                  static_cast<std::streamsize>(kHeaderBytes));  // a placeholder for now
        Writer payload(out);
        payload.put(static_cast<std::uint32_t>(snapshot.terms.size()));
        for (const std::string& term : snapshot.terms) {
            payload.put_string(term);
        }
        payload.put(static_cast<std::uint32_t>(snapshot.metas.size()));
        for (const SnapshotMeta& meta : snapshot.metas) {
            payload.put_string(meta.source);
            payload.put(static_cast<std::uint32_t>(meta.metadata.size()));
            for (const auto& [key, value] : meta.metadata) {
                payload.put_string(key);
                payload.put_string(value);
            }
        }
        payload.put(static_cast<std::uint32_t>(snapshot.docs.size()));
        for (const SnapshotDoc& doc : snapshot.docs) {
            payload.put(doc.chunk_id);
            payload.put(doc.meta);
            payload.put(static_cast<std::uint32_t>(doc.terms.size()));
            for (const SnapshotTerm& term : doc.terms) {
                payload.put(term.term);
                payload.put(term.wdf);
            }
        }
        payload.flush();
        const std::string header =
            header_bytes(options_fingerprint, snapshot.applied_seq, payload.size(), payload.hash());
        out.seekp(0);
        out.write(header.data(), static_cast<std::streamsize>(header.size()));
        out.flush();
        if (!out) {
            std::error_code ec;
            fs::remove(temp, ec);  // a full disk must not keep a half file's space
            return core::fail(core::ErrorCode::kIo, "writing '" + temp.string() + "' failed");
        }
    }
    if (auto synced = fsync_file(temp, false); !synced) {
        std::error_code ec;
        fs::remove(temp, ec);
        return synced.error();
    }
    std::error_code ec;
    fs::rename(temp, target, ec);
    if (ec) {
        fs::remove(temp, ec);
        return core::fail(
            core::ErrorCode::kIo,
            "renaming '" + temp.string() + "' to '" + path + "' failed: " + ec.message());
    }
    return fsync_file(target.parent_path().empty() ? fs::path(".") : target.parent_path(), true);
}

core::Result<Bm25Snapshot> read_bm25_snapshot(const std::string& path,
                                              std::uint64_t options_fingerprint) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return core::fail(core::ErrorCode::kIo, "cannot open '" + path + "'");
    }
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.size() < kHeaderBytes || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
        return corrupt(path, "not a ragd BM25 snapshot");
    }
    Reader header(bytes.data() + sizeof kMagic, kHeaderBytes - sizeof kMagic);
    std::uint32_t version = 0;
    std::uint32_t byte_order = 0;
    std::uint64_t fingerprint = 0;
    Bm25Snapshot snapshot;
    std::uint64_t payload_bytes = 0;
    std::uint64_t checksum = 0;
    header.get(version);
    header.get(byte_order);
    header.get(fingerprint);
    header.get(snapshot.applied_seq);
    header.get(payload_bytes);
    header.get(checksum);
    if (version != kVersion || byte_order != kByteOrder) {
        return corrupt(path,
                       "version " + std::to_string(version) + " is not " +
                           std::to_string(kVersion) + " (or another byte order)");
    }
    if (fingerprint != options_fingerprint) {
        return corrupt(path, "written with other indexing options (title/heading weights)");
    }
    if (payload_bytes != bytes.size() - kHeaderBytes) {
        return corrupt(path,
                       "truncated: " + std::to_string(bytes.size() - kHeaderBytes) +
                           " payload bytes, expected " + std::to_string(payload_bytes));
    }
    const char* body = bytes.data() + kHeaderBytes;
    if (fnv1a64(body, payload_bytes) != checksum) {
        return corrupt(path, "checksum mismatch");
    }
    Reader reader(body, payload_bytes);
    std::uint32_t count = 0;
    if (!reader.get_count(count, 4)) {
        return corrupt(path, "bad term count");
    }
    snapshot.terms.resize(count);
    for (std::string& term : snapshot.terms) {
        if (!reader.get_string(term) || term.empty()) {
            return corrupt(path, "bad term");
        }
    }
    if (!reader.get_count(count, 8)) {
        return corrupt(path, "bad metadata count");
    }
    snapshot.metas.resize(count);
    for (SnapshotMeta& meta : snapshot.metas) {
        std::uint32_t pairs = 0;
        if (!reader.get_string(meta.source) || !reader.get_count(pairs, 8)) {
            return corrupt(path, "bad metadata");
        }
        meta.metadata.resize(pairs);
        for (auto& [key, value] : meta.metadata) {
            if (!reader.get_string(key) || !reader.get_string(value)) {
                return corrupt(path, "bad metadata pair");
            }
        }
    }
    if (!reader.get_count(count, 16)) {
        return corrupt(path, "bad document count");
    }
    snapshot.docs.resize(count);
    for (SnapshotDoc& doc : snapshot.docs) {
        std::uint32_t terms = 0;
        if (!reader.get(doc.chunk_id) || !reader.get(doc.meta) || !reader.get_count(terms, 8) ||
            doc.meta >= snapshot.metas.size()) {
            return corrupt(path, "bad document");
        }
        doc.terms.resize(terms);
        for (SnapshotTerm& term : doc.terms) {
            if (!reader.get(term.term) || !reader.get(term.wdf) ||
                term.term >= snapshot.terms.size() || term.wdf == 0) {
                return corrupt(path, "bad term of chunk " + std::to_string(doc.chunk_id));
            }
        }
    }
    if (!reader.at_end()) {
        return corrupt(path, "trailing bytes");
    }
    return snapshot;
}

}  // namespace ragd::retrieval
