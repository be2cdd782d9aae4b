//go:build tools

// Package deps pins the modules the parts of Grafo are built on, so that
// go.mod lists them before every part imports them. Removed once all do.
package deps

import (
	_ "github.com/99designs/gqlgen/graphql/handler"
	_ "github.com/anishathalye/porcupine"
	_ "github.com/chromedp/chromedp"
	_ "github.com/gorilla/websocket"
	_ "github.com/hashicorp/go-hclog"
	_ "github.com/hashicorp/raft"
	_ "github.com/hashicorp/yamux"
	_ "github.com/klauspost/compress/zstd"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/vektah/gqlparser/v2"
	_ "github.com/vikstrous/dataloadgen"
	_ "go.etcd.io/bbolt"
	_ "golang.org/x/term"
	_ "golang.org/x/tools/go/callgraph/cha"
	_ "golang.org/x/tools/go/callgraph/vta"
	_ "golang.org/x/tools/go/packages"
	_ "golang.org/x/tools/go/ssa/ssautil"
	_ "golang.org/x/tools/txtar"
)
