package server

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/grafo/grafo/httpapi"
	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/cluster"
	"github.com/grafo/grafo/leanhttp"
)

// gate is the node's HTTP handler. The listener serves from the start, so
// that a node waiting to join (which can take forever: its --join may lead
// nowhere until an admin admits it) answers every request at once with why
// it cannot serve yet, instead of leaving connections hanging. Once the
// node is a member the gate hands every request to the API; it closes
// again if the node stops being a member (it left or was removed).
type gate struct {
	api  atomic.Pointer[http.Handler]
	shut atomic.Pointer[string] // why requests are refused while api is set
	why  atomic.Pointer[string] // why requests are refused before api is set
}

func newGate(why string) *gate {
	g := &gate{}
	g.why.Store(&why)
	return g
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := g.api.Load()
	why, kind := g.why.Load(), kv.ErrUnavailable
	if h != nil {
		if why = g.shut.Load(); why == nil {
			(*h).ServeHTTP(w, r)
			return
		}
		kind = kv.ErrNotMember // its own code: clients can tell "left" from "not yet"
	}
	w.Header().Set("Retry-After", "1")
	httpapi.WriteError(w, fmt.Errorf("%w: %s", kind, *why))
}

// open starts passing requests to api.
func (g *gate) open(api http.Handler) { g.api.Store(&api) }

// joinFailed returns the cluster's JoinFailed hook: the last cause becomes
// the answer of every request.
func (g *gate) joinFailed(join []string) func(error) {
	return func(err error) {
		// askToJoin's error already names the address it tried.
		why := "waiting to join " + err.Error()
		if len(join) > 1 {
			why = fmt.Sprintf("waiting to join one of %s: %v", strings.Join(join, ", "), err)
		}
		g.why.Store(&why)
	}
}

// errNotMember is the readiness answer of a node that is no longer in the
// cluster's membership.
var errNotMember = errors.New("no longer a member of the cluster (it left or was removed): this node serves nothing; stop it, or admit it again with 'grafo cluster join'")

// membership closes the gate while this node is not in st (it left or was
// removed) and reopens it if it is admitted again; it reports whether the
// node is a member.
func (n *Node) membership(st cluster.State) bool {
	for _, nd := range st.Nodes {
		if nd.ID == n.cfg.NodeID {
			if n.gate.shut.Swap(nil) != nil {
				n.log.Info("this node is a member again; serving")
			}
			return true
		}
	}
	why := errNotMember.Error()
	if n.gate.shut.Swap(&why) == nil {
		n.log.Warn("this node is no longer a member of the cluster; refusing requests", "node", n.cfg.NodeID)
	}
	return false
}

// serveHTTP starts the public HTTP server on the listener, behind the gate.
func (n *Node) serveHTTP() {
	// Slow clients cannot hold a connection forever: headers within 10 s,
	// a whole request body within 2 minutes (websockets are hijacked
	// before this applies to them).
	hs := &http.Server{Handler: n.gate, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	// The raw key-value routes are served by leanhttp's fast path, the
	// rest by net/http, on the same port and behind the same gate.
	n.httpSrv = &leanhttp.Server{HTTP: hs, Take: httpapi.Lean}
	// Close shuts it down first, before the parts it calls.
	n.goServe("http", func() error { return n.httpSrv.Serve(n.httpLn) }, nil)
}
