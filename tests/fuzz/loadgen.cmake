# libFuzzer harness for the load generator's response parser; include()d from
# tests/fuzz/CMakeLists.txt inside its if(RAGD_BUILD_FUZZ) block. The parser is self-contained,
# so only its source is compiled in (no Asio, and no need for the loadgen layer).
ragd_add_fuzzer(fuzz_bench_response ${CMAKE_CURRENT_LIST_DIR}/fuzz_bench_response.cpp)
if(TARGET fuzz_bench_response)
    target_sources(fuzz_bench_response PRIVATE ${PROJECT_SOURCE_DIR}/src/loadgen/response_parser.cpp)
    target_include_directories(fuzz_bench_response PRIVATE ${PROJECT_SOURCE_DIR}/src)
endif()
