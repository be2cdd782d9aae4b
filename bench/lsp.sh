#!/usr/bin/env bash
# grafo lsp on the Go standard library: a fresh single node ingests
# $(go env GOROOT)/src without cmd/, then bench/lspbench times definition,
# references, hover, incomingCalls, outgoingCalls and implementation at
# random call sites through `grafo lsp` (p50/p99; references and call
# sites as an editor without partial results gets them: the first 100,
# grafo lsp's default --max-results), and GraphQL's references(first: 100)
# for scale, with the CPU seconds the node spent per request.
#   bench/lsp.sh [N] [REF]
# N call sites (default 200). With REF (a git revision), the node and
# grafo lsp of REF and of the working tree take turns on the same
# ingested data, RUNS times each (default 2), and the last lines compare
# them: an A/B that a loaded machine affects alike. The node listens on
# PORT (default 17670) and PORT+1.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
GOROOT_SRC=$(go env GOROOT)/src
PORT=${PORT:-17670}
N=${1:-200}
REF=${2:-}
go build -o "$work/grafo" ./cmd/grafo
go build -o "$work/lspbench" ./bench/lspbench
if [ -n "$REF" ]; then
  mkdir "$work/ref"
  git archive "$REF" | tar -x -C "$work/ref"
  (cd "$work/ref" && go build -o "$work/grafo-ref" ./cmd/grafo)
fi

. bench/lib.sh
machine
# bench BINARY: one node of BINARY on the ingested data, lspbench through
# BINARY's grafo lsp; the node's CPU per request on the last line.
bench() {
  "$1" serve --node-id lsp --data "$work/lsp" --http "127.0.0.1:$PORT" --cluster "127.0.0.1:$((PORT + 1))" >>"$work/lsp.log" 2>&1 &
  local pid=$!
  wait_ready "127.0.0.1:$PORT"
  echo "# $(basename "$1"), load average $(cut -d' ' -f1-3 /proc/loadavg)"
  "$work/lspbench" -grafo "$1" -server "http://127.0.0.1:$PORT" -root "$GOROOT_SRC" -graph std -n "$N" -cpu-of "$pid"
  stop "$pid"
}
start_node lsp "$PORT"
/usr/bin/time -f "ingest std: %e s wall" "$work/grafo" ingest "$GOROOT_SRC" --exclude cmd/ --no-tests --graph std --server "http://127.0.0.1:$PORT" --quiet >/dev/null
stop "$last_pid"
if [ -z "$REF" ]; then
  bench "$work/grafo"
  exit 0
fi
for _ in $(seq 1 "${RUNS:-2}"); do
  bench "$work/grafo-ref" | tee -a "$work/a"
  bench "$work/grafo" | tee -a "$work/b"
done
# The median of the runs' p50 and p99 of each request, REF against the
# working tree.
echo "# $REF → working tree, median of ${RUNS:-2} runs each (p50, p99, node CPU per request)"
awk -f - "$work/a" "$work/b" <<'AWK'
function med(s,   a, n, i, j, t) {
  n = split(substr(s, 2), a, " ")
  for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
  return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function ms(v) { return v ~ /µs$/ ? v / 1000 : v ~ /ms$/ ? v + 0 : v * 1000 }
FNR == 1 { side = (FILENAME == ARGV[1]) ? "a" : "b" }
/ n= / {
  op = $1; if (!(op in seen)) { seen[op] = 1; order[nops++] = op }
  for (i = 1; i <= NF; i++) {
    if ($i == "p50") p50[side, op] = p50[side, op] " " ms($(i + 1))
    if ($i == "p99") p99[side, op] = p99[side, op] " " ms($(i + 1))
    if ($i == "CPU") cpuop[side, op] = cpuop[side, op] " " $(i + 1)
  }
}
/^node CPU/ { cpu[side] = cpu[side] " " $3 }
END {
  for (k = 0; k < nops; k++) { op = order[k]; printf "%-16s p50 %6.2f → %6.2f ms (%.2f×)  p99 %6.2f → %6.2f ms (%.2f×)  node CPU %5.2f → %5.2f ms\n", op,
    med(p50["a", op]), med(p50["b", op]), med(p50["b", op]) / med(p50["a", op]), med(p99["a", op]), med(p99["b", op]), med(p99["b", op]) / med(p99["a", op]),
    med(cpuop["a", op]), med(cpuop["b", op]) }
  printf "%-16s %.2f → %.2f ms per request (%.2f×)\n", "node CPU", med(cpu["a"]), med(cpu["b"]), med(cpu["b"]) / med(cpu["a"])
}
AWK
