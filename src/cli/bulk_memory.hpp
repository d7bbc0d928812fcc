// Memory settings for the bulk commands (`ragd ingest`, `ragd eval`): glibc's malloc on
// transparent huge pages. Building the indexes is bound by memory latency (HNSW neighbour lists,
// posting lists and hash tables spread over ~100 MB for 15 MB of Markdown); with 4 KiB pages
// most of those reads also miss the TLB, and every first touch of a page is a page fault.
// glibc reads its tunables only when a process starts, so a bulk command re-executes itself
// once with them set (bench/README.md has the measurements).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ragd::cli {

/// What GLIBC_TUNABLES should be for a bulk command, or nullopt to leave the process as it is:
/// when transparent huge pages are off or unknown (`thp_enabled` is the first line of
/// /sys/kernel/mm/transparent_hugepage/enabled, "always [madvise] never"), or when `current`
/// already sets glibc.malloc.hugetlb (the operator's choice wins; it also ends the re-exec).
std::optional<std::string> bulk_malloc_tunables(std::optional<std::string_view> current,
                                                std::string_view thp_enabled);

/// Re-executes this binary, with the same arguments, with bulk_malloc_tunables() in its
/// environment. Returns, and the command runs as it is, when there is nothing to change, when a
/// preloaded library (valgrind, heaptrack, another allocator) is in charge of memory, or when the
/// exec fails. Call it before the command has done anything: the new image starts over at main().
void reexec_with_bulk_malloc_tunables(char** argv);

}  // namespace ragd::cli
