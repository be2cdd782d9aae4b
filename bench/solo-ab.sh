#!/usr/bin/env bash
# A/B of one Grafo node over RESP (or HTTP, with PROTO=http): CPU seconds (user + system, /proc) per
# 1,000 SETs and GETs of each build, rounds interleaved, so that a busy
# machine's load falls on both alike. Each round starts an empty node.
# The SET figure includes a settling pause after the SETs (SETTLE seconds),
# so that work a build defers (checkpoints of its write-ahead log) is
# billed to the writes that caused it, not to the GETs after them.
#   bench/solo-ab.sh ROUNDS GRAFO_BINARY...
#   NS=30000 NG=60000 SIZE=100 PORT=19880 bench/solo-ab.sh 2 /tmp/old/grafo /tmp/new/grafo
set -euo pipefail
cd "$(dirname "$0")/.."
NS=${NS:-30000}; NG=${NG:-60000}; SIZE=${SIZE:-100}; PORT=${PORT:-19880}; SETTLE=${SETTLE:-3}; PROTO=${PROTO:-resp}
# The load generator's port: RESP's, or the HTTP API's.
lport=$((PORT + 9)); [ "$PROTO" = http ] && lport=$PORT
rounds=$1; shift
work=$(mktemp -d)
pid=
trap '[ -z "$pid" ] || kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
(cd bench/peerload && go build -o "$work/peerload" .)
pick() { grep -o 'ops/s=[0-9]*\|cpu_s_per_1k=[0-9.]*' <<<"$1" | tr '\n' ' '; }
ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }   # user + system, in clock ticks
hz=$(getconf CLK_TCK)
for r in $(seq "$rounds"); do
  for bin in "$@"; do
    rm -rf "$work/data"
    "$bin" serve --node-id solo --data "$work/data" --http 127.0.0.1:$PORT --cluster 127.0.0.1:$((PORT + 1)) --resp 127.0.0.1:$((PORT + 9)) >"$work/log" 2>&1 &
    pid=$!
    for _ in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/$lport) 2>/dev/null && break; sleep 0.1; done
    # The HTTP port answers 503 until the node has joined (its gate).
    for _ in $(seq 300); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
    t0=$(ticks)
    s=$("$work/peerload" -system "$PROTO" -endpoints 127.0.0.1:$lport -clients 50 -size "$SIZE" -n "$NS" -ops put)
    sleep "$SETTLE"
    s="${s/cpu_s_per_1k=0.0000/} cpu_s_per_1k=$(awk -v a="$t0" -v b="$(ticks)" -v hz="$hz" -v n="$NS" 'BEGIN { printf "%.4f", (b - a) / hz / n * 1000 }')"
    g=$("$work/peerload" -system "$PROTO" -endpoints 127.0.0.1:$lport -clients 50 -size "$SIZE" -n "$NG" -ops get -pids "$pid")
    echo "$bin round $r: SET $(pick "$s") GET $(pick "$g") load $(cut -d' ' -f1 /proc/loadavg)"
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  done
done
