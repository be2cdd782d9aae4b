#!/usr/bin/env bash
# Ingest of the Go standard library ($(go env GOROOT)/src without cmd/)
# into a fresh single node and into a fresh three-node loopback cluster,
# then of the whole GOROOT/src (std and cmd), with the reference points
# measured in the same run: x/tools' `callgraph -algo=cha` over the same
# packages, and `go vet std`. Then the peak memory of ingesting a tree of
# over 1,000 Go files (x/tools + gqlgen from the module cache).
#   bench/ingest.sh
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
GOROOT_SRC=$(go env GOROOT)/src
MODCACHE=$(go env GOMODCACHE)
go build -o "$work/grafo" ./cmd/grafo
go build -o "$work/callgraph" golang.org/x/tools/cmd/callgraph

. bench/lib.sh
# timed LABEL CMD… — wall seconds and peak RSS (MiB) of CMD
timed() {
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >"$work/out" 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  read -r secs kib <"$work/time"
  printf '%-52s %8.1f s  %6d MiB peak\n' "$label" "$secs" $((kib / 1024))
}
node_rss() { awk '/VmHWM/{printf "%d", $2/1024}' "/proc/$1/status"; }

machine
echo "# tree: $GOROOT_SRC ($(find "$GOROOT_SRC" -name '*.go' -not -path '*/testdata/*' | wc -l) .go files outside testdata)"

start_node solo 17370
solo=$last_pid
# std alone (GOROOT/src without the cmd module), against callgraph std.
timed "grafo ingest std → 1 node (full)" "$work/grafo" ingest "$GOROOT_SRC" --exclude cmd/ --no-tests --graph std --server http://127.0.0.1:17370 --quiet
grep -E "^(written|graph|time)" "$work/out" | sed 's/^/    /'
(cd "$GOROOT_SRC" && timed "reference: callgraph -algo=cha std" "$work/callgraph" -algo=cha -format=digraph std)
timed "grafo ingest std → 1 node (unchanged re-ingest)" "$work/grafo" ingest "$GOROOT_SRC" --exclude cmd/ --no-tests --graph std --server http://127.0.0.1:17370 --quiet
"$work/grafo" query --server http://127.0.0.1:17370 '{ graph(id: "std") { node(qualifiedName: "fmt.Errorf") { callers { id } } } }' | grep -c '"id"' | sed 's/^/    callers of fmt.Errorf: /'
"$work/grafo" query --server http://127.0.0.1:17370 '{ graph(id: "std") { node(qualifiedName: "io.Reader") { edges(direction: IN, relation: REALIZATION) { node { id } } } } }' | grep -c '"id"' | sed 's/^/    REALIZATION edges into io.Reader: /'
# The whole tree, std and cmd, against callgraph std cmd/...
timed "grafo ingest GOROOT/src (std+cmd) → 1 node (full)" "$work/grafo" ingest "$GOROOT_SRC" --no-tests --graph go --server http://127.0.0.1:17370 --quiet
grep -E "^(written|graph|time)" "$work/out" | sed 's/^/    /'
(cd "$GOROOT_SRC" && timed "reference: callgraph -algo=cha std cmd/..." "$work/callgraph" -algo=cha -format=digraph std cmd/...)
echo "    node peak RSS: $(node_rss $solo) MiB"
stop "$solo"

start_cluster c 17470
timed "grafo ingest std → 3 nodes N=3 W=2 (full)" "$work/grafo" ingest "$GOROOT_SRC" --exclude cmd/ --no-tests --graph std --server http://127.0.0.1:17470 --quiet
stop "${cluster_pids[@]}"
(cd "$GOROOT_SRC" && timed "reference: go vet std (build cache as found)" go vet std) || true

# Over 1,000 Go files: x/tools and gqlgen, copied out of the module cache.
big="$work/big"; mkdir -p "$big"
cp -r "$MODCACHE/golang.org/x/tools@v0.52.0" "$big/tools"; cp -r "$MODCACHE/github.com/99designs/gqlgen@v0.17.98" "$big/gqlgen"
chmod -R u+w "$big"
echo "# tree: x/tools + gqlgen ($(find "$big" -name '*.go' -not -path '*/testdata/*' | wc -l) .go files outside testdata)"
start_node big 17570
bignode=$last_pid
timed "grafo ingest x/tools+gqlgen → 1 node (client)" "$work/grafo" ingest "$big" --graph big --server http://127.0.0.1:17570 --quiet
echo "    node peak RSS: $(node_rss $bignode) MiB"
