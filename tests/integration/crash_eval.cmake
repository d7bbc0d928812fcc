# Slow black-box tests of the real binary: crash recovery under SIGKILL, and the pgdocs quality
# floor. include()d from tests/integration/CMakeLists.txt.
if(NOT Python3_EXECUTABLE)
    find_package(Python3 REQUIRED COMPONENTS Interpreter)
endif()

add_test(NAME integration_crash_recovery
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/crash_recovery_test.py)
set_tests_properties(integration_crash_recovery PROPERTIES
    ENVIRONMENT "RAGD_BIN=$<TARGET_FILE:ragd>;PYTHONDONTWRITEBYTECODE=1"
    LABELS "integration;slow"
    TIMEOUT 600)

# The pgdocs set lives in shared/ beside the project root; a missing folder fails the test.
add_test(NAME integration_eval_floor
    COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/eval_floor_test.py
            ${PROJECT_SOURCE_DIR}/../shared/data/pgdocs)
set_tests_properties(integration_eval_floor PROPERTIES
    ENVIRONMENT "RAGD_BIN=$<TARGET_FILE:ragd>;PYTHONDONTWRITEBYTECODE=1"
    LABELS "integration;slow"
    TIMEOUT 1800)
