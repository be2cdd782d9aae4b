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
. bench/lib.sh
machine

start_node solo 17670
"$work/graphload" -addrs http://127.0.0.1:17670 -nodes "$NODES" -edges "$EDGES" -label "1 node"
stop "$last_pid"

start_cluster c 17770
"$work/graphload" -addrs "$cluster_urls" -nodes "$NODES" -edges "$EDGES" -label "3 nodes N=3 W=2 R=2"
