#!/usr/bin/env bash
# Grafo against Redis and etcd, same machine, same run, same load, from
# one load generator (bench/peerload): 50 clients with one request in
# flight each, SET/PUT then GET of 100 B and 1 KiB values over 100000 keys,
# Redis and Grafo over RESP, etcd through its Go client, Grafo's 3-node
# cluster also through its HTTP API at quorum; each run sized to take
# about DUR seconds. Besides ops/s and p50/p99, every row has the CPU
# seconds (user + system, /proc) the system's server processes used per
# 1,000 operations — a cost that does not depend on how many cores are
# free.
#   bench/peers.sh            (or: make bench-peers)
#   DUR=5 CLIENTS=50 REPEAT=3 bench/peers.sh
#   SYSTEMS="etcd grafo3" BASE=19700 DUR=1 bench/peers.sh
# SYSTEMS picks what runs (default all: redis etcd grafo1 grafo3); the
# ratios at the end need the systems they compare. BASE fixes the first of
# the 60 ports used (BASE..BASE+59); FRONTS picks the 3-node cluster's
# front ends (default "http resp"); without BASE a free block above 20000
# is picked at random. BEFORE=BINARY adds the systems "before" (the same
# 3-node cluster of another grafo binary) and "before1" (its single node),
# for an A/B in one run (e.g. SYSTEMS="etcd grafo3 before"
# BEFORE=/tmp/grafo-main).
# With REPEAT=k every system runs k times, in rounds (Redis, etcd, Grafo,
# Redis, …), and the table shows the median of each column over the rounds,
# which tames a noisy shared machine.
# Needs root or sudo for apt-get the first time (redis-server, etcd-server,
# etcd-client from Debian).
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${DUR:-4}
CLIENTS=${CLIENTS:-50}
REPEAT=${REPEAT:-1}
KEYS=100000
SIZES=${SIZES:-"100 1024"}
SYSTEMS=${SYSTEMS:-"redis etcd grafo1 grafo3"}
BASE=${BASE:-}
BEFORE=${BEFORE:-}
FRONTS=${FRONTS:-"http resp"}
on() { [[ " $SYSTEMS " == *" $1 "* ]]; }
on_front() { [[ " $FRONTS " == *" $1 "* ]]; }

need=()
on redis && { command -v redis-server >/dev/null || need+=(redis-server); }
on etcd && { command -v etcd >/dev/null || need+=(etcd-server); }
on etcd && { command -v etcdctl >/dev/null || need+=(etcd-client); }
if [ ${#need[@]} -gt 0 ]; then
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
  # Debian starts a system Redis on 6379; these runs use their own ports.
fi

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
pidlist() { (IFS=,; echo "${pids[*]}"); }
stop_all() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done; pids=(); }

go build -o "$work/grafo" ./cmd/grafo
(cd bench/peerload && go build -o "$work/peerload" .)

# Ports: a block of 60 above a random base, none of them in use (other
# benchmarks on the machine use fixed ports of their own).
in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
while :; do
  B=${BASE:-$((20000 + RANDOM % 900 * 10))}; free=1
  for o in 0 1 2 3 11 12 13 20 21 29 30 31 39 40 41 49 50 51 59; do in_use $((B + o)) && { free=0; break; }; done
  [ "$free" = 1 ] && break
  [ -n "$BASE" ] && { echo "a port of $BASE..$((BASE + 59)) is in use" >&2; exit 1; }
done
REDIS_PORT=$B

results="$work/results.tsv"
: >"$results"
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" "$round" >>"$results"; }

wait_port() { for _ in $(seq 1 300); do in_use "$1" && return 0; sleep 0.1; done; echo "nothing listens on $1" >&2; exit 1; }

field() { sed -E "s|.*$1=([0-9.]+).*|\1|" <<<"$2"; }

# runs NAME DURABILITY SYSTEM ENDPOINTS PIDS [QUERY]: put and get at each
# size through peerload, each sized by a probe to take about DUR s.
runs() {
  # Locals: bash scopes dynamically, and the caller's own $name must
  # survive for its next runs (the cluster's RESP rows were labelled "get").
  local size op probe n out rps p50 p99 cpu name
  for size in $SIZES; do
    for op in put get; do
      probe=$("$work/peerload" -system "$3" -endpoints "$4" -clients "$CLIENTS" -size "$size" -keys "$KEYS" -n 2000 -ops "$op" -query "${6:-}")
      n=$(awk -v r="$(field 'ops/s' "$probe")" -v d="$DUR" 'BEGIN { n = int(r * d); if (n < 5000) n = 5000; print n }')
      out=$("$work/peerload" -system "$3" -endpoints "$4" -clients "$CLIENTS" -size "$size" -keys "$KEYS" -n "$n" -ops "$op" -query "${6:-}" -pids "$5")
      rps=$(field 'ops/s' "$out"); p50=$(field p50_ms "$out"); p99=$(field p99_ms "$out"); cpu=$(field cpu_s_per_1k "$out")
      name=$([ "$op" = put ] && echo set || echo get)
      row "$1" "$2" "$name" "$size" "$rps" "$p50" "$p99" "$cpu"
      echo "  $1 ($2) $name ${size}B: $rps ops/s p50 $p50 ms p99 $p99 ms, $cpu CPU s per 1k ops (n=$n)" >&2
    done
  done
}

echo "# load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "# machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(on redis && redis-server --version | awk '{print $3}' | tr -d v=) Redis, etcd $(on etcd && etcd --version | awk '/etcd Version/{print $3}'), $(go version | cut -d' ' -f3)" >&2

one_round() {
  rm -rf "$work"/redis-* "$work"/etcd[0-9] "$work"/g-solo "$work"/c[0-9]   # every round starts empty
  for s in $SYSTEMS; do
    case $s in
      redis|etcd|grafo1|grafo3) "run_$s" ;;
      before|before1) [ -x "$BEFORE" ] || { echo "system $s needs BEFORE=BINARY (a grafo binary)" >&2; exit 2; }
        if [ "$s" = before ]; then run_grafo3 "$BEFORE" "Grafo 3 nodes, before"; else run_grafo1 "$BEFORE" "Grafo 1 node, before"; fi ;;
      *) echo "unknown system $s in SYSTEMS (redis etcd grafo1 grafo3 before before1)" >&2; exit 2 ;;
    esac
  done
}

run_redis() {
  for fsync in everysec always; do
    mkdir -p "$work/redis-$fsync"
    redis-server --port $REDIS_PORT --bind 127.0.0.1 --dir "$work/redis-$fsync" --save '' --appendonly yes --appendfsync "$fsync" --daemonize no >"$work/redis-$fsync.log" 2>&1 &
    pids+=($!)
    wait_port $REDIS_PORT
    runs Redis "AOF appendfsync $fsync" resp 127.0.0.1:$REDIS_PORT "$(pidlist)"
    stop_all
  done
}

run_etcd() {
  cluster=e1=http://127.0.0.1:$((B + 11)),e2=http://127.0.0.1:$((B + 12)),e3=http://127.0.0.1:$((B + 13))
  for i in 1 2 3; do
    etcd --name "e$i" --data-dir "$work/etcd$i" \
      --listen-client-urls "http://127.0.0.1:$((B + i))" --advertise-client-urls "http://127.0.0.1:$((B + i))" \
      --listen-peer-urls "http://127.0.0.1:$((B + 10 + i))" --initial-advertise-peer-urls "http://127.0.0.1:$((B + 10 + i))" \
      --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token grafo-bench \
      --log-level error >"$work/etcd$i.log" 2>&1 &
    pids+=($!)
  done
  eps=http://127.0.0.1:$((B + 1)),http://127.0.0.1:$((B + 2)),http://127.0.0.1:$((B + 3))
  for _ in $(seq 1 300); do ETCDCTL_API=3 etcdctl --endpoints "$eps" endpoint health >/dev/null 2>&1 && break; sleep 0.1; done
  runs "etcd 3 members" "raft, WAL fsync" etcd "$eps" "$(pidlist)"
  stop_all
}

# run_grafo1 [BINARY NAME]: one node over RESP, by default of this tree.
run_grafo1() {
  local bin=${1:-$work/grafo} name=${2:-Grafo 1 node}
  rm -rf "$work/g-solo"
  "$bin" serve --node-id solo --data "$work/g-solo" --http 127.0.0.1:$((B + 20)) --cluster 127.0.0.1:$((B + 21)) --resp 127.0.0.1:$((B + 29)) >"$work/g-solo.log" 2>&1 &
  pids+=($!)
  wait_port $((B + 29))
  runs "$name" "RESP, fsync per group commit" resp 127.0.0.1:$((B + 29)) "$(pidlist)"
  stop_all
}

# run_grafo3 [BINARY NAME]: the 3-node cluster, by default of this tree.
run_grafo3() {
  local bin=${1:-$work/grafo} name=${2:-Grafo 3 nodes}
  rm -rf "$work"/c[0-9]
  "$bin" serve --node-id c1 --data "$work/c1" --http 127.0.0.1:$((B + 30)) --cluster 127.0.0.1:$((B + 31)) --resp 127.0.0.1:$((B + 39)) \
    --replicas 3 --write-quorum 2 --read-quorum 2 >"$work/c1.log" 2>&1 &
  pids+=($!)
  wait_port $((B + 39))
  for i in 2 3; do
    "$bin" serve --node-id "c$i" --data "$work/c$i" --http "127.0.0.1:$((B + 10 * i + 20))" --cluster "127.0.0.1:$((B + 10 * i + 21))" --resp "127.0.0.1:$((B + 10 * i + 29))" \
      --join 127.0.0.1:$((B + 30)) >"$work/c$i.log" 2>&1 &
    pids+=($!)
  done
  for _ in $(seq 1 300); do
    st=$(curl -fs http://127.0.0.1:$((B + 30))/v1/cluster || true)
    [ "$(grep -o '"state":"up"' <<<"$st" | wc -l)" = 3 ] && grep -q '"rebalancing":false' <<<"$st" && break; sleep 0.1
  done
  gp=$(pidlist)
  on_front http && runs "$name" "HTTP, quorum N=3 W=2 R=2" http 127.0.0.1:$((B + 30)),127.0.0.1:$((B + 40)),127.0.0.1:$((B + 50)) "$gp" consistency=quorum
  on_front resp && runs "$name" "RESP, N=3 W=2 R=2" resp 127.0.0.1:$((B + 39)),127.0.0.1:$((B + 49)),127.0.0.1:$((B + 59)) "$gp"
  stop_all
}

for round in $(seq 1 "$REPEAT"); do
  echo "# round $round of $REPEAT" >&2
  one_round
done

echo
printf '| system | front end, durability | op | value | ops/s | p50 ms | p99 ms | CPU s / 1k ops |\n|---|---|---|---|---:|---:|---:|---:|\n'
median="$work/median.tsv"
awk -F'\t' '
  function med(list,   n, v, i, j, t) {
    n = split(list, v, " ")
    for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j-1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
    return v[int((n + 1) / 2)]
  }
  { k = $1 "\t" $2 "\t" $3 "\t" $4; if (!(k in rps)) order[++nk] = k; rps[k] = rps[k] " " $5; p50[k] = p50[k] " " $6; p99[k] = p99[k] " " $7; cpu[k] = cpu[k] " " $8 }
  END { for (i = 1; i <= nk; i++) { k = order[i]; print k "\t" med(rps[k]) "\t" med(p50[k]) "\t" med(p99[k]) "\t" med(cpu[k]) } }' "$results" >"$median"
awk -F'\t' '{ printf "| %s | %s | %s | %s B | %.0f | %s | %s | %.3f |\n", $1, $2, toupper($3), $4, $5, $6, $7, $8 }' "$median"
echo
[ "$REPEAT" -gt 1 ] && echo "(medians of $REPEAT rounds)"
# The targets, from this run (issue: 2x etcd at half its CPU per op; RESP
# against Redis).
get() { awk -F'\t' -v s="$1" -v d="$2" -v o="$3" -v z="$4" -v c="$5" '$1 == s && index($2, d) && $3 == o && $4 == z { print $c }' "$median"; }
for size in $SIZES; do
  for g in "Grafo 3 nodes" "Grafo 3 nodes, before"; do
    for f in HTTP RESP; do
      on etcd && [ -n "$(get "$g" "$f" set "$size" 5)" ] || continue
      for op in set get; do
        awk -v g="$(get "$g" "$f" "$op" "$size" 5)" -v e="$(get "etcd 3 members" raft "$op" "$size" 5)" \
            -v gc="$(get "$g" "$f" "$op" "$size" 8)" -v ec="$(get "etcd 3 members" raft "$op" "$size" 8)" -v z="$size" -v o="$op" -v n="$g" -v f="$f" 'BEGIN {
          printf "%s B %s: %s %s quorum / etcd = %.2fx ops/s (target >= 2), %.2fx CPU per op (target <= 0.5)\n", z, toupper(o), n, f, g/e, gc/ec }'
      done
    done
  done
  if on redis && on grafo1; then awk -v gs="$(get "Grafo 1 node" RESP set "$size" 5)" -v ra="$(get Redis always set "$size" 5)" \
      -v gg="$(get "Grafo 1 node" RESP get "$size" 5)" -v re="$(get Redis everysec get "$size" 5)" -v z="$size" 'BEGIN {
    printf "%s B: Grafo 1-node SET / Redis always SET = %.2fx (target >= 0.5); Grafo 1-node GET / Redis everysec GET = %.2fx (target >= 0.8)\n", z, gs/ra, gg/re }'; fi
done
