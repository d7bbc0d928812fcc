// The build's version and commit, baked in by CMake (see src/metrics/CMakeLists.txt). Its own
// TU so that a new commit recompiles only this file.
#include "metrics/metrics.hpp"

#ifndef RAGD_VERSION
#error "RAGD_VERSION must be defined by the build"
#endif
#ifndef RAGD_GIT_COMMIT
#define RAGD_GIT_COMMIT "unknown"
#endif

namespace ragd::metrics {

BuildInfo build_info() {
    return BuildInfo{RAGD_VERSION, RAGD_GIT_COMMIT};
}

}  // namespace ragd::metrics
