# Shared by the bench scripts (sourced): build the binary, start nodes and
# clusters on loopback, print the machine. Expects $work (a temp dir).

machine() {
  echo "# machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(go version | cut -d' ' -f3)"
}

wait_ready() {
  for _ in $(seq 1 300); do curl -fs "http://$1/readyz" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "node $1 not ready" >&2; exit 1
}

# start_node ID HTTP_PORT [flags…]: one node (cluster port HTTP_PORT+1) in
# the background; its pid is in $! afterwards (and in $last_pid).
start_node() {
  local id=$1 port=$2; shift 2
  "$work/grafo" serve --node-id "$id" --data "$work/$id" --http "127.0.0.1:$port" --cluster "127.0.0.1:$((port + 1))" "$@" >"$work/$id.log" 2>&1 &
  last_pid=$!
  wait_ready "127.0.0.1:$port"
}

# start_cluster PREFIX BASE_PORT: three nodes PREFIX1..3 on BASE_PORT,
# +2, +4 (N=3, W=2, R=2), waits until all are up; their pids are in
# ${cluster_pids[@]} and their URLs, comma-separated, in $cluster_urls.
start_cluster() {
  local prefix=$1 base=$2
  cluster_pids=()
  start_node "${prefix}1" "$base" --replicas 3; cluster_pids+=("$last_pid")
  for i in 2 3; do
    start_node "$prefix$i" $((base + 2 * (i - 1))) --join "127.0.0.1:$base"; cluster_pids+=("$last_pid")
  done
  for _ in $(seq 1 100); do
    [ "$(curl -fs "http://127.0.0.1:$base/v1/cluster" | grep -o '"state":"up"' | wc -l)" = 3 ] && break; sleep 0.1
  done
  cluster_urls="http://127.0.0.1:$base,http://127.0.0.1:$((base + 2)),http://127.0.0.1:$((base + 4))"
}

stop() { kill "$@" 2>/dev/null || true; wait "$@" 2>/dev/null || true; }
