// The process_* figures, read from /proc/self the way Prometheus's own client libraries do, so
// dashboards built for other exporters work unchanged.
#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "metrics/metrics.hpp"

namespace ragd::metrics {
namespace {

std::optional<std::string> read_file(const char* path) {
    std::ifstream in(path);
    if (!in) {
        return std::nullopt;
    }
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// Seconds since the epoch at which the machine booted ("btime" in /proc/stat).
std::optional<double> boot_time_seconds() {
    std::ifstream in("/proc/stat");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("btime ", 0) == 0) {
            return std::stod(line.substr(6));
        }
    }
    return std::nullopt;
}

std::optional<double> count_open_fds() {
    DIR* dir = ::opendir("/proc/self/fd");
    if (dir == nullptr) {
        return std::nullopt;
    }
    double count = 0;
    while (const dirent* entry = ::readdir(dir)) {
        if (entry->d_name[0] != '.') {
            ++count;
        }
    }
    ::closedir(dir);
    // The listing includes the descriptor opendir() used to read it.
    return count > 0 ? count - 1 : 0;
}

}  // namespace

std::optional<ProcessSnapshot> read_process_snapshot() {
    const auto stat = read_file("/proc/self/stat");
    const auto boot = boot_time_seconds();
    const auto fds = count_open_fds();
    if (!stat || !boot || !fds) {
        return std::nullopt;
    }
    // The command name (field 2) may hold spaces and parentheses: fields restart after the
    // last ')'. Field N of proc(5) is fields[N - 3].
    const std::size_t close = stat->rfind(')');
    if (close == std::string::npos) {
        return std::nullopt;
    }
    std::istringstream rest(stat->substr(close + 1));
    std::vector<std::string> fields{std::istream_iterator<std::string>(rest),
                                    std::istream_iterator<std::string>()};
    if (fields.size() < 22) {
        return std::nullopt;
    }
    const double ticks_per_second = static_cast<double>(::sysconf(_SC_CLK_TCK));
    const double page_bytes = static_cast<double>(::sysconf(_SC_PAGESIZE));
    ProcessSnapshot snapshot;
    try {
        snapshot.cpu_seconds = (std::stod(fields[11]) + std::stod(fields[12])) / ticks_per_second;
        snapshot.start_time_seconds = *boot + std::stod(fields[19]) / ticks_per_second;
        snapshot.virtual_memory_bytes = std::stod(fields[20]);
        snapshot.resident_memory_bytes = std::stod(fields[21]) * page_bytes;
    } catch (const std::exception&) {
        return std::nullopt;  // a kernel with a different stat layout: export nothing wrong
    }
    snapshot.open_fds = *fds;
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
        snapshot.max_fds = static_cast<double>(limit.rlim_cur);
    }
    return snapshot;
}

}  // namespace ragd::metrics
