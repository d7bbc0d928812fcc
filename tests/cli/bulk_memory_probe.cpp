// Test helper for bulk_memory_test: re-executes itself like `ragd ingest`, then prints how many
// images ran (RAGD_PROBE_IMAGES counts them across the exec), its arguments and GLIBC_TUNABLES.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cli/bulk_memory.hpp"

int main(int argc, char** argv) {
    const char* images = std::getenv("RAGD_PROBE_IMAGES");
    const int count = images != nullptr ? std::atoi(images) + 1 : 1;
    setenv("RAGD_PROBE_IMAGES", std::to_string(count).c_str(), 1);
    ragd::cli::reexec_with_bulk_malloc_tunables(argv);
    const char* tunables = std::getenv("GLIBC_TUNABLES");
    std::printf("images=%d\n", count);
    for (int arg_idx = 1; arg_idx < argc; ++arg_idx) {
        std::printf("arg=%s\n", argv[arg_idx]);
    }
    std::printf("tunables=%s\n", tunables != nullptr ? tunables : "(unset)");
    return 0;
}
