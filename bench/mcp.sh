#!/usr/bin/env bash
# Latency of every MCP tool (/mcp, the official SDK's client) on the Go
# standard library's graph in one node: p50/p99 per tool against a p99
# target of 50 ms (ROUNDS calls each, one at a time).
#   bench/mcp.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-200}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/grafo" ./cmd/grafo
go build -o "$work/mcpload" ./bench/mcpload
. bench/lib.sh
machine
start_node mcp 17870
"$work/grafo" ingest "$(go env GOROOT)/src" --exclude cmd/ --no-tests --graph std --server http://127.0.0.1:17870 --quiet | head -2
"$work/mcpload" -addr http://127.0.0.1:17870 -graph std -rounds "$ROUNDS"
