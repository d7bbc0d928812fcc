# libFuzzer harness for the HTTP request parser and router; include()d from
# tests/fuzz/CMakeLists.txt inside its if(RAGD_BUILD_FUZZ) block (clang++-14).
ragd_add_fuzzer(fuzz_http_request ${CMAKE_CURRENT_LIST_DIR}/fuzz_http_request.cpp ragd_http)
if(TARGET fuzz_http_request)
    # clang 14's -fsanitize=function cannot compile coroutines (server.cpp, session.cpp):
    # "Cannot represent a difference across sections". The rest of UBSan stays on.
    target_compile_options(fuzz_http_request PRIVATE -fno-sanitize=function)
    target_compile_options(fuzz_objects_ragd_http PRIVATE -fno-sanitize=function)
endif()

# The SSE parser needs nothing but its own source (no Asio), so only that is compiled in.
ragd_add_fuzzer(fuzz_sse ${CMAKE_CURRENT_LIST_DIR}/fuzz_sse.cpp)
if(TARGET fuzz_sse)
    target_sources(fuzz_sse PRIVATE ${PROJECT_SOURCE_DIR}/src/http/sse_parser.cpp)
    target_include_directories(fuzz_sse PRIVATE ${PROJECT_SOURCE_DIR}/src)
endif()

# W3C Trace Context parsing: plain strings, only its own source.
ragd_add_fuzzer(fuzz_trace_context ${CMAKE_CURRENT_LIST_DIR}/fuzz_trace_context.cpp)
if(TARGET fuzz_trace_context)
    target_sources(fuzz_trace_context PRIVATE ${PROJECT_SOURCE_DIR}/src/http/trace_context.cpp)
    target_include_directories(fuzz_trace_context PRIVATE ${PROJECT_SOURCE_DIR}/src)
endif()

# The outbound client's response reading, over a loopback connection to a scripted upstream.
ragd_add_fuzzer(fuzz_http_response ${CMAKE_CURRENT_LIST_DIR}/fuzz_http_response.cpp ragd_http)
if(TARGET fuzz_http_response)
    target_compile_options(fuzz_http_response PRIVATE -fno-sanitize=function)  # as above
endif()

# The AWS event stream parser (Bedrock's streamed answers): its own source and the fix-up header.
ragd_add_fuzzer(fuzz_aws_event_stream ${CMAKE_CURRENT_LIST_DIR}/fuzz_aws_event_stream.cpp)
if(TARGET fuzz_aws_event_stream)
    target_sources(fuzz_aws_event_stream PRIVATE ${PROJECT_SOURCE_DIR}/src/http/aws_event_stream.cpp)
    target_include_directories(fuzz_aws_event_stream PRIVATE ${PROJECT_SOURCE_DIR}/src)
endif()

# The parsers of AWS temporary credentials (container endpoint / IMDS JSON, STS XML): their
# own source, core's UTF-8 helpers and Boost.JSON.
ragd_add_fuzzer(fuzz_aws_credentials ${CMAKE_CURRENT_LIST_DIR}/fuzz_aws_credentials.cpp ragd_core)
if(TARGET fuzz_aws_credentials)
    target_sources(fuzz_aws_credentials PRIVATE ${PROJECT_SOURCE_DIR}/src/http/aws_credential_parse.cpp)
    target_include_directories(fuzz_aws_credentials PRIVATE ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(fuzz_aws_credentials PRIVATE Boost::json)
endif()
