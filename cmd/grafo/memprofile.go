package main

import (
	"bytes"
	"os"
	"runtime/metrics"
	"runtime/pprof"
	"time"
)

// peakProfiler writes a heap profile whenever the live heap grows past the
// largest size profiled so far (by a tenth, so as not to write one every
// tick): a heap profile at exit shows what is left, not what the ingest
// peaked at. The file holds the last profile written, the one nearest the
// peak; pprof's in-use figures are those of the last garbage collection
// before it.
type peakProfiler struct {
	file string
	stop chan struct{}
	done chan struct{}
	peak uint64
	err  error
}

// heapMetric is the heap the last collection found live: the heap's
// objects also count garbage not yet collected, whose peak (just before a
// collection) says little of what the ingest holds.
const heapMetric = "/gc/heap/live:bytes"

func startPeakProfile(file string) *peakProfiler {
	p := &peakProfiler{file: file, stop: make(chan struct{}), done: make(chan struct{})}
	go p.run()
	return p
}

func (p *peakProfiler) run() {
	defer close(p.done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	sample := []metrics.Sample{{Name: heapMetric}}
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		metrics.Read(sample)
		if v := sample[0].Value.Uint64(); v > p.peak+p.peak/10 && p.err == nil {
			p.peak = v
			p.err = p.write()
		}
	}
}

func (p *peakProfiler) write() error {
	var buf bytes.Buffer
	if err := pprof.Lookup("heap").WriteTo(&buf, 0); err != nil {
		return err
	}
	return os.WriteFile(p.file, buf.Bytes(), 0o644)
}

// close stops sampling and returns the first error writing a profile.
func (p *peakProfiler) close() error {
	close(p.stop)
	<-p.done
	return p.err
}
