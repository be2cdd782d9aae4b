#!/usr/bin/env bash
# Peak memory of ingesting all of $(go env GOROOT)/src (std and cmd) into a
# fresh node: the client's maximum resident set size (/usr/bin/time -v),
# and the node's VmHWM and its peak RssAnon, sampled every 0.2 s (VmHWM
# also counts the pages of bbolt's memory map the node touched; RssAnon is
# its own memory). Extra arguments go to grafo ingest, e.g. --no-tests.
#   bench/ingest_memory.sh [--no-tests]
# PORT (default 17670) is the node's HTTP port, PORT+1 its cluster port;
# TREE (default GOROOT/src) the tree ingested.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
port=${PORT:-17670}
tree=${TREE:-$(go env GOROOT)/src}
go build -o "$work/grafo" ./cmd/grafo
. bench/lib.sh
machine
start_node mem "$port"
node=$last_pid
(
  peak=0
  while kill -0 "$node" 2>/dev/null; do
    a=$(awk '/RssAnon/{print $2}' "/proc/$node/status" 2>/dev/null || true)
    if [ -n "$a" ] && [ "$a" -gt "$peak" ]; then peak=$a; echo "$peak" >"$work/anon"; fi
    sleep 0.2
  done
) &
/usr/bin/time -v "$work/grafo" ingest "$tree" --graph goroot --server "http://127.0.0.1:$port" --quiet "$@" >"$work/out" 2>"$work/time"
echo "# load average: $(cut -d' ' -f1-3 /proc/loadavg)"
grep -E "^(written|stored|time)" "$work/out"
awk -F': ' '/Maximum resident/{printf "client peak RSS: %d MiB\n", $2/1024}' "$work/time"
awk -F': ' '/User time/{printf "client CPU (user): %.1f s\n", $2} /System time/{printf "client CPU (system): %.1f s\n", $2}' "$work/time"
awk '/VmHWM/{printf "node VmHWM: %d MiB\n", $2/1024}' "/proc/$node/status"
echo "node peak RssAnon: $(( $(cat "$work/anon") / 1024 )) MiB"
