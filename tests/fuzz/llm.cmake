# libFuzzer harness for what ragd reads from an LLM upstream; include()d from
# tests/fuzz/CMakeLists.txt inside its if(RAGD_BUILD_FUZZ) block. Only the wire dialects and the
# SSE and AWS event stream parsers (and the embeddings answer parser) are compiled in (with ragd_core): no Asio, and no need for the llm layer to be
# configured.
ragd_add_fuzzer(fuzz_llm_stream ${CMAKE_CURRENT_LIST_DIR}/fuzz_llm_stream.cpp ragd_core)
if(TARGET fuzz_llm_stream)
    target_sources(fuzz_llm_stream PRIVATE
        ${PROJECT_SOURCE_DIR}/src/llm/wire_protocol.cpp
        ${PROJECT_SOURCE_DIR}/src/llm/rerank_protocol.cpp
        ${PROJECT_SOURCE_DIR}/src/embed/embedding_protocol.cpp
        ${PROJECT_SOURCE_DIR}/src/llm/wire_json.cpp
        ${PROJECT_SOURCE_DIR}/src/llm/bedrock_protocol.cpp
        ${PROJECT_SOURCE_DIR}/src/http/aws_event_stream.cpp
        ${PROJECT_SOURCE_DIR}/src/http/aws_sigv4.cpp
        ${PROJECT_SOURCE_DIR}/src/http/message.cpp
        ${PROJECT_SOURCE_DIR}/src/http/sse_parser.cpp)
    target_link_libraries(fuzz_llm_stream PRIVATE Boost::json)
endif()
