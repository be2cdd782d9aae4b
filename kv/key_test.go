package kv

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

func FuzzKey(f *testing.F) {
	for _, s := range [][2]string{{"p", "r"}, {"g/x/n/1", "out/CALLS/2"}, {"", ""}, {"a\x00b", "c"}, {"p", ""}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, partition, row string) {
		k := Key(partition, row)
		p, r := Split(k)
		if bytes.IndexByte([]byte(partition), Sep) < 0 {
			// Without a separator inside the partition, the codec round trips.
			if string(p) != partition || string(r) != row {
				t.Fatalf("Split(Key(%q, %q)) = %q, %q", partition, row, p, r)
			}
			if !bytes.HasPrefix(k, PartitionPrefix([]byte(partition))) {
				t.Fatalf("key %q lacks its partition prefix", k)
			}
		}
		if !bytes.Equal(Partition(k), p) {
			t.Fatal("Partition disagrees with Split")
		}
		if err := CheckPair(k, nil); (err != nil) != (len(p) == 0 || len(k) > MaxPairSize) {
			t.Fatalf("CheckPair(%q) = %v", k, err)
		}
	})
}

func FuzzVersion(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 1, 2, 'n', '1'})
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 255})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, rest, err := DecodeVersion(b)
		if err != nil {
			return
		}
		again := v.AppendBinary(nil)
		if !bytes.Equal(again, b[:len(b)-len(rest)]) {
			t.Fatalf("version %v re-encodes as %x, decoded from %x", v, again, b)
		}
		if s, want := v.String(), fmt.Sprintf("%016x-%s", v.TS, v.Node); s != want {
			t.Fatalf("String() = %q, want %q", s, want)
		}
		if pv, err := ParseVersion(v.String()); err != nil || pv != v {
			t.Fatalf("ParseVersion(String(%v)) = %v, %v", v, pv, err)
		}
	})
}

func TestNeed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		o                   Options
		write               bool
		n, maxN, defW, defR int
		want                int
		err                 bool
	}{
		{Options{}, true, 1, 3, 0, 0, 1, false},     // single node, N=3 configured: default W fits the node
		{Options{W: 2}, true, 1, 3, 0, 0, 2, false}, // asked for more than exist: the coordinator answers 503
		{Options{W: 4}, true, 3, 3, 0, 0, 0, true},  // outside 1..N
		{Options{Level: All}, true, 3, 3, 2, 2, 3, false},
		{Options{Level: One}, false, 3, 3, 2, 2, 1, false},
		{Options{Level: Quorum}, false, 5, 5, 1, 1, 3, false},
		{Options{}, false, 3, 3, 2, 3, 3, false},
		{Options{R: 0}, false, 2, 3, 3, 3, 2, false}, // default capped by the replicas that exist
	} {
		got, err := tc.o.Need(tc.write, tc.n, tc.maxN, tc.defW, tc.defR)
		if (err != nil) != tc.err || (!tc.err && got != tc.want) {
			t.Errorf("%+v write=%v n=%d: got %d, %v; want %d (err %v)", tc.o, tc.write, tc.n, got, err, tc.want, tc.err)
		}
	}
}

func TestClockMonotonic(t *testing.T) {
	t.Parallel()
	c := NewClock("n1")
	prev := c.Now()
	c.Observe(Version{TS: prev.TS + 1000, Node: "n2"})
	for i := 0; i < 1000; i++ {
		v := c.Now()
		if !v.Newer(prev) {
			t.Fatalf("clock went backwards: %v after %v", v, prev)
		}
		prev = v
	}
	if prev.TS <= 1000 {
		t.Fatal("clock did not move past an observed version")
	}
}

// A peer that sends TS = 2^64-1 must not wrap the clock: before the clock
// saturated, the next version was 0000…, older than every stored cell.
func TestClockSaturates(t *testing.T) {
	t.Parallel()
	c := NewClock("n1")
	c.Observe(Version{TS: MaxTS, Node: "evil"})
	v := c.Now()
	if v.TS != MaxTS {
		t.Fatalf("clock wrapped: %v after observing TS %x", v, uint64(MaxTS))
	}
}

// Two writes of one key from different nodes within the same millisecond
// follow wall time (microseconds), whatever the nodes' ids.
func TestClockMicroseconds(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 1, 2, 3, 4, 5, 100_000, time.UTC)
	a := NewClockFunc("z", func() time.Time { return base })
	b := NewClockFunc("a", func() time.Time { return base.Add(300 * time.Microsecond) })
	va, vb := a.Now(), b.Now()
	if !vb.Newer(va) {
		t.Fatalf("write 300µs later is not newer: %v vs %v", vb, va)
	}
	if va.Time().UnixMilli() != base.UnixMilli() {
		t.Fatalf("Time() = %v, want %v", va.Time(), base)
	}
}
