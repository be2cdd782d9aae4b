//go:build unix

package engine

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// BenchmarkWALSync compares a record's append and fdatasync into a new
// segment (the file grows: the sync also commits its size to the file
// system's journal) with the same into a recycled one (written over inside
// its size: the sync flushes data only). cpu-ns/op is this process's user
// and system CPU per record, from getrusage: what the engine saves per
// group commit.
//
//	go test -bench WALSync -run '^$' -benchtime=3000x ./kv/engine
func BenchmarkWALSync(b *testing.B) {
	changes := []change{{key: make([]byte, 40), enc: make([]byte, 2800)}}
	for _, recycled := range []bool{false, true} {
		name := map[bool]string{false: "new", true: "recycled"}[recycled]
		b.Run(name, func(b *testing.B) {
			base := filepath.Join(b.TempDir(), "e.db")
			if recycled {
				w, err := createSegment(base, 1)
				if err != nil {
					b.Fatal(err)
				}
				for i := range b.N {
					w.appendRecord(uint64(i+1), changes, false)
				}
				fdatasync(w.f)
				w.close()
				if err := retire(base, segmentName(base, 1), 1); err != nil {
					b.Fatal(err)
				}
			}
			w, err := createSegment(base, uint64(b.N+1))
			if err != nil {
				b.Fatal(err)
			}
			defer w.close()
			cpu0 := cpuTime()
			b.ResetTimer()
			for i := range b.N {
				if _, err := w.appendRecord(uint64(b.N+1+i), changes, true); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
