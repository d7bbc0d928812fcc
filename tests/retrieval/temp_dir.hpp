// A scratch directory per test, removed afterwards; unique per process and instance.
#pragma once

#include <filesystem>
#include <string>

#include <unistd.h>

namespace ragd::retrieval::testing {

class TempDir {
public:
    /// `prefix` names the test file in the path; `create` makes the directory now (an index
    /// that creates its own directory is better tested without).
    explicit TempDir(const std::string& prefix, bool create = false) {
        path_ = std::filesystem::temp_directory_path() /
                (prefix + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
        std::filesystem::remove_all(path_);
        if (create) {
            std::filesystem::create_directories(path_);
        }
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string str() const { return path_.string(); }
    std::filesystem::path path() const { return path_; }

private:
    static inline int counter_ = 0;
    std::filesystem::path path_;
};

}  // namespace ragd::retrieval::testing
