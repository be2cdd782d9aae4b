#!/usr/bin/env bash
# callers(depth: 3) on a graph of 100,000 functions and 500,000 calls,
# through one node and through a three-node loopback cluster (N=3, W=2,
# R=2), same graph, same queries, same run.
#   bench/graph.sh [NODES] [EDGES]
set -euo pipefail
cd "$(dirname "$0")/.."
NODES=${1:-100000}
EDGES=${2:-500000}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
go build -o "$work/grafo" ./cmd/grafo
go build -o "$work/graphload" ./bench/graphload
wait_ready() { for _ in $(seq 1 300); do curl -fs "http://$1/readyz" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "node $1 not ready" >&2; exit 1; }
echo "# machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(go version | cut -d' ' -f3)"

"$work/grafo" serve --node-id solo --data "$work/solo" --http 127.0.0.1:17670 --cluster 127.0.0.1:17671 >/dev/null 2>&1 &
wait_ready 127.0.0.1:17670
"$work/graphload" -addrs http://127.0.0.1:17670 -nodes "$NODES" -edges "$EDGES" -label "1 node"
kill %1; wait %1 2>/dev/null || true

"$work/grafo" serve --node-id c1 --data "$work/c1" --http 127.0.0.1:17770 --cluster 127.0.0.1:17771 >/dev/null 2>&1 &
wait_ready 127.0.0.1:17770
for i in 2 3; do
  "$work/grafo" serve --node-id c$i --data "$work/c$i" --http 127.0.0.1:1777$((i*2)) --cluster 127.0.0.1:1777$((i*2+1)) --join 127.0.0.1:17770 >/dev/null 2>&1 &
done
wait_ready 127.0.0.1:17774; wait_ready 127.0.0.1:17776
for _ in $(seq 1 100); do
  [ "$(curl -fs http://127.0.0.1:17770/v1/cluster | grep -o '"state":"up"' | wc -l)" = 3 ] && break; sleep 0.1
done
"$work/graphload" -addrs http://127.0.0.1:17770,http://127.0.0.1:17774,http://127.0.0.1:17776 -nodes "$NODES" -edges "$EDGES" -label "3 nodes N=3 W=2 R=2"
