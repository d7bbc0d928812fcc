# The README's two commands: `make run` and `make test`. Everything else is a helper.
BUILD_DIR ?= build
ASAN_BUILD_DIR ?= build-asan
JOBS ?= $(shell nproc)
DATA_DIR ?= ./ragd-data
LISTEN ?= 127.0.0.1:8080

.PHONY: run test deps test-deps build build-tests asan-test tsan-test fuzz format clean
FUZZ_BUILD_DIR ?= build-fuzz
FUZZ_SECONDS ?= 20

run: deps build
	scripts/run.sh $(BUILD_DIR)/ragd $(DATA_DIR) $(LISTEN)

# Release build: every test. Then the unit and integration tests again under ASan+UBSan
# (the crash-recovery and eval tests, labelled slow, run once, in Release), the multi-threaded
# unit tests under TSan, and the fuzzers.
test: test-deps build-tests
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j$(JOBS) --timeout 900
	$(MAKE) asan-test
	$(MAKE) tsan-test
	$(MAKE) fuzz

deps:
	scripts/install-deps.sh

test-deps:
	scripts/install-deps.sh --test

build:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD_DIR) --target ragd -j$(JOBS)

build-tests:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD_DIR) -j$(JOBS)

# The unit and integration tests under AddressSanitizer + UndefinedBehaviorSanitizer.
# new_delete_type_mismatch is off because Debian's libxapian 1.4.22 trips it inside
# Xapian::Database::check (a sized delete in the library, not in ragd).
asan-test:
	cmake -S . -B $(ASAN_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug \
		-DRAGD_SANITIZE=address,undefined -DRAGD_BUILD_BENCH=OFF
	cmake --build $(ASAN_BUILD_DIR) -j$(JOBS)
	ASAN_OPTIONS=new_delete_type_mismatch=0 \
		ctest --test-dir $(ASAN_BUILD_DIR) --output-on-failure -j$(JOBS) -LE slow --timeout 900

# The unit tests labelled "tsan" in tests/CMakeLists.txt (those running code on several threads)
# under ThreadSanitizer, configuring only the layers they need. tests/tsan.supp lists the reports
# inside third-party code, each with its reason.
TSAN_BUILD_DIR ?= build-tsan
TSAN_LAYERS ?= core;metrics;http;loadgen;mock;storage;embed;retrieval;cache;llm
tsan-test:
	cmake -S . -B $(TSAN_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DRAGD_SANITIZE=thread -DRAGD_BUILD_BENCH=OFF -DRAGD_ONLY_LAYERS="$(TSAN_LAYERS)"
	cmake --build $(TSAN_BUILD_DIR) --target ragd_tsan_tests -j$(JOBS)
	TSAN_OPTIONS="suppressions=$(CURDIR)/tests/tsan.supp second_deadlock_stack=1 history_size=4" \
		ctest --test-dir $(TSAN_BUILD_DIR) --output-on-failure -j$(JOBS) -L tsan --timeout 600

# Every libFuzzer target (parsers that see network or file bytes) for FUZZ_SECONDS each.
fuzz:
	scripts/fuzz.sh $(FUZZ_BUILD_DIR) $(FUZZ_SECONDS)

format:
	find src tests bench -name '*.cpp' -o -name '*.hpp' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR) $(ASAN_BUILD_DIR) $(TSAN_BUILD_DIR) $(FUZZ_BUILD_DIR)
