#!/usr/bin/env bash
# Ingest of the Go standard library ($(go env GOROOT)/src without cmd/)
# into a fresh single node and into a fresh three-node loopback cluster,
# then of the whole GOROOT/src (std and cmd), with the reference points
# measured in the same run: x/tools' `callgraph -algo=cha` over the same
# packages, and `go vet std`. Then the peak memory of ingesting a tree of
# over 1,000 Go files (x/tools + gqlgen from the module cache). First, the
# cost of occurrences: std ingested with them and with --no-occurrences,
# each into a fresh node (time, stored bytes and keys), and callgraph
# -algo=cha std, alternating RUNS times (default 1).
#   bench/ingest.sh [occurrences]     ("occurrences": only that part)
# Nodes listen on PORT (default 17370) and up to PORT+201.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
GOROOT_SRC=$(go env GOROOT)/src
MODCACHE=$(go env GOMODCACHE)
go build -o "$work/grafo" ./cmd/grafo
go build -o "$work/callgraph" golang.org/x/tools/cmd/callgraph

. bench/lib.sh
# timed LABEL CMD… — wall seconds, CPU seconds (user + system: what a
# loaded machine does not inflate) and peak RSS (MiB) of CMD
timed() {
  local label=$1 user sys; shift
  /usr/bin/time -f "%e %M %U %S" -o "$work/time" "$@" >"$work/out" 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  read -r secs kib user sys <"$work/time"
  cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN {printf "%.1f", u + s}')
  printf '%-52s %8.1f s  %6.1f s CPU  %6d MiB peak\n' "$label" "$secs" "$cpu" $((kib / 1024))
}
node_rss() { awk '/VmHWM/{printf "%d", $2/1024}' "/proc/$1/status"; }
# node_cpu PID — CPU seconds (user + system) a process has used so far
node_cpu() { awk -v hz="$(getconf CLK_TCK)" '{sub(/.*\) /, ""); printf "%.1f", ($12 + $13) / hz}' "/proc/$1/stat"; }
# metric URL NAME — a gauge of a node's /metrics
metric() { curl -fs "$1/metrics" | awk -v m="$2" '$1 == m {printf "%d", $2}'; }
PORT=${PORT:-17370}

# occurrences: std with and without occurrences, each into a fresh node,
# and callgraph -algo=cha std, alternating $RUNS times.
occurrences() {
  local -A t b c # wall seconds, stored bytes and CPU seconds, by flag
  for run in $(seq 1 "${RUNS:-1}"); do
    for flag in "" --no-occurrences; do
      local id="occ$run${flag:+-none}" url="http://127.0.0.1:$((PORT + 10))"
      start_node "$id" $((PORT + 10))
      timed "grafo ingest std → 1 node ${flag:-(with occurrences)}" "$work/grafo" ingest "$GOROOT_SRC" --exclude cmd/ --no-tests $flag \
        --graph std --server "$url" --quiet
      grep -E "^(written|time)" "$work/out" | sed 's/^/    /'
      t[${flag:-with}]=$secs b[${flag:-with}]=$(metric "$url" grafo_engine_bytes)
      c[${flag:-with}]=$(awk -v a="$cpu" -v b="$(node_cpu "$last_pid")" 'BEGIN {printf "%.1f", a + b}')
      echo "    stored: ${b[${flag:-with}]} bytes of bbolt data, $(metric "$url" grafo_engine_keys) keys; CPU of ingest + node: ${c[${flag:-with}]} s"
      stop "$last_pid"; rm -rf "${work:?}/$id"
    done
    # Not in a subshell: timed sets secs and cpu, which the ratios read.
    cd "$GOROOT_SRC"
    timed "reference: callgraph -algo=cha std" "$work/callgraph" -algo=cha -format=digraph std
    cd - >/dev/null
    awk -v w="${t[with]}" -v n="${t[--no-occurrences]}" -v c="$secs" -v bw="${b[with]}" -v bn="${b[--no-occurrences]}" \
      -v cw="${c[with]}" -v cn="${c[--no-occurrences]}" -v cc="$cpu" 'BEGIN {
      printf "    with/without occurrences: time %.2f×, CPU %.2f×, bytes %.2f× (+%.0f MB)\n", w / n, cw / cn, bw / bn, (bw - bn) / 1e6
      printf "    ingest/callgraph: time with %.2f×, without %.2f×; CPU (ingest + node) with %.2f×, without %.2f×\n", w / c, n / c, cw / cc, cn / cc }'
  done
}

machine
echo "# load average: $(cut -d' ' -f1-3 /proc/loadavg)"
occurrences
[ "${1:-}" = occurrences ] && exit 0
echo "# tree: $GOROOT_SRC ($(find "$GOROOT_SRC" -name '*.go' -not -path '*/testdata/*' | wc -l) .go files outside testdata)"

start_node solo "$PORT"
solo=$last_pid
# std alone (GOROOT/src without the cmd module), against callgraph std.
timed "grafo ingest std → 1 node (full)" "$work/grafo" ingest "$GOROOT_SRC" --exclude cmd/ --no-tests --graph std --server http://127.0.0.1:$PORT --quiet
grep -E "^(written|graph|time)" "$work/out" | sed 's/^/    /'
(cd "$GOROOT_SRC" && timed "reference: callgraph -algo=cha std" "$work/callgraph" -algo=cha -format=digraph std)
timed "grafo ingest std → 1 node (unchanged re-ingest)" "$work/grafo" ingest "$GOROOT_SRC" --exclude cmd/ --no-tests --graph std --server http://127.0.0.1:$PORT --quiet
"$work/grafo" query --server http://127.0.0.1:$PORT '{ graph(id: "std") { node(qualifiedName: "fmt.Errorf") { callers { id } } } }' | grep -c '"id"' | sed 's/^/    callers of fmt.Errorf: /'
"$work/grafo" query --server http://127.0.0.1:$PORT '{ graph(id: "std") { node(qualifiedName: "io.Reader") { edges(direction: IN, relation: REALIZATION) { node { id } } } } }' | grep -c '"id"' | sed 's/^/    REALIZATION edges into io.Reader: /'
# The whole tree, std and cmd, against callgraph std cmd/...
timed "grafo ingest GOROOT/src (std+cmd) → 1 node (full)" "$work/grafo" ingest "$GOROOT_SRC" --no-tests --graph go --server http://127.0.0.1:$PORT --quiet
grep -E "^(written|graph|time)" "$work/out" | sed 's/^/    /'
(cd "$GOROOT_SRC" && timed "reference: callgraph -algo=cha std cmd/..." "$work/callgraph" -algo=cha -format=digraph std cmd/...)
echo "    node peak RSS: $(node_rss $solo) MiB"
stop "$solo"

start_cluster c $((PORT + 100))
timed "grafo ingest std → 3 nodes N=3 W=2 (full)" "$work/grafo" ingest "$GOROOT_SRC" --exclude cmd/ --no-tests --graph std --server http://127.0.0.1:$((PORT + 100)) --quiet
stop "${cluster_pids[@]}"
(cd "$GOROOT_SRC" && timed "reference: go vet std (build cache as found)" go vet std) || true

# Over 1,000 Go files: x/tools and gqlgen, copied out of the module cache.
big="$work/big"; mkdir -p "$big"
cp -r "$MODCACHE/golang.org/x/tools@v0.52.0" "$big/tools"; cp -r "$MODCACHE/github.com/99designs/gqlgen@v0.17.98" "$big/gqlgen"
chmod -R u+w "$big"
echo "# tree: x/tools + gqlgen ($(find "$big" -name '*.go' -not -path '*/testdata/*' | wc -l) .go files outside testdata)"
start_node big $((PORT + 200))
bignode=$last_pid
timed "grafo ingest x/tools+gqlgen → 1 node (client)" "$work/grafo" ingest "$big" --graph big --server http://127.0.0.1:$((PORT + 200)) --quiet
echo "    node peak RSS: $(node_rss $bignode) MiB"
