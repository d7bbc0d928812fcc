# -DRAGD_SANITIZE=address,undefined builds everything (tests included) with those sanitizers.
if(RAGD_SANITIZE)
    add_compile_options(-fsanitize=${RAGD_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
    add_link_options(-fsanitize=${RAGD_SANITIZE})
    # GCC's flow analysis under sanitizer instrumentation reports a false
    # -Wmaybe-uninitialized inside Beast's basic_parser (asio_impl.cpp), and -Wtsan on Asio's
    # fences; neither is in ragd's code, and -Werror would stop the build.
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
        add_compile_options(-Wno-maybe-uninitialized)
        if(RAGD_SANITIZE MATCHES "thread")
            add_compile_options(-Wno-tsan)
        endif()
    endif()
endif()
