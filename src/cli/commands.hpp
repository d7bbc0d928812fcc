// The subcommands of the ragd binary. Each returns the process exit code; main.cpp only parses
// arguments, so everything here is reachable from tests.
#pragma once

#include <string>
#include <vector>

#include "core/config.hpp"

namespace ragd::cli {

struct EvalOptions {
    std::string beir_dir;
    std::string mode = "hybrid";  ///< hybrid | vector | bm25
    std::string run_out;          ///< TREC run file, empty for none
    bool keep_data = false;       ///< true when --data was given (no scratch directory)
    /// Documents ranked per query. Below 100, Recall@100 counts only that many; a shallow
    /// depth lets retrieval.candidates be tuned for top_k-sized requests (nDCG@10 at depth 10).
    std::size_t depth = 100;
};

int run_serve(const core::Config& config);
int run_ingest(core::Config config, const std::vector<std::string>& paths);
int run_query(const core::Config& config, const std::string& text, std::size_t top_k, bool json);
int run_search(const core::Config& config, const std::string& text, std::size_t top_k, bool json);
int run_stats(const core::Config& config);
int run_delete(const core::Config& config, const std::string& id);
int run_eval(core::Config config, const EvalOptions& options);

struct CheckCommandOptions {
    bool repair = false;  ///< rebuild or catch up the indexes that disagree, then check again
    bool json = false;    ///< print the report as JSON instead of text
    bool quick = false;   ///< SQLite quick_check instead of the full integrity_check
};

/// Exit codes of `ragd check`.
inline constexpr int kCheckConsistent = 0;
inline constexpr int kCheckInconsistent = 1;  ///< or the repair did not make it consistent
inline constexpr int kCheckUsageError = 2;    ///< bad arguments, or the data dir cannot be opened

int run_check(const core::Config& config, const CheckCommandOptions& options);

}  // namespace ragd::cli
