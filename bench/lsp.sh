#!/usr/bin/env bash
# grafo lsp on the Go standard library: a fresh single node ingests
# $(go env GOROOT)/src without cmd/, then bench/lspbench times definition,
# references, incomingCalls and hover at random call sites through
# `grafo lsp` (p50/p99; references and call sites as an editor without
# partial results gets them: the first 100, grafo lsp's default
# --max-results), and GraphQL's references(first: 100) for scale.
#   bench/lsp.sh [N]      (N call sites, default 200)
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
GOROOT_SRC=$(go env GOROOT)/src
go build -o "$work/grafo" ./cmd/grafo
go build -o "$work/lspbench" ./bench/lspbench

. bench/lib.sh
machine
start_node lsp 17670
/usr/bin/time -f "ingest std: %e s wall" "$work/grafo" ingest "$GOROOT_SRC" --exclude cmd/ --no-tests --graph std --server http://127.0.0.1:17670 --quiet >/dev/null
"$work/lspbench" -grafo "$work/grafo" -server http://127.0.0.1:17670 -root "$GOROOT_SRC" -graph std -n "${1:-200}"
