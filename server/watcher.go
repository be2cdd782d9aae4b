package server

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/grafo/grafo/kv/engine"
)

// health is the watcher's verdict on this node's engine: a bbolt
// write/read probe run periodically, so /readyz and /v1/cluster read a
// cached result instead of probing on every request.
type health struct {
	last atomic.Pointer[probeResult]
}

type probeResult struct{ err error }

// err is the last probe's error (nil: healthy).
func (h *health) err() error {
	if r := h.last.Load(); r != nil {
		return r.err
	}
	return nil
}

func (h *health) probe(ctx context.Context, e *engine.Engine) error {
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := e.Probe(pctx)
	h.last.Store(&probeResult{err: err})
	return err
}

// watch probes every interval (at least 1s) until ctx ends, logging
// changes of health.
func (h *health) watch(ctx context.Context, e *engine.Engine, every time.Duration, log *slog.Logger) {
	every = max(every, time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	was := h.err() == nil
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := h.probe(ctx, e)
		if ctx.Err() != nil {
			return
		}
		if ok := err == nil; ok != was {
			was = ok
			if ok {
				log.Info("engine healthy again")
			} else {
				log.Error("engine unhealthy", "err", err)
			}
		}
	}
}
