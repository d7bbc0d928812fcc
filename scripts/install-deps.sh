#!/usr/bin/env bash
# Installs every Debian bookworm package ragd needs to build and run (and, with --test,
# to run its test suite). Idempotent: packages already present are skipped by apt.
set -euo pipefail

BUILD_PACKAGES=(
    build-essential cmake ninja-build pkg-config ccache git ca-certificates
    libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
    libssl-dev libsqlite3-dev libhnswlib-dev libxapian-dev
    libcmark-dev libgumbo-dev libpoppler-cpp-dev libcli11-dev libspdlog-dev libfmt-dev
    libtomlplusplus-dev prometheus-cpp-dev curl
    libhiredis-dev  # Redis L2 cache: hiredis' reader and formatter only, under Asio sockets
    libpq-dev  # PostgreSQL storage backend (libpq), shared by several replicas
)
TEST_PACKAGES=(
    libgtest-dev libgmock-dev libbenchmark-dev python3 clang-14 libclang-rt-14-dev
    prometheus  # promtool, which checks the /metrics exposition format
    redis-server  # the cache tests start a real one on an ephemeral port
    postgresql  # initdb and postgres: the storage tests start a throwaway server
    openssl  # the TLS tests make a CA and certificates with the openssl CLI
    util-linux  # mount: the disk-full test uses a small tmpfs
)

want=("${BUILD_PACKAGES[@]}")
if [[ "${1:-}" == "--test" ]]; then
    want+=("${TEST_PACKAGES[@]}")
fi

missing=()
for pkg in "${want[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done

if ((${#missing[@]} == 0)); then
    exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
    SUDO="sudo"
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
