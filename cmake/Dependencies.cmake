# Every dependency is a Debian bookworm package (see scripts/install-deps.sh).
find_package(Threads REQUIRED)
find_package(Boost 1.81 REQUIRED COMPONENTS json url)
find_package(OpenSSL REQUIRED)
find_package(SQLite3 REQUIRED)
# libpq, for the shared system of record (src/storage/postgres_storage.cpp).
find_package(PostgreSQL REQUIRED)
find_package(Xapian CONFIG REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(tomlplusplus CONFIG REQUIRED)
# Core registry and text serializer only (target prometheus-cpp::core); ragd serves /metrics itself.
find_package(prometheus-cpp CONFIG REQUIRED)
# Logging: spdlog's async logger and sinks (spdlog::spdlog; Debian builds it on external fmt).
find_package(spdlog CONFIG REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(GUMBO REQUIRED IMPORTED_TARGET gumbo)
# cmark's CMake config insists on the cmark executable, which libcmark-dev does not ship.
pkg_check_modules(CMARK REQUIRED IMPORTED_TARGET libcmark)
# PDF text extraction (src/ingest/pdf_parser.cpp).
pkg_check_modules(POPPLER_CPP REQUIRED IMPORTED_TARGET poppler-cpp)
# Redis L2 cache: only the RESP reader and command formatter are used (src/cache/redis_client.cpp).
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)

find_path(HNSWLIB_INCLUDE_DIR hnswlib/hnswlib.h REQUIRED)
add_library(hnswlib INTERFACE IMPORTED)
target_include_directories(hnswlib SYSTEM INTERFACE ${HNSWLIB_INCLUDE_DIR})
# Every TU sees the same hnswlib (one definition); see src/retrieval/unit_dot_space.hpp for why
# its hand-written SSE path is off.
target_compile_definitions(hnswlib INTERFACE NO_MANUAL_VECTORIZATION)

add_library(xapian INTERFACE IMPORTED)
target_include_directories(xapian SYSTEM INTERFACE ${XAPIAN_INCLUDE_DIR})
target_link_libraries(xapian INTERFACE ${XAPIAN_LIBRARIES})

if(RAGD_BUILD_TESTS)
    find_package(GTest REQUIRED)
    include(GoogleTest)
endif()
if(RAGD_BUILD_BENCH)
    find_package(benchmark REQUIRED)
endif()
