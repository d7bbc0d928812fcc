#include "cli/bulk_memory.hpp"

#include <climits>
#include <cstdlib>
#include <fstream>

#include <unistd.h>

namespace ragd::cli {
namespace {

constexpr std::string_view kHugePagesKey = "glibc.malloc.hugetlb";
constexpr std::string_view kMmapThresholdKey = "glibc.malloc.mmap_threshold";
// hugetlb=1: malloc advises the kernel to back what it maps with huge pages (MADV_HUGEPAGE).
constexpr std::string_view kHugePages = "glibc.malloc.hugetlb=1";
// Without a fixed threshold, each allocation above 128 KiB (a growing posting list, a hash
// table's next size) gets a mapping of its own, in 4 KiB pages unless it is 2 MiB or more, and
// is unmapped again when freed. Up to 32 MiB they now come from the huge-page heap.
constexpr std::string_view kMmapThreshold = "glibc.malloc.mmap_threshold=33554432";

constexpr const char* kThpEnabledPath = "/sys/kernel/mm/transparent_hugepage/enabled";

bool mentions(std::string_view tunables, std::string_view key) {
    return tunables.find(key) != std::string_view::npos;
}

}  // namespace

std::optional<std::string> bulk_malloc_tunables(std::optional<std::string_view> current,
                                                std::string_view thp_enabled) {
    const bool thp_available = thp_enabled.find("[always]") != std::string_view::npos ||
                               thp_enabled.find("[madvise]") != std::string_view::npos;
    if (!thp_available) {
        return std::nullopt;
    }
    const std::string_view existing = current.value_or(std::string_view{});
    if (mentions(existing, kHugePagesKey)) {
        return std::nullopt;
    }
    std::string tunables(existing);
    auto append = [&tunables](std::string_view setting) {
        if (!tunables.empty()) {
            tunables += ':';
        }
        tunables += setting;
    };
    append(kHugePages);
    if (!mentions(existing, kMmapThresholdKey)) {
        append(kMmapThreshold);
    }
    return tunables;
}

void reexec_with_bulk_malloc_tunables(char** argv) {
    if (const char* preload = std::getenv("LD_PRELOAD"); preload != nullptr && *preload != '\0') {
        return;  // valgrind, heaptrack or another malloc: the exec would escape or confuse them
    }
    std::string thp_enabled;
    {
        std::ifstream in(kThpEnabledPath);
        std::getline(in, thp_enabled);
    }
    const char* raw_current = std::getenv("GLIBC_TUNABLES");
    const std::optional<std::string> current =
        raw_current != nullptr ? std::optional<std::string>(raw_current) : std::nullopt;
    const std::optional<std::string> wanted = bulk_malloc_tunables(current, thp_enabled);
    if (!wanted) {
        return;
    }
    char self[PATH_MAX];
    const ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
    if (length <= 0) {
        return;
    }
    self[length] = '\0';
    if (setenv("GLIBC_TUNABLES", wanted->c_str(), 1) != 0) {
        return;
    }
    execv(self, argv);
    // Still here: the exec failed (the binary was replaced or removed meanwhile). Carry on with
    // the environment as it was.
    if (current) {
        setenv("GLIBC_TUNABLES", current->c_str(), 1);
    } else {
        unsetenv("GLIBC_TUNABLES");
    }
}

}  // namespace ragd::cli
