# libFuzzer harness for the mock LLM's request decoder; include()d from tests/fuzz/CMakeLists.txt
# inside its if(RAGD_BUILD_FUZZ) block. Only the decoder, the word counter it uses and its
# helpers are compiled in (with ragd_core): no Asio, and no need for the mock layer to be configured.
ragd_add_fuzzer(fuzz_mock_request ${CMAKE_CURRENT_LIST_DIR}/fuzz_mock_request.cpp ragd_core)
if(TARGET fuzz_mock_request)
    target_sources(fuzz_mock_request PRIVATE
        ${PROJECT_SOURCE_DIR}/src/mock/chat_request.cpp
        ${PROJECT_SOURCE_DIR}/src/mock/embeddings.cpp
        ${PROJECT_SOURCE_DIR}/src/mock/rerank.cpp
        ${PROJECT_SOURCE_DIR}/src/mock/text_generator.cpp
        ${PROJECT_SOURCE_DIR}/src/mock/options.cpp)
    target_link_libraries(fuzz_mock_request PRIVATE Boost::json)
endif()
