#!/usr/bin/env bash
# Builds the libFuzzer targets with clang-14 and runs each for a bounded time; any crash, leak
# or sanitizer report fails the run. Seeds come from tests/fuzz/corpus/<target>/ (read-only);
# new inputs go to a scratch directory so the repository is never modified.
#   scripts/fuzz.sh [BUILD_DIR] [SECONDS_PER_TARGET]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-fuzz}
seconds=${2:-20}

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER=clang++-14 -DRAGD_BUILD_FUZZ=ON -DRAGD_BUILD_TESTS=ON \
    -DRAGD_BUILD_BENCH=OFF -DRAGD_ONLY_LAYERS="core;http;ingest" >/dev/null
targets=(fuzz_markdown fuzz_html fuzz_chunker fuzz_pdf_text fuzz_http_request fuzz_json_request
    fuzz_sse fuzz_llm_stream fuzz_config fuzz_bench_response fuzz_mock_request fuzz_redis_reply
    fuzz_http_response fuzz_trace_context fuzz_aws_event_stream fuzz_aws_credentials)
cmake --build "$build" --target "${targets[@]}" -j"$(nproc)"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
status=0
for target in "${targets[@]}"; do
    mkdir -p "$scratch/$target"
    log="$scratch/$target.log"
    if "$build/tests/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$scratch/$target-" "$scratch/$target" "tests/fuzz/corpus/$target" \
        >"$log" 2>&1; then
        runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -n1)
        echo "fuzz $target: ok (${runs:-no summary}) in ${seconds}s"
    else
        echo "fuzz $target: FAILED" >&2
        tail -n 40 "$log" >&2
        status=1
    fi
done
exit $status
