# libFuzzer harness for the config loader; include()d from tests/fuzz/CMakeLists.txt inside its
# if(RAGD_BUILD_FUZZ) block. ragd_config's sources are compiled in; toml++ stays Debian's shared
# library, as in ragd itself: compiled header-only under UBSan, toml++ 3.3.0 stops at once on its
# known "unreachable" in is_non_ascii_horizontal_whitespace() (marzer/tomlplusplus#190, #295),
# which Debian's build survives for every code point (checked over the whole BMP).
ragd_add_fuzzer(fuzz_config ${CMAKE_CURRENT_LIST_DIR}/fuzz_config.cpp ragd_config)
if(TARGET fuzz_config)
    # The round-trip check skips values that are not UTF-8; the validator is self-contained.
    target_sources(fuzz_config PRIVATE ${PROJECT_SOURCE_DIR}/src/core/utf8.cpp)
endif()
