#!/usr/bin/env bash
# Grafo against Redis and etcd, same machine, same run, same load:
# 50 clients with one request in flight each, SET then GET of 100 B and
# 1 KiB values over 100000 keys. RESP systems (Redis, Grafo) are driven by
# redis-benchmark, etcd by bench/etcdload (etcd's Go client), each run
# sized to take about DUR seconds.
#   bench/peers.sh            (or: make bench-peers)
#   DUR=5 CLIENTS=50 REPEAT=3 bench/peers.sh
# With REPEAT=k every system runs k times, in rounds (Redis, etcd, Grafo,
# Redis, …), and the table shows the median of each column over the rounds,
# which tames a noisy shared machine.
# Needs root or sudo for apt-get the first time (redis-server, redis-tools,
# etcd-server, etcd-client from Debian).
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${DUR:-4}
CLIENTS=${CLIENTS:-50}
REPEAT=${REPEAT:-1}
KEYS=100000
SIZES="100 1024"

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-benchmark >/dev/null || need+=(redis-tools)
command -v etcd >/dev/null || need+=(etcd-server)
command -v etcdctl >/dev/null || need+=(etcd-client)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
  # Debian starts a system Redis on 6379; these runs use their own ports.
fi

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
stop_all() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done; pids=(); }

go build -o "$work/grafo" ./cmd/grafo
(cd bench/etcdload && go build -o "$work/etcdload" .)

# Ports: a block of 60 above a random base, none of them in use (other
# benchmarks on the machine use fixed ports of their own).
in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
while :; do
  B=$((20000 + RANDOM % 900 * 10)); free=1
  for o in 0 1 2 3 11 12 13 20 21 29 30 31 39 40 41 49 50 51 59; do in_use $((B + o)) && { free=0; break; }; done
  [ "$free" = 1 ] && break
done
REDIS_PORT=$B

results="$work/results.tsv"
: >"$results"
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" "$round" >>"$results"; }

wait_port() { for _ in $(seq 1 300); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "nothing answers PING on $1" >&2; exit 1; }

# rb PORT OP SIZE N: one redis-benchmark run; prints rps p50 p99.
rb() {
  redis-benchmark -p "$1" -t "$2" -c "$CLIENTS" -d "$3" -n "$4" -r "$KEYS" --csv 2>/dev/null |
    awk -F'","' 'NR==2 { print $2, $5, $7 }'
}

# resp_runs SYSTEM DURABILITY PORT: SET and GET at each size.
resp_runs() {
  for size in $SIZES; do
    for op in set get; do
      read -r rps _ _ < <(rb "$3" "$op" "$size" 2000)   # probe: size the run to ~DUR s
      n=$(awk -v r="$rps" -v d="$DUR" 'BEGIN { n = int(r * d); if (n < 5000) n = 5000; print n }')
      read -r rps p50 p99 < <(rb "$3" "$op" "$size" "$n")
      row "$1" "$2" "$op" "$size" "$rps" "$p50" "$p99"
      echo "  $1 ($2) $op ${size}B: $rps ops/s p50 ${p50} ms p99 ${p99} ms (n=$n)" >&2
    done
  done
}

echo "# load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "# machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(redis-server --version | awk '{print $3}' | tr -d v=) Redis, etcd $(etcd --version | awk '/etcd Version/{print $3}'), $(go version | cut -d' ' -f3)" >&2

one_round() {
  rm -rf "$work"/redis-* "$work"/etcd[0-9] "$work"/g-solo "$work"/c[0-9]   # every round starts empty
  for fsync in everysec always; do
    mkdir -p "$work/redis-$fsync"
    redis-server --port $REDIS_PORT --bind 127.0.0.1 --dir "$work/redis-$fsync" --save '' --appendonly yes --appendfsync "$fsync" --daemonize no >"$work/redis-$fsync.log" 2>&1 &
    pids+=($!)
    wait_port $REDIS_PORT
    resp_runs Redis "AOF appendfsync $fsync" $REDIS_PORT
    stop_all
  done

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
  for size in $SIZES; do
    for op in put get; do
      probe=$("$work/etcdload" -endpoints "$eps" -clients "$CLIENTS" -size "$size" -keys "$KEYS" -n 2000 -ops "$op")
      rps=$(sed -E 's/.*ops\/s=([0-9.]+).*/\1/' <<<"$probe")
      n=$(awk -v r="$rps" -v d="$DUR" 'BEGIN { n = int(r * d); if (n < 5000) n = 5000; print n }')
      out=$("$work/etcdload" -endpoints "$eps" -clients "$CLIENTS" -size "$size" -keys "$KEYS" -n "$n" -ops "$op")
      rps=$(sed -E 's/.*ops\/s=([0-9.]+).*/\1/' <<<"$out"); p50=$(sed -E 's/.*p50_ms=([0-9.]+).*/\1/' <<<"$out"); p99=$(sed -E 's/.*p99_ms=([0-9.]+).*/\1/' <<<"$out")
      name=$([ "$op" = put ] && echo set || echo get)
      row "etcd 3 members" "raft, WAL fsync" "$name" "$size" "$rps" "$p50" "$p99"
      echo "  etcd $name ${size}B: $rps ops/s p50 $p50 ms p99 $p99 ms (n=$n)" >&2
    done
  done
  stop_all

  "$work/grafo" serve --node-id solo --data "$work/g-solo" --http 127.0.0.1:$((B + 20)) --cluster 127.0.0.1:$((B + 21)) --resp 127.0.0.1:$((B + 29)) >"$work/g-solo.log" 2>&1 &
  pids+=($!)
  wait_port $((B + 29))
  resp_runs "Grafo 1 node" "fsync per group commit" $((B + 29))
  stop_all

  "$work/grafo" serve --node-id c1 --data "$work/c1" --http 127.0.0.1:$((B + 30)) --cluster 127.0.0.1:$((B + 31)) --resp 127.0.0.1:$((B + 39)) \
    --replicas 3 --write-quorum 2 --read-quorum 2 >"$work/c1.log" 2>&1 &
  pids+=($!)
  wait_port $((B + 39))
  for i in 2 3; do
    "$work/grafo" serve --node-id "c$i" --data "$work/c$i" --http "127.0.0.1:$((B + 10 * i + 20))" --cluster "127.0.0.1:$((B + 10 * i + 21))" --resp "127.0.0.1:$((B + 10 * i + 29))" \
      --join 127.0.0.1:$((B + 30)) >"$work/c$i.log" 2>&1 &
    pids+=($!)
  done
  for _ in $(seq 1 300); do
    st=$(curl -fs http://127.0.0.1:$((B + 30))/v1/cluster || true)
    [ "$(grep -o '"state":"up"' <<<"$st" | wc -l)" = 3 ] && grep -q '"rebalancing":false' <<<"$st" && break; sleep 0.1
  done
  resp_runs "Grafo 3 nodes" "N=3 W=2 R=2, fsync per group commit" $((B + 39))
  stop_all
}

for round in $(seq 1 "$REPEAT"); do
  echo "# round $round of $REPEAT" >&2
  one_round
done

echo
printf '| system | durability | op | value | ops/s | p50 ms | p99 ms |\n|---|---|---|---|---:|---:|---:|\n'
median="$work/median.tsv"
awk -F'\t' '
  function med(list,   n, v, i, j, t) {
    n = split(list, v, " ")
    for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j-1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
    return v[int((n + 1) / 2)]
  }
  { k = $1 "\t" $2 "\t" $3 "\t" $4; if (!(k in rps)) order[++nk] = k; rps[k] = rps[k] " " $5; p50[k] = p50[k] " " $6; p99[k] = p99[k] " " $7 }
  END { for (i = 1; i <= nk; i++) { k = order[i]; print k "\t" med(rps[k]) "\t" med(p50[k]) "\t" med(p99[k]) } }' "$results" >"$median"
awk -F'\t' '{ printf "| %s | %s | %s | %s B | %.0f | %s | %s |\n", $1, $2, toupper($3), $4, $5, $6, $7 }' "$median"
echo
[ "$REPEAT" -gt 1 ] && echo "(medians of $REPEAT rounds)"
# The targets, from this run.
get() { awk -F'\t' -v s="$1" -v d="$2" -v o="$3" -v z="$4" '$1 == s && index($2, d) && $3 == o && $4 == z { print $5 }' "$median"; }
for size in $SIZES; do
  gc=$(get "Grafo 3 nodes" N=3 set "$size"); et=$(get "etcd 3 members" raft set "$size")
  ra=$(get Redis always set "$size"); re=$(get Redis everysec get "$size"); g1=$(get "Grafo 1 node" fsync get "$size")
  awk -v gc="$gc" -v et="$et" -v ra="$ra" -v re="$re" -v g1="$g1" -v z="$size" 'BEGIN {
    printf "%s B: Grafo 3-node SET / etcd PUT = %.2fx (target >= 2); Grafo 3-node SET / Redis always SET = %.2fx (target >= 0.5); Grafo 1-node GET / Redis everysec GET = %.2fx (target >= 0.5)\n", z, gc/et, gc/ra, g1/re }'
done
