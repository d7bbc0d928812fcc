// Presenting bench results: the human table printed per level, the JSON file with every level,
// and a self-contained HTML report (inline SVG charts, no external scripts or styles).
#pragma once

#include <string>
#include <vector>

#include "loadgen/level_stats.hpp"
#include "loadgen/options.hpp"

namespace ragd::loadgen {

/// Column headings for the table; TTFB and first-SSE-event columns appear when `stream`.
std::string table_header(bool open_loop, bool stream);
/// One table row for a level, matching table_header's columns.
std::string table_row(const LevelResult& level, bool stream);

/// Every level as JSON: {"url", "method", "mode", "duration_s", ..., "levels": [...]}, with
/// latencies in milliseconds.
std::string report_json(const BenchOptions& options, const std::vector<LevelResult>& levels);
/// The HTML report: run parameters, the table, latency percentiles and throughput against
/// users (or rate).
std::string report_html(const BenchOptions& options, const std::vector<LevelResult>& levels);

}  // namespace ragd::loadgen
