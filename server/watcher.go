package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/grafo/grafo/kv/cluster"
	"github.com/grafo/grafo/kv/engine"
)

// The watcher's timings (README "Operations"): a probe every heartbeat
// (at least probeEvery; 1s by default); after failuresUnhealthy failures in a row the
// node flags itself unhealthy in the membership and tries reopenAttempts
// reopens of its engine, one per probe interval; if none brings the probe
// back it gives up and the process exits non-zero.
const (
	probeEvery        = 100 * time.Millisecond
	failuresUnhealthy = 3
	reopenAttempts    = 3
)

// health is the watcher's verdict on this node's engine: a bbolt
// write/read probe run periodically, so /readyz and /v1/cluster read a
// cached result instead of probing on every request.
type health struct {
	last  atomic.Pointer[probeResult]
	fault func() error // Knobs.ProbeFault
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
	if err == nil && h.fault != nil {
		err = h.fault()
	}
	h.last.Store(&probeResult{err: err})
	return err
}

func (k *Knobs) probeFault() func() error {
	if k == nil {
		return nil
	}
	return k.ProbeFault
}

// Failed delivers the error of an engine the watcher could not bring
// back; the node is unusable and its process should exit non-zero so
// that its supervisor restarts it.
func (n *Node) Failed() <-chan error { return n.failed }

// watchEngine probes the engine until ctx ends and acts on failures: it
// flags this node unhealthy (coordinators then treat it as down), reopens
// the engine, clears the flag if that helped, and reports on Failed if it
// did not.
func (n *Node) watchEngine(ctx context.Context) {
	every := max(n.cfg.Heartbeat, probeEvery)
	t := time.NewTicker(every)
	defer t.Stop()
	fails, reopens := 0, 0
	flagged := n.cluster.Self().Unhealthy // left over from before a restart
	for {
		err := n.health.probe(ctx, n.engine)
		if ctx.Err() != nil {
			return
		}
		switch {
		case err == nil:
			if fails > 0 {
				n.log.Info("engine healthy again", "after", fails)
			}
			fails, reopens = 0, 0
			if flagged && n.setHealth(ctx, true) == nil {
				flagged = false
			}
		default:
			fails++
			n.log.Error("engine probe failed", "err", err, "failures", fails)
			if fails < failuresUnhealthy {
				break
			}
			if !flagged && n.setHealth(ctx, false) == nil {
				flagged = true
			}
			if reopens == reopenAttempts {
				n.failed <- fmt.Errorf("engine still failing after %d reopen attempts: %w", reopens, err)
				return
			}
			reopens++
			if rerr := n.engine.Reopen(); rerr != nil {
				n.log.Error("engine reopen failed", "attempt", reopens, "err", rerr)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// setHealth records this node's health in the membership (a raft write
// through the leader: the raft log has its own file, so it works while
// the engine does not).
func (n *Node) setHealth(ctx context.Context, healthy bool) error {
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err := n.cluster.SetHealth(cctx, n.cfg.NodeID, healthy)
	if err != nil && !errors.Is(err, context.Canceled) {
		n.log.Warn("recording engine health in the membership failed", "healthy", healthy, "err", err)
	}
	return err
}

// warnQuorums says at start-up when reads and writes need not overlap.
func warnQuorums(st cluster.State, log *slog.Logger) {
	if st.WriteQuorum+st.ReadQuorum <= st.Replicas {
		log.Warn("W+R <= N: a read at the default consistency may miss an acknowledged write", "n", st.Replicas, "w", st.WriteQuorum, "r", st.ReadQuorum)
	}
}
