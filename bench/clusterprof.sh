#!/usr/bin/env bash
# CPU profile of a 3-node cluster's coordinator under bench/peerload:
# three `grafo serve --pprof` processes (N=3, W=2, R=2), 50 HTTP clients at
# consistency=quorum, all on node 1 (so node 1 coordinates every request),
# then `go tool pprof -top -cum` of node 1's profile.
#   bench/clusterprof.sh [put|get] > profile.txt
#   BIN=/tmp/grafo-old BASE=17760 N=20000 SECS=6 bench/clusterprof.sh get
# BIN defaults to a build of this tree; BASE is the first of 10 ports.
set -euo pipefail
cd "$(dirname "$0")/.."
OP=${1:-put}; BASE=${BASE:-17760}; N=${N:-20000}; SECS=${SECS:-6}
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
BIN=${BIN:-}
[ -n "$BIN" ] || { go build -o "$work/grafo" ./cmd/grafo; BIN=$work/grafo; }
(cd bench/peerload && go build -o "$work/peerload" .)
node() { # node I [flags…]: ports BASE+2(I-1) (HTTP) and +1 (cluster)
  local i=$1 p=$((BASE + 2 * ($1 - 1))); shift
  "$BIN" serve --node-id "c$i" --data "$work/c$i" --http "127.0.0.1:$p" --cluster "127.0.0.1:$((p + 1))" "$@" >"$work/c$i.log" 2>&1 &
  pids+=($!)
}
node 1 --replicas 3 --write-quorum 2 --read-quorum 2 --pprof "127.0.0.1:$((BASE + 9))"
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$BASE/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
node 2 --join "127.0.0.1:$BASE"; node 3 --join "127.0.0.1:$BASE"
for _ in $(seq 1 300); do
  st=$(curl -fs "http://127.0.0.1:$BASE/v1/cluster" || true)
  [ "$(grep -o '"state":"up"' <<<"$st" | wc -l)" = 3 ] && grep -q '"rebalancing":false' <<<"$st" && break; sleep 0.1
done
load() { "$work/peerload" -system http -endpoints "127.0.0.1:$BASE" -clients 50 -size 100 -keys 100000 -query consistency=quorum "$@"; }
load -n 3000 -ops put >/dev/null
echo "# $(uptime)"
load -n "$N" -ops "$OP" -pids "$(IFS=,; echo "${pids[*]}")" | sed 's/^/# /' &
lp=$!
sleep 1
curl -fs -o "$work/c1.prof" "http://127.0.0.1:$((BASE + 9))/debug/pprof/profile?seconds=$SECS"
wait $lp
go tool pprof -top -cum "$work/c1.prof" 2>/dev/null | sed -n '4,60p'
