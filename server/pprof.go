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
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Warn("pprof server stopped", "err", err)
		}
	}()
	n.extra = append(n.extra, func(ctx context.Context) error { return srv.Shutdown(ctx) })
	n.log.Info("pprof serving", "addr", ln.Addr().String())
	return nil
}
