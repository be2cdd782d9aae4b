#!/usr/bin/env bash
# Put/get throughput and latency through one node and through a three-node
# loopback cluster (N=3, W=2, R=2), same load, same run.
#   bench/cluster.sh [DURATION] [CLIENTS]
# GRAFO_BIN=path runs that binary instead of building this tree's (to
# compare against an older build in the same conditions); ONLY=cluster
# skips the one-node runs.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-10s}
CLIENTS=${2:-64}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
if [ -n "${GRAFO_BIN:-}" ]; then cp "$GRAFO_BIN" "$work/grafo"; else go build -o "$work/grafo" ./cmd/grafo; fi
go build -o "$work/loadgen" ./bench/loadgen

. bench/lib.sh
machine

if [ "${ONLY:-}" != cluster ]; then
  start_node solo 17170
  for size in 100 1024; do
    "$work/loadgen" -addrs http://127.0.0.1:17170 -clients "$CLIENTS" -duration "$DUR" -size "$size" -label "1 node"
  done
  stop "$last_pid"
fi

start_cluster c 17270
for size in 100 1024; do
  "$work/loadgen" -addrs "$cluster_urls" -clients "$CLIENTS" -duration "$DUR" -size "$size" -label "3 nodes N=3 W=2 R=2"
done
# The extra round trips the cluster's load took (quorum reads written back,
# quorum writes re-versioned), summed over the nodes.
for m in grafo_kv_requests_total grafo_kv_read_writebacks_total grafo_kv_write_retries_total grafo_kv_writes_superseded_total grafo_kv_write_refusals_total; do
  for port in 17270 17272 17274; do curl -fs "http://127.0.0.1:$port/metrics"; done |
    awk -v m="$m" '$1 == m || index($1, m "{") == 1 { s += $2 } END { printf "# %s %d\n", m, s }'
done
