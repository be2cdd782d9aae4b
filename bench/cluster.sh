#!/usr/bin/env bash
# Put/get throughput and latency through one node and through a three-node
# loopback cluster (N=3, W=2, R=2), same load, same run.
#   bench/cluster.sh [DURATION] [CLIENTS]
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-10s}
CLIENTS=${2:-64}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
go build -o "$work/grafo" ./cmd/grafo
go build -o "$work/loadgen" ./bench/loadgen

wait_ready() { for _ in $(seq 1 200); do curl -fs "http://$1/readyz" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "node $1 not ready" >&2; exit 1; }

echo "# machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(go version | cut -d' ' -f3)"
"$work/grafo" serve --node-id solo --data "$work/solo" --http 127.0.0.1:17170 --cluster 127.0.0.1:17171 >/dev/null 2>&1 &
wait_ready 127.0.0.1:17170
for size in 100 1024; do
  "$work/loadgen" -addrs http://127.0.0.1:17170 -clients "$CLIENTS" -duration "$DUR" -size "$size" -label "1 node"
done
kill %1; wait %1 2>/dev/null || true

"$work/grafo" serve --node-id c1 --data "$work/c1" --http 127.0.0.1:17270 --cluster 127.0.0.1:17271 --replicas 3 >/dev/null 2>&1 &
wait_ready 127.0.0.1:17270
for i in 2 3; do
  "$work/grafo" serve --node-id c$i --data "$work/c$i" --http 127.0.0.1:1727$((i*2)) --cluster 127.0.0.1:1727$((i*2+1)) --join 127.0.0.1:17270 >/dev/null 2>&1 &
done
wait_ready 127.0.0.1:17274; wait_ready 127.0.0.1:17276
for _ in $(seq 1 100); do
  [ "$(curl -fs http://127.0.0.1:17270/v1/cluster | grep -o '"state":"up"' | wc -l)" = 3 ] && break; sleep 0.1
done
for size in 100 1024; do
  "$work/loadgen" -addrs http://127.0.0.1:17270,http://127.0.0.1:17274,http://127.0.0.1:17276 -clients "$CLIENTS" -duration "$DUR" -size "$size" -label "3 nodes N=3 W=2 R=2"
done
