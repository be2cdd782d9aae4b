package replica

import (
	"slices"
	"sync"
	"time"
)

// Progress is one stream of ranges by the rebalancer: a join or rebuild
// pulling, a repair after a removal, a leave pushing.
type Progress struct {
	Kind        string    `json:"kind"` // join, rebuild, repair, leave
	RangesDone  int       `json:"rangesDone"`
	RangesTotal int       `json:"rangesTotal"` // 0 for a leave: it streams by key
	Bytes       int64     `json:"bytesStreamed"`
	Started     time.Time `json:"started"`
	Finished    bool      `json:"finished"`
	// Unavailable names the ranges, as "(start,end]" in hex, that no live
	// replica could give: their data is lost unless a member returns.
	Unavailable []string `json:"unavailable,omitempty"`
}

type progress struct {
	mu sync.Mutex
	p  Progress
}

func (p *progress) begin(kind string, total int, missing []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.p = Progress{Kind: kind, RangesTotal: total, RangesDone: len(missing), Started: time.Now(), Unavailable: missing}
}

func (p *progress) add(ranges int, bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.p.RangesDone += ranges
	p.p.Bytes += bytes
}

func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.p.Finished = true
}

func (p *progress) get() Progress {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.p
	out.Unavailable = slices.Clone(out.Unavailable)
	return out
}
