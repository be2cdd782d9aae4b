package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
)

// startPprof serves Go's profiler on its own address (--pprof), never on
// the public one: profiles reveal internals and cost CPU.
func (n *Node) startPprof() error {
	if n.cfg.PprofAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", n.cfg.PprofAddr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux}
	n.goServe("pprof", func() error { return srv.Serve(ln) }, srv.Shutdown)
	n.log.Info("pprof serving", "addr", ln.Addr().String())
	return nil
}

// goServe runs serve in the background until the node closes, logging an
// unexpected end, and adds stop (if any) to the node's closers.
func (n *Node) goServe(name string, serve func() error, stop func(context.Context) error) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		if err := serve(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error(name+" server stopped", "err", err)
		}
	}()
	if stop != nil {
		n.extra = append(n.extra, stop)
	}
}
