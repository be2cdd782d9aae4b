#!/usr/bin/env bash
# The graph benchmark: a synthetic graph of SIZE functions and 5×SIZE calls
# (default 1,000,000 and 5,000,000) loaded into one node and into a
# three-node loopback cluster (N=3, W=2, R=2); for each: load time, size on
# disk, the nodes' peak memory (VmHWM) and callers(depth: 3) p50/p99. Then
# the one-node graph is dumped (the client's peak RSS is reported),
# restored into a fresh three-node cluster, and both must answer the same
# stats and the same 100 random callers(depth: 3) queries.
#   bench/graph.sh                 # 1,000,000 functions, 5,000,000 calls
#   SIZE=100000 bench/graph.sh     # a quick run
#   PARTS=one,dump bench/graph.sh  # some parts: one (one node), three
#                                  # (three nodes), dump (dump of the one-node
#                                  # graph, restore, compare; needs one)
#   WORK=DIR bench/graph.sh        # keep binaries, data and dump in DIR
#   RESTORE_INTO=one               # restore into a fresh single node instead
#   PORT=N                         # first of the ports used (default 17670;
#                                  # the three-node clusters use N+100, N+200)
#   PPROF=ADDR                     # the one node serves Go's profiler on ADDR
#   EDGES=N QUERIES=N
set -euo pipefail
cd "$(dirname "$0")/.."
NODES=${SIZE:-${1:-1000000}}
EDGES=${EDGES:-${2:-$((5 * NODES))}}
QUERIES=${QUERIES:-400}
PORT=${PORT:-17670}
one=http://127.0.0.1:$PORT
PARTS=,${PARTS:-one,three,dump},
if [ -n "${WORK:-}" ]; then
  work=$WORK; mkdir -p "$work"
  trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null' EXIT
else
  work=$(mktemp -d)
  trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
fi
go build -o "$work/grafo" ./cmd/grafo
go build -o "$work/graphload" ./bench/graphload
. bench/lib.sh
machine
echo "# graph: $NODES functions, $EDGES calls"

# report LABEL DIR… PID…: size on disk of the data dirs and each node's
# peak resident memory.
report() {
  local label=$1; shift
  local dirs=() pids=()
  for a in "$@"; do if [ -d "$a" ]; then dirs+=("$a"); else pids+=("$a"); fi; done
  local size peaks=()
  size=$(du -sb "${dirs[@]}" | awk '{s += $1} END {printf "%.0f MiB", s / 1048576}')
  # VmHWM counts the pages of bbolt's memory-mapped file the node touched;
  # RssAnon (now) is the node's own memory.
  for p in "${pids[@]}"; do peaks+=("$(awk '/VmHWM/{h=$2} /RssAnon/{a=$2} END {printf "%.0f MiB (anonymous now %.0f MiB)", h / 1024, a / 1024}' "/proc/$p/status")"); done
  printf '%-24s on disk %s, peak memory per node: %s\n' "$label" "$size" "$(IFS=,; echo "${peaks[*]}" | sed 's/,/, /g')"
}

load() { "$work/graphload" -nodes "$NODES" -edges "$EDGES" -queries "$QUERIES" "$@"; }
part() { [[ $PARTS == *",$1,"* ]]; }

if part one; then
  rm -rf "$work/solo"
  start_node solo "$PORT" ${PPROF:+--pprof "$PPROF"}
  solo=$last_pid
  load -addrs "$one" -label "1 node"
  report "1 node" "$work/solo" "$solo"
fi

if part three; then
  rm -rf "$work/c1" "$work/c2" "$work/c3"
  start_cluster c $((PORT + 100))
  load -addrs "$cluster_urls" -label "3 nodes N=3 W=2 R=2"
  report "3 nodes N=3 W=2 R=2" "$work/c1" "$work/c2" "$work/c3" "${cluster_pids[@]}"
  stop "${cluster_pids[@]}"
fi

if part dump; then
  if ! part one; then echo "PARTS: dump needs one" >&2; exit 2; fi
  "$work/graphload" -exec -out "$work/bench.ndjson" -label "dump (client)" -- \
    "$work/grafo" dump bench --server "$one"
  rm -rf "$work/r1" "$work/r2" "$work/r3"
  if [ "${RESTORE_INTO:-three}" = one ]; then
    start_node r1 $((PORT + 200)); cluster_pids=("$last_pid")
    cluster_urls=http://127.0.0.1:$((PORT + 200)),http://127.0.0.1:$((PORT + 200)); into="fresh node"
  else
    start_cluster r $((PORT + 200)); into="fresh 3-node cluster"
  fi
  t0=$(date +%s%N)
  # A restore is idempotent: one that failed (a quorum timed out on an
  # overloaded machine) is run again, and says so.
  for attempt in 1 2 3; do
    "$work/grafo" restore "$work/bench.ndjson" --server "${cluster_urls%%,*}" >/dev/null && break
    [ "$attempt" = 3 ] && exit 1
    echo "restore: attempt $attempt failed, running it again" >&2
  done
  ms=$((($(date +%s%N) - t0) / 1000000))
  printf '%-24s %d.%d s into a %s\n' "restore" $((ms / 1000)) $((ms % 1000 / 100)) "$into"
  "$work/graphload" -addrs "$one" -compare "$(cut -d, -f2 <<<"$cluster_urls")" -nodes "$NODES" -queries 100 -label "restored"
  stop "${cluster_pids[@]}"
fi
