#!/usr/bin/env bash
# Checks the README's promise on a fresh Debian bookworm: debootstraps a minimal system into
# DIR, copies this tree (and ../shared, the evaluation data) into it, installs make (the one
# thing a minimal image lacks), and runs `make test` inside a chroot; with --run, also `make
# run`, then asks the printed question and stops the server. CI on a developer machine cannot
# see a package that install-deps.sh forgot; this can. Root only; ~40 min on 2 cores.
#
# Usage: scripts/fresh-machine-check.sh DIR [--run]     (checks the committed tree: HEAD)
set -euo pipefail

dir=${1:?usage: $0 DIR [--run]}
want_run=${2:-}
root=$(cd "$(dirname "$0")/.." && pwd)
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

if [[ $(id -u) -ne 0 ]]; then
    echo "fresh-machine-check: needs root (debootstrap, chroot, mounts)" >&2
    exit 2
fi
command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap

if [[ ! -x "$dir/bin/bash" ]]; then
    debootstrap --variant=minbase bookworm "$dir" "$mirror"
fi
cat >"$dir/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES
cp /etc/resolv.conf "$dir/etc/resolv.conf"
grep -q localhost "$dir/etc/hosts" 2>/dev/null || echo "127.0.0.1 localhost" >>"$dir/etc/hosts"

mount -t proc proc "$dir/proc"
mount --rbind /sys "$dir/sys"
mount --rbind /dev "$dir/dev"
mount -t tmpfs tmpfs "$dir/tmp"
cleanup() {
    umount -R "$dir/tmp" "$dir/dev" "$dir/sys" "$dir/proc" 2>/dev/null || true
}
trap cleanup EXIT

rm -rf "$dir/root/ragd"
mkdir -p "$dir/root/ragd"
git -C "$root" archive --format=tar --prefix=main/ HEAD | tar -x -C "$dir/root/ragd"
if [[ -d "$root/../shared" ]]; then
    cp -r "$root/../shared" "$dir/root/ragd/shared"
fi

chroot "$dir" bash -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq make >/dev/null'
chroot "$dir" bash -c 'cd /root/ragd/main && make test'
echo "fresh-machine-check: make test passed"

if [[ "$want_run" == "--run" ]]; then
    # The chroot shares this machine's network: 127.0.0.1:8080 must be free.
    log="$dir/tmp/make-run.log"
    setsid chroot "$dir" bash -c 'cd /root/ragd/main && exec make run' >"$log" 2>&1 &
    server=$!
    for _ in $(seq 1 120); do
        grep -q "curl -s" "$log" && break
        sleep 5
    done
    answer=$(curl -sf http://127.0.0.1:8080/v1/query -H 'Content-Type: application/json' \
        -d '{"query": "How do I delete a document?"}' || true)
    kill -- -"$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    echo "$answer" | grep -q '"sources"' || { echo "fresh-machine-check: no answer" >&2; exit 1; }
    echo "fresh-machine-check: make run served a cited answer"
fi
