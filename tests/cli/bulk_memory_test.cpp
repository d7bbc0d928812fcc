#include "cli/bulk_memory.hpp"

#include <array>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include <gtest/gtest.h>

namespace ragd::cli {
namespace {

constexpr const char* kWanted = "glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=33554432";

TEST(BulkMallocTunables, SetWhenTransparentHugePagesCanBeAskedFor) {
    EXPECT_EQ(bulk_malloc_tunables(std::nullopt, "always [madvise] never"), kWanted);
    EXPECT_EQ(bulk_malloc_tunables(std::nullopt, "[always] madvise never"), kWanted);
    EXPECT_EQ(bulk_malloc_tunables("", "always [madvise] never"), kWanted);
}

TEST(BulkMallocTunables, NothingWhenTransparentHugePagesAreOffOrUnknown) {
    EXPECT_EQ(bulk_malloc_tunables(std::nullopt, "always madvise [never]"), std::nullopt);
    EXPECT_EQ(bulk_malloc_tunables(std::nullopt, ""), std::nullopt);  // no sysfs file
}

TEST(BulkMallocTunables, KeepsTheOperatorsOwnTunables) {
    EXPECT_EQ(bulk_malloc_tunables("glibc.malloc.tcache_count=0", "always [madvise] never"),
              std::string("glibc.malloc.tcache_count=0:") + kWanted);
    // Their own threshold stays the only one.
    EXPECT_EQ(bulk_malloc_tunables("glibc.malloc.mmap_threshold=1048576", "[always] madvise never"),
              "glibc.malloc.mmap_threshold=1048576:glibc.malloc.hugetlb=1");
}

TEST(BulkMallocTunables, AnExplicitHugePageChoiceWinsAndEndsTheReexec) {
    EXPECT_EQ(bulk_malloc_tunables("glibc.malloc.hugetlb=0", "always [madvise] never"),
              std::nullopt);
    EXPECT_EQ(bulk_malloc_tunables(kWanted, "always [madvise] never"), std::nullopt);
}

std::string thp_enabled() {
    std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
    std::string line;
    std::getline(in, line);
    return line;
}

/// Runs the probe under `env` (prefix of a shell command line) and returns what it printed.
std::string run_probe(const std::string& env) {
    const std::string command =
        // verify_asan_link_order=0: a sanitizer build would otherwise refuse the LD_PRELOAD case.
        "ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0\" "
        "env -u GLIBC_TUNABLES -u LD_PRELOAD -u RAGD_PROBE_IMAGES " +
        env + " " + RAGD_BULK_MEMORY_PROBE + " ingest 'two words' --data /x 2>&1";
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
    EXPECT_NE(pipe, nullptr);
    std::string out;
    std::array<char, 256> buffer{};
    while (pipe && std::fgets(buffer.data(), buffer.size(), pipe.get()) != nullptr) {
        out += buffer.data();
    }
    return out;
}

TEST(ReexecWithBulkMallocTunables, ExecsOnceWithTheSameArgumentsAndTheTunables) {
    const std::string out = run_probe("");
    const std::string args = "arg=ingest\narg=two words\narg=--data\narg=/x\n";
    if (bulk_malloc_tunables(std::nullopt, thp_enabled())) {
        EXPECT_EQ(out, "images=2\n" + args + "tunables=" + kWanted + "\n");
    } else {
        EXPECT_EQ(out, "images=1\n" + args + "tunables=(unset)\n");  // THP off on this machine
    }
}

TEST(ReexecWithBulkMallocTunables, LeavesAnOperatorsChoiceAndPreloadedToolsAlone) {
    EXPECT_EQ(run_probe("GLIBC_TUNABLES=glibc.malloc.hugetlb=0"),
              "images=1\narg=ingest\narg=two words\narg=--data\narg=/x\n"
              "tunables=glibc.malloc.hugetlb=0\n");
    // A preload that does nothing stands for valgrind or heaptrack, which the exec would escape.
    EXPECT_EQ(run_probe("LD_PRELOAD=libc.so.6"),
              "images=1\narg=ingest\narg=two words\narg=--data\narg=/x\ntunables=(unset)\n");
}

}  // namespace
}  // namespace ragd::cli
