# Use ccache when present: rebuilds of Beast-heavy files are the slowest part of the build.
find_program(RAGD_CCACHE ccache)
if(RAGD_CCACHE)
    set(CMAKE_CXX_COMPILER_LAUNCHER ${RAGD_CCACHE})
endif()
