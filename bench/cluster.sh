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

. bench/lib.sh
machine

start_node solo 17170
for size in 100 1024; do
  "$work/loadgen" -addrs http://127.0.0.1:17170 -clients "$CLIENTS" -duration "$DUR" -size "$size" -label "1 node"
done
stop "$last_pid"

start_cluster c 17270
for size in 100 1024; do
  "$work/loadgen" -addrs "$cluster_urls" -clients "$CLIENTS" -duration "$DUR" -size "$size" -label "3 nodes N=3 W=2 R=2"
done
