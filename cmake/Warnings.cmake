# Warnings are errors on ragd's own code; third-party headers are included as SYSTEM.
# -Wrestrict is off: GCC 12 at -O3 reports false positives inside std::string's operator+
# (GCC bug 105329), and -Wmismatched-new-delete fires inside Asio's coroutine frame
# allocator at -O3 (it pairs its own operator new with free on purpose); both would fail
# Release builds of correct code.
function(ragd_set_warnings target)
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Werror
        -Wno-missing-field-initializers
        $<$<CXX_COMPILER_ID:GNU>:-Wno-restrict -Wno-mismatched-new-delete>)
endfunction()
