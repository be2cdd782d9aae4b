package ingest

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/term"
)

// progress reports an ingest as it runs: on a terminal one line redrawn
// with \r at most ten times a second; otherwise a plain line per phase and
// every two seconds, so logs of CI and containers stay readable.
type progress struct {
	w     io.Writer
	tty   bool
	start time.Time

	phase   atomic.Value // string
	total   atomic.Int64 // files to parse in this ingest
	parsed  atomic.Int64
	records atomic.Int64 // files + nodes + edges written

	mu       sync.Mutex // serialises writes to w
	stopOnce sync.Once
	done     chan struct{}
	exited   chan struct{}
	lastLen  int
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, start: time.Now(), done: make(chan struct{}), exited: make(chan struct{})}
	p.phase.Store("walk")
	if w == nil {
		close(p.exited)
		return p
	}
	if f, ok := w.(interface{ Fd() uintptr }); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
	}
	interval := 2 * time.Second
	if p.tty {
		interval = 100 * time.Millisecond
	}
	go p.loop(interval)
	return p
}

func (p *progress) loop(interval time.Duration) {
	defer close(p.exited)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
			p.draw(false)
		}
	}
}

// setPhase starts a phase; non-terminal writers get a line for it.
func (p *progress) setPhase(name string) {
	p.phase.Store(name)
	if p.w != nil && !p.tty {
		p.draw(false)
	}
}

func (p *progress) line() string {
	el := time.Since(p.start)
	rate := 0.0
	if s := el.Seconds(); s > 0 {
		rate = float64(p.records.Load()) / s
	}
	return fmt.Sprintf("ingest: %-8s files parsed %d/%d  records written %d  (%.0f records/s)  %s",
		p.phase.Load().(string), p.parsed.Load(), p.total.Load(), p.records.Load(), rate,
		el.Round(100*time.Millisecond))
}

func (p *progress) draw(final bool) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.line()
	if !p.tty {
		fmt.Fprintln(p.w, l)
		return
	}
	l = bar(p.parsed.Load(), p.total.Load()) + " " + l
	pad := ""
	if n := p.lastLen - len(l); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	p.lastLen = len(l)
	end := ""
	if final {
		end = "\n"
	}
	fmt.Fprint(p.w, "\r"+l+pad+end)
}

// bar draws files parsed out of total as a 20-cell bar, for terminals.
func bar(done, total int64) string {
	const cells = 20
	n := 0
	if total > 0 {
		n = int(min(done, total) * cells / total)
	}
	return "[" + strings.Repeat("#", n) + strings.Repeat("-", cells-n) + "]"
}

// stop ends the redraw loop and prints the final state once.
func (p *progress) stop() {
	p.stopOnce.Do(func() {
		if p.w == nil {
			return
		}
		close(p.done)
		<-p.exited
		p.phase.Store("done")
		p.draw(true)
	})
}
