// Reading one sample out of Prometheus text output, for the metrics tests.
#pragma once

#include <cstdlib>
#include <optional>
#include <sstream>
#include <string>

namespace ragd::metrics::test_support {

/// The value of the sample whose name and labels are exactly `series` (as printed), or nullopt.
inline std::optional<double> sample(const std::string& text, const std::string& series) {
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
            line[series.size()] == ' ') {
            return std::strtod(line.c_str() + series.size() + 1, nullptr);
        }
    }
    return std::nullopt;
}

}  // namespace ragd::metrics::test_support
