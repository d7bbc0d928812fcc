// `ragd bench`: validates the arguments, prepares the process (file descriptor limit, signals),
// runs each load level and prints, saves and returns the results.
#pragma once

#include "loadgen/options.hpp"

namespace ragd::loadgen {

/// Runs the whole command. Returns the exit code: 0 when the first level met --min-success,
/// 2 when it did not (the target is down or failing), 1 for bad arguments or when a report
/// file cannot be written.
int run_bench(const BenchArgs& args);

}  // namespace ragd::loadgen
