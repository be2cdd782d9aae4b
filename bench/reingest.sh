#!/usr/bin/env bash
# Re-ingest of the Go standard library after a one-file change, against
# its full ingest: GOROOT/src of a copy of GOROOT (hard links where the
# file system allows; the edited file gets its own copy, so the real
# GOROOT is never written), run with that GOROOT so that std's import
# paths resolve to the copy, ingested without cmd/ into a fresh node; then
# one function body is edited (FILE, default strings/strings.go: a
# statement added to the first function with a multi-line body) and the
# tree re-ingested (a body-only change: only strings is re-analysed);
# then re-ingested unchanged. Prints each ingest's summary and the ratio.
#   bench/reingest.sh [FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
file=${1:-strings/strings.go}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/grafo" ./cmd/grafo
. bench/lib.sh

goroot="$work/goroot"
cp -al "$(go env GOROOT)" "$goroot" 2>/dev/null || { rm -rf "$goroot"; cp -a "$(go env GOROOT)" "$goroot"; }
# The Go frontend keeps its record of the analysis (for body-only
# changes) in the user cache directory: here, the work dir; the build
# cache stays where it was (a cold one would make go list run cgo).
GOCACHE=$(go env GOCACHE)
export GOROOT="$goroot" PATH="$goroot/bin:$PATH" XDG_CACHE_HOME="$work/cache" GOCACHE
tree="$goroot/src"
machine
echo "# tree: GOROOT/src of a copy of GOROOT, without cmd/ ($(find "$tree" -name '*.go' -not -path '*/testdata/*' | wc -l) .go files outside testdata); edited: $file"

# A port nothing listens on: another node there would answer wait_ready
# and receive this script's graph.
port=17670
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
while listening "$port" || listening $((port + 1)); do
  port=$((port + 2))
done
start_node solo "$port"
node=$last_pid
ingest() { # LABEL: one timed ingest, its wall seconds in $secs
  /usr/bin/time -f "%e %M" -o "$work/time" "$work/grafo" ingest "$tree" --exclude cmd/ --no-tests --graph std --server "http://127.0.0.1:$port" --quiet >"$work/out" 2>"$work/err" ||
    { cat "$work/err" >&2; exit 1; }
  read -r secs kib <"$work/time"
  printf '%-40s %8.2f s  %6d MiB peak (client)\n' "$1" "$secs" $((kib / 1024))
  sed 's/^/    /' "$work/out"
}
ingest "full ingest"
full=$secs
# A statement added at the top of the first function with a multi-line
# body: the body changes, no declaration does.
awk 'done == 0 && /^func .*\{$/ { print; print "\t_ = 0 // edited by bench/reingest.sh"; done = 1; next } { print }' \
  "$tree/$file" >"$work/edited"
rm "$tree/$file" # a hard link to the real GOROOT's file: never write through it
cp "$work/edited" "$tree/$file"
ingest "re-ingest after editing one body"
edit=$secs
ingest "re-ingest, unchanged"
awk -v f="$full" -v e="$edit" 'BEGIN { printf "one-file re-ingest / full ingest: %.1f %%\n", 100 * e / f }'
stop "$node"
