# Grafo — build, test and run targets. `make test` is the README's test
# command and what CI runs.
GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
BIN       := bin/grafo

.PHONY: all build static deps test test-deploy test-short nemesis bench bench-engine bench-cluster bench-graph bench-ingest bench-ingest-memory bench-reingest bench-mcp bench-lsp lint fmt vet generate generate-check clean

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/grafo

# The static binary for the FROM-scratch image (no cgo).
static:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/grafo-static ./cmd/grafo

# What the tests need besides Go (Chromium, python3-jedi): installed when
# missing if this user can (root or sudo -n), else one line saying how.
deps:
	@scripts/deps.sh

test: deps test-deploy
	$(GO) test -count=1 -timeout 20m ./...

# The Kubernetes manifests, decoded strictly into k8s.io/api types (a
# module of its own, so those types stay out of the main module).
test-deploy:
	cd deploy && $(GO) vet ./... && $(GO) test -count=1 ./...

# Fault injection: in-process and multi-process nemesis tests, histories
# checked with porcupine (README "Consistency and failures").
nemesis: deps
	$(GO) test -count=1 -run Nemesis ./...

test-short: deps
	$(GO) test -short -count=1 ./...

# Engine vs bare bbolt (group commit), see README "Benchmarks".
bench-engine:
	$(GO) test -run '^$$' -bench . -benchtime 2000x ./kv/engine

# Put/get through one node and a three-node loopback cluster.
bench-cluster:
	bash bench/cluster.sh 10s 64

# callers(depth: 3) on 100,000 functions / 500,000 calls, one node and three.
bench-graph:
	bash bench/graph.sh

# Ingest of the Go standard library and GOROOT/src against callgraph -algo=cha, std with and
# without occurrences first (bash bench/ingest.sh occurrences: that part alone).
bench-ingest:
	bash bench/ingest.sh

# Peak memory of the client and the node ingesting all of GOROOT/src.
bench-ingest-memory:
	bash bench/ingest_memory.sh

# Re-ingest of std after a one-function-body change, against its full ingest.
bench-reingest:
	bash bench/reingest.sh

# Every MCP tool's p50/p99 on the std graph, one node (target p99 50 ms).
bench-mcp:
	bash bench/mcp.sh

# definition, references, hover, call hierarchy and implementation through grafo lsp on the
# std graph (bash bench/lsp.sh N REF: A/B against git revision REF on the same data).
bench-lsp:
	bash bench/lsp.sh

bench: bench-engine bench-cluster bench-graph bench-ingest bench-reingest bench-mcp bench-lsp

lint: vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

generate:
	$(GO) generate ./...

# Fails when `go generate` would change the generated GraphQL code (the
# schema or gqlgen.yml changed without `make generate`, or generated code
# was edited by hand). Compares the state of graph/ before and after, so
# uncommitted work of one's own does not count.
GEN_STATE = { git status --porcelain -- graph; git diff -- graph; } | sha256sum
generate-check:
	@before=$$($(GEN_STATE)); \
	$(GO) generate ./... || exit 1; \
	after=$$($(GEN_STATE)); \
	if [ "$$before" != "$$after" ]; then \
	  echo "generate-check: go generate changed graph/ (stale generated code): run make generate and commit"; \
	  git status --short -- graph; exit 1; \
	fi; echo "generate-check: generated code is up to date"

clean:
	rm -rf bin

# ---------------------------------------------------------------------------
# Docker: a three-node cluster in containers (README "Docker").
# The image is FROM scratch holding bin/grafo-static, so nothing is pulled.
# COMPOSE is `docker compose` when that plugin works, else `docker-compose`.
COMPOSE      ?= $(shell docker compose version >/dev/null 2>&1 && echo 'docker compose' || echo docker-compose)
IMAGE        ?= grafo:local
COMPOSE_ALL  := $(COMPOSE) -f docker-compose.yml -f docker-compose.node4.yml
GRAFO_PORT1  ?= 7070
CLUSTER_WAIT ?= 60

.PHONY: docker-image cluster cluster-down cluster-wipe cluster-add cluster-remove4 cluster-status test-docker

docker-image: static
	mkdir -p bin/docker-rootfs/data
	docker build -t $(IMAGE) .

# Up and waits (at most CLUSTER_WAIT seconds) until GET /v1/cluster on node1
# lists three nodes up and Docker reports every container healthy.
cluster: docker-image
	GRAFO_IMAGE=$(IMAGE) $(COMPOSE) up -d
	@GRAFO_IMAGE=$(IMAGE) $(MAKE) --no-print-directory cluster-wait NODES=3

.PHONY: cluster-wait
cluster-wait:
	@echo "waiting for $(NODES) nodes up and healthy (at most $(CLUSTER_WAIT)s)…"; \
	for i in $$(seq 1 $(CLUSTER_WAIT)); do \
	  up=$$(bin/grafo-static cluster status --json --server http://127.0.0.1:$(GRAFO_PORT1) 2>/dev/null | grep -c '"state": "up"'); \
	  ids=$$($(COMPOSE_ALL) ps -q 2>/dev/null); \
	  healthy=$$(for c in $$ids; do docker inspect -f '{{.State.Health.Status}}' $$c; done | grep -c '^healthy$$'); \
	  if [ "$$up" -ge $(NODES) ] && [ "$$healthy" -ge $(NODES) ]; then \
	    echo "cluster ready after $${i}s: $$up nodes up, $$healthy containers healthy"; \
	    bin/grafo-static cluster status --server http://127.0.0.1:$(GRAFO_PORT1); exit 0; fi; \
	  sleep 1; \
	done; \
	echo "cluster not ready after $(CLUSTER_WAIT)s ($$up up, $$healthy healthy)"; $(COMPOSE_ALL) ps; $(COMPOSE_ALL) logs --tail 30; exit 1

cluster-status:
	@bin/grafo-static cluster status --server http://127.0.0.1:$(GRAFO_PORT1)

# Stops and removes the containers and the network; the volumes (each
# node's bbolt data and raft state) are KEPT, so the next `make cluster`
# restarts the same cluster with its data. `make cluster-wipe` deletes them.
cluster-down:
	$(COMPOSE_ALL) down --remove-orphans

cluster-wipe:
	$(COMPOSE_ALL) down -v --remove-orphans

# A fourth node (docker-compose.node4.yml, API on localhost:7074).
cluster-add:
	GRAFO_IMAGE=$(IMAGE) $(COMPOSE_ALL) up -d node4
	@$(MAKE) --no-print-directory cluster-wait NODES=4

# node4 leaves the ring (its ranges move to the others), then its
# container and volume are removed.
cluster-remove4:
	docker exec $$($(COMPOSE_ALL) ps -q node1) /grafo cluster leave node4
	@for i in $$(seq 1 $(CLUSTER_WAIT)); do \
	  bin/grafo-static cluster status --json --server http://127.0.0.1:$(GRAFO_PORT1) | grep -q '"id": "node4"' || { echo "node4 has left after $${i}s"; exit 0; }; \
	  sleep 1; done; echo "node4 still in the ring after $(CLUSTER_WAIT)s"; exit 1
	$(COMPOSE_ALL) rm -s -f -v node4
	-docker volume rm $$(basename $(CURDIR) | tr 'A-Z' 'a-z' | tr -cd 'a-z0-9_-')_node4-data

# The container tests (test/docker): own compose project "grafotest" on
# free host ports, node loss, pause and partition under load; ~3 minutes.
test-docker: docker-image
	GRAFO_IMAGE=$(IMAGE) $(GO) test -tags docker -count=1 -v -timeout 10m ./test/docker/

# Grafo against Redis (AOF everysec and always) and a 3-member etcd, same
# load, same run; installs the Debian packages it needs. Not part of test.
.PHONY: bench-peers
bench-peers:
	bench/peers.sh
