# libFuzzer harness for the Redis reply reader; include()d from tests/fuzz/CMakeLists.txt inside
# its if(RAGD_BUILD_FUZZ) block. Only the reader is compiled in (with ragd_core and Debian's
# hiredis): no Asio, and no need for the cache layer to be configured.
ragd_add_fuzzer(fuzz_redis_reply ${CMAKE_CURRENT_LIST_DIR}/fuzz_redis_reply.cpp ragd_core)
if(TARGET fuzz_redis_reply)
    target_sources(fuzz_redis_reply PRIVATE ${PROJECT_SOURCE_DIR}/src/cache/redis_reply.cpp)
    target_link_libraries(fuzz_redis_reply PRIVATE PkgConfig::HIREDIS)
endif()
