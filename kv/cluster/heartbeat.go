package cluster

import (
	"bytes"
	"context"
	"sync"
	"time"
)

// missesDown is how many heartbeats in a row a node may miss before it is
// reported Down.
const missesDown = 5

// heartbeats pings every other member each Heartbeat and keeps the
// liveness view. It is local to this node, never replicated.
type heartbeats struct {
	c *Cluster

	mu    sync.Mutex
	peers map[string]*peerBeat
}

type peerBeat struct {
	misses   int
	last     time.Time
	inflight bool
	report   []byte // the peer's Report from its last answer
}

// maxReport bounds what a peer may park in this node's memory.
const maxReport = 4 << 10

func newHeartbeats(c *Cluster) *heartbeats {
	return &heartbeats{c: c, peers: make(map[string]*peerBeat)}
}

func (h *heartbeats) run() {
	defer h.c.wg.Done()
	t := time.NewTicker(h.c.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-h.c.ctx.Done():
			return
		case <-t.C:
		}
		nodes, _, _ := h.c.fsm.view()
		for _, n := range nodes {
			if n.ID == h.c.cfg.NodeID {
				continue
			}
			h.mu.Lock()
			p := h.peers[n.ID]
			if p == nil {
				p = &peerBeat{}
				h.peers[n.ID] = p
			}
			busy := p.inflight
			p.inflight = true
			h.mu.Unlock()
			if busy {
				// The previous ping is still waiting (it times out after one
				// interval, so this is rare): count nothing twice.
				continue
			}
			h.c.wg.Add(1)
			go h.ping(n.ID, n.Cluster)
		}
	}
}

func (h *heartbeats) ping(id, addr string) {
	defer h.c.wg.Done()
	ctx, cancel := context.WithTimeout(h.c.ctx, h.c.cfg.Heartbeat)
	resp, err := h.c.cfg.Transport.Call(ctx, addr, methodPing, []byte(id))
	cancel()
	if h.c.ctx.Err() != nil {
		return // closing: not the peer's fault
	}
	// The answer is the peer's id, then optionally a line break and its
	// report.
	name, report, _ := bytes.Cut(resp, []byte("\n"))
	ok := err == nil && string(name) == id
	h.mu.Lock()
	p := h.peers[id]
	p.inflight = false
	wasAlive := p.misses < missesDown
	if ok {
		p.misses, p.last = 0, time.Now()
		if len(report) <= maxReport {
			p.report = bytes.Clone(report)
		}
	} else {
		p.misses++
	}
	isAlive := p.misses < missesDown
	h.mu.Unlock()
	if wasAlive != isAlive {
		h.c.log.Info("node liveness changed", "id", id, "alive", isAlive)
		h.c.notify()
	}
}

func (h *heartbeats) alive(id string) bool {
	a, _ := h.view(id)
	return a
}

func (h *heartbeats) view(id string) (alive bool, last time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.peers[id]
	if p == nil {
		return true, time.Time{} // not pinged yet: innocent until proven down
	}
	return p.misses < missesDown, p.last
}

// reports are the peers' latest heartbeat reports, with this node's own.
func (h *heartbeats) reports() map[string][]byte {
	out := map[string][]byte{}
	if h.c.cfg.Report != nil {
		out[h.c.cfg.NodeID] = h.c.cfg.Report()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, p := range h.peers {
		if p.report != nil && p.misses < missesDown {
			out[id] = p.report
		}
	}
	return out
}
