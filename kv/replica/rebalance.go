package replica

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/grafo/grafo/kv"
)

// Mover is what the rebalancer needs of membership: this node's state in
// the ring's life cycle, and the means to move it on.
type Mover interface {
	SelfState() string // "joining", "up", "leaving", "left"
	SetSelfState(ctx context.Context, state string) error
}

// Rebalancer moves data when this node's ownership changes: a joining node
// pulls the ranges it will own from the current owners before it is marked
// up (and so before it serves reads), and a leaving node pushes everything
// it holds to the future owners before it is marked left. Writes reach the
// future owners all along (see replicasFor), so nothing written during the
// move is missed.
type Rebalancer struct {
	c      *Coordinator
	local  Local
	m      Mover
	log    *slog.Logger
	signal chan struct{}
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
}

// NewRebalancer starts the rebalancer's worker.
func NewRebalancer(c *Coordinator, local Local, m Mover, log *slog.Logger) *Rebalancer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Rebalancer{c: c, local: local, m: m, log: log, signal: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go r.run()
	return r
}

// Changed tells the rebalancer that membership changed.
func (r *Rebalancer) Changed(ctx context.Context) {
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

// Stop ends the worker and waits for it.
func (r *Rebalancer) Stop() {
	r.once.Do(func() { close(r.stop) })
	<-r.done
}

func (r *Rebalancer) run() {
	defer close(r.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-r.stop; cancel() }()
	backoff := 200 * time.Millisecond
	for {
		select {
		case <-r.stop:
			return
		case <-r.signal:
		}
		err := r.step(ctx)
		if err == nil {
			backoff = 200 * time.Millisecond
			continue
		}
		if ctx.Err() != nil {
			return
		}
		r.log.Warn("rebalance step failed; retrying", "err", err, "in", backoff)
		select {
		case <-r.stop:
			return
		case <-time.After(backoff):
		}
		if backoff < 5*time.Second {
			backoff *= 2
		}
		r.Changed(ctx)
	}
}

func (r *Rebalancer) step(ctx context.Context) error {
	switch r.m.SelfState() {
	case "joining":
		if err := r.pull(ctx); err != nil {
			return fmt.Errorf("pull: %w", err)
		}
		return r.m.SetSelfState(ctx, "up")
	case "leaving":
		if err := r.push(ctx); err != nil {
			return fmt.Errorf("push: %w", err)
		}
		return r.m.SetSelfState(ctx, "left")
	}
	return nil
}

// pull copies, from every current owner, the entries of the ranges this
// node will replicate.
func (r *Rebalancer) pull(ctx context.Context) error {
	read, write := r.c.cfg.Members.Rings()
	n, _, _ := r.c.cfg.Members.Settings()
	mine := write.Ranges(r.c.self, n)
	if len(mine) == 0 || read == nil {
		return nil
	}
	start, moved := time.Now(), 0
	for _, m := range read.Members() {
		if m.ID == r.c.self {
			continue
		}
		err := r.c.FetchRanges(ctx, m.ID, mine, func(es []kv.Entry) error {
			es = r.c.admitted(es)
			moved += len(es)
			_, err := r.local.Apply(ctx, es...)
			return err
		})
		if err != nil {
			return fmt.Errorf("from %s: %w", m.ID, err)
		}
	}
	r.log.Info("ranges pulled", "entries", moved, "took", time.Since(start))
	return nil
}

// push sends every local entry to its future owners.
func (r *Rebalancer) push(ctx context.Context) error {
	_, write := r.c.cfg.Members.Rings()
	n, _, _ := r.c.cfg.Members.Settings()
	batch := map[string][]kv.Entry{}
	size := 0
	flush := func() error {
		for id, es := range batch {
			if err := r.c.applyTo(ctx, id, es); err != nil {
				return fmt.Errorf("to %s: %w", id, err)
			}
		}
		clear(batch)
		size = 0
		return nil
	}
	var ferr error
	err := r.local.ForEach(ctx, func(e kv.Entry) bool {
		for _, id := range write.Preference(kv.Partition(e.Key), n) {
			if id != r.c.self {
				batch[id] = append(batch[id], e)
			}
		}
		if size++; size >= 500 {
			if ferr = flush(); ferr != nil {
				return false
			}
		}
		return true
	})
	if err == nil {
		err = ferr
	}
	if err == nil {
		err = flush()
	}
	return err
}
