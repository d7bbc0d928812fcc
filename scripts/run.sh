#!/usr/bin/env bash
# `make run`: ingest the bundled docs/ into the data dir, start the server, print how to ask.
set -euo pipefail
ragd=${1:-build/ragd}
data=${2:-./ragd-data}
listen=${3:-127.0.0.1:8080}
cd "$(dirname "$0")/.."

"$ragd" ingest --data "$data" docs

log=$(mktemp)
"$ragd" serve --data "$data" --listen "$listen" >"$log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT INT TERM
for _ in $(seq 1 100); do
    if grep -q '^listening on ' "$log"; then
        break
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "ragd serve exited early" >&2
        exit 1
    fi
    sleep 0.1
done
addr=$(sed -n 's/^listening on //p' "$log" | head -n1)
cat <<MSG

ragd is serving ./docs on http://$addr (Ctrl-C to stop). Ask it something:

  curl -s http://$addr/v1/query -H 'Content-Type: application/json' \\
       -d '{"query": "How do I delete a document?"}'

MSG
wait $pid
