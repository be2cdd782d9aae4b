package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/grafo/grafo/kv"
)

// Batch limits of the writer: a PutFiles call carries at most this many
// files or about this many bytes of facts, and this many calls are in
// flight at once. Several calls in flight hide the latency of a remote
// sink; bounded batches keep each request (and its memory) small.
const (
	batchFiles    = 64
	batchBytes    = 4 << 20
	batchInflight = 8
	deleteBatch   = 1000
)

// A batch the sink refused as unavailable (a quorum that timed out on a
// busy cluster) is sent again, up to batchAttempts times in all, after
// pauses doubling from a second to batchMaxPause: files are replaced as
// units, so sending them again is safe.
const (
	batchAttempts = 6
	batchMaxPause = 15 * time.Second
)

// writer sends facts to a Sink in batches, several calls in flight, as
// they arrive, so writing overlaps the analysis that produces them.
type writer struct {
	ctx   context.Context
	sink  Sink
	graph string
	// written is called after each successful batch with its counts.
	written func(files, nodes, edges int)

	buf      []FileFacts
	bufBytes int
	sem      chan struct{}
	wg       sync.WaitGroup

	mu         sync.Mutex
	err        error
	first      time.Time
	last       time.Time
	maxFiles   int
	maxBytes   int
	batchCalls int
	retries    int // batches sent again
}

func newWriter(ctx context.Context, sink Sink, graph string, written func(files, nodes, edges int)) *writer {
	return &writer{ctx: ctx, sink: sink, graph: graph, written: written,
		sem: make(chan struct{}, batchInflight), maxFiles: batchFiles, maxBytes: batchBytes}
}

// add queues one file's facts; it blocks while batchInflight calls are
// running (back-pressure on the analysis) and returns the first write
// error seen so far.
func (w *writer) add(f FileFacts) error {
	if err := w.failed(); err != nil {
		return err
	}
	w.buf = append(w.buf, f)
	w.bufBytes += factsSize(f)
	if len(w.buf) >= w.maxFiles || w.bufBytes >= w.maxBytes {
		return w.flush()
	}
	return nil
}

func (w *writer) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *writer) flush() error {
	if len(w.buf) == 0 {
		return w.failed()
	}
	batch := w.buf
	w.buf, w.bufBytes = nil, 0
	select {
	case w.sem <- struct{}{}:
	case <-w.ctx.Done():
		return fmt.Errorf("ingest: write: %w", w.ctx.Err())
	}
	w.mu.Lock()
	if w.first.IsZero() {
		w.first = time.Now()
	}
	w.batchCalls++
	w.mu.Unlock()
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer func() { <-w.sem }()
		retries, err := w.put(batch)
		w.mu.Lock()
		w.retries += retries
		defer w.mu.Unlock()
		w.last = time.Now()
		if err != nil {
			if w.err == nil {
				w.err = fmt.Errorf("ingest: put %d files: %w", len(batch), err)
			}
			return
		}
		if w.written != nil {
			nodes, edges := 0, 0
			for _, f := range batch {
				nodes += len(f.Nodes)
				edges += len(f.Edges)
			}
			w.written(len(batch), nodes, edges)
		}
	}()
	return w.failed()
}

// put sends one batch, again while the sink answers unavailable, and
// returns how many times it sent it again.
func (w *writer) put(batch []FileFacts) (int, error) {
	pause := time.Second
	for attempt := 1; ; attempt++ {
		err := w.sink.PutFiles(w.ctx, w.graph, batch)
		if err == nil || !errors.Is(err, kv.ErrUnavailable) || attempt == batchAttempts {
			return attempt - 1, err
		}
		select {
		case <-time.After(pause):
			pause = min(2*pause, batchMaxPause)
		case <-w.ctx.Done():
			return attempt - 1, err
		}
	}
}

// close flushes what is queued, waits for every call and returns the
// first error, and the wall time from the first call to the last answer.
func (w *writer) close() (time.Duration, error) {
	err := w.flush()
	w.wg.Wait()
	if err == nil {
		err = w.failed()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var d time.Duration
	if !w.first.IsZero() {
		d = w.last.Sub(w.first)
	}
	return d, err
}

// factsSize estimates the encoded size of f, to bound batch sizes.
func factsSize(f FileFacts) int {
	n := 128 + len(f.File.Path)*2
	for _, d := range f.File.Diagnostics {
		n += len(d) + 4
	}
	for _, nd := range f.Nodes {
		n += 96 + len(nd.Name) + len(nd.QualifiedName) + len(nd.Path)
	}
	for _, e := range f.Edges {
		n += 96 + len(e.From) + len(e.To) + len(e.Path)
	}
	for _, o := range f.Occurrences {
		n += 48 + len(o.Target)
	}
	return n
}
