# Grafo — build, test and run targets. `make test` is the README's test
# command and what CI runs.
GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
BIN       := bin/grafo

.PHONY: all build static test test-short bench bench-engine bench-cluster lint fmt vet generate cluster cluster-down clean

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/grafo

# The static binary for the FROM-scratch image (no cgo).
static:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/grafo-static ./cmd/grafo

test:
	$(GO) test -count=1 -timeout 20m ./...

test-short:
	$(GO) test -short -count=1 ./...

# Engine vs bare bbolt (group commit), see README "Benchmarks".
bench-engine:
	$(GO) test -run '^$$' -bench . -benchtime 2000x ./kv/engine

bench: bench-engine

lint: vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

generate:
	$(GO) generate ./...

clean:
	rm -rf bin
