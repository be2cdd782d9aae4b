#!/usr/bin/env bash
# Compare this tree's build against another binary on the cluster load of
# bench/cluster.sh (three nodes, N=3 W=2 R=2, 64 clients): both clusters
# run at the same time, so a shared, noisy machine slows both alike.
#   bench/cluster-ab.sh OLD_BINARY [ROUNDS] [DURATION]
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=${1:?usage: bench/cluster-ab.sh OLD_BINARY [ROUNDS] [DURATION]}
ROUNDS=${2:-4}
DUR=${3:-10s}
lg=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$lg"' EXIT
go build -o "$lg/new" ./cmd/grafo
go build -o "$lg/loadgen" ./bench/loadgen

. bench/lib.sh
machine

for r in $(seq 1 "$ROUNDS"); do
  # lib.sh runs $work/grafo: one directory per cluster.
  work=$lg/old$r; mkdir "$work"; cp "$OLD" "$work/grafo"
  start_cluster o$r 17470; old_urls=$cluster_urls; old_pids=("${cluster_pids[@]}")
  work=$lg/new$r; mkdir "$work"; cp "$lg/new" "$work/grafo"
  start_cluster n$r 17570; new_urls=$cluster_urls; new_pids=("${cluster_pids[@]}")
  echo "# round $r, load average $(cut -d' ' -f1 /proc/loadavg)"
  for size in 100 1024; do
    "$lg/loadgen" -addrs "$old_urls" -clients 64 -duration "$DUR" -size "$size" -label "old" >"$lg/o.txt" & o=$!
    "$lg/loadgen" -addrs "$new_urls" -clients 64 -duration "$DUR" -size "$size" -label "new" >"$lg/n.txt" & n=$!
    wait "$o" "$n"
    cat "$lg/o.txt" "$lg/n.txt"
  done
  # The extra round trips the new cluster's load took, summed over nodes.
  for m in grafo_kv_read_writebacks_total grafo_kv_write_retries_total grafo_kv_writes_superseded_total grafo_kv_write_refusals_total; do
    for port in 17570 17572 17574; do curl -fs "http://127.0.0.1:$port/metrics"; done |
      awk -v m="$m" '$1 == m { s += $2 } END { printf "# new %s %d\n", m, s }'
  done
  stop "${old_pids[@]}" "${new_pids[@]}"
done
