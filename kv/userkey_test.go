package kv

import (
	"bytes"
	"sort"
	"testing"
)

// User keys, whatever their bytes, never hold the partition separator once
// mapped (so they cannot name an internal row), map back to themselves,
// and keep their order.
func TestUserKeyspace(t *testing.T) {
	t.Parallel()
	keys := [][]byte{
		[]byte("plain"), []byte("graphs\x00teamA"), []byte("g/teamA\x00n/x"), []byte("\x01api"),
		[]byte("a\x00"), []byte("a\x01"), []byte("a\x02"), []byte("a"), []byte("\x00"), []byte("\x01\x01\x02"),
	}
	for _, k := range keys {
		m := UserKey(k)
		if bytes.IndexByte(m, Sep) >= 0 {
			t.Errorf("UserKey(%q) = %q holds Sep", k, m)
		}
		if back, ok := FromUserKey(m); !ok || !bytes.Equal(back, k) {
			t.Errorf("FromUserKey(UserKey(%q)) = %q, %v", k, back, ok)
		}
	}
	if m := UserKey([]byte("plain")); string(m) != "plain" {
		t.Errorf("keys without 0x00/0x01 must map to themselves, got %q", m)
	}
	if _, ok := FromUserKey(Key("graphs", "teamA")); ok {
		t.Error("an internal row reads as a user key")
	}
	sorted := append([][]byte(nil), keys...)
	sort.Slice(sorted, func(i, j int) bool { return bytes.Compare(sorted[i], sorted[j]) < 0 })
	for i := 1; i < len(sorted); i++ {
		if bytes.Compare(UserKey(sorted[i-1]), UserKey(sorted[i])) >= 0 {
			t.Errorf("order not kept: %q < %q but mapped %q >= %q", sorted[i-1], sorted[i], UserKey(sorted[i-1]), UserKey(sorted[i]))
		}
	}
}

func FuzzUserKey(f *testing.F) {
	f.Add([]byte("graphs\x00x"), []byte("a\x01"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		ma, mb := UserKey(a), UserKey(b)
		if bytes.IndexByte(ma, Sep) >= 0 {
			t.Fatalf("UserKey(%q) holds Sep", a)
		}
		if back, ok := FromUserKey(ma); !ok || !bytes.Equal(back, a) {
			t.Fatalf("round trip of %q: %q %v", a, back, ok)
		}
		if c1, c2 := bytes.Compare(a, b), bytes.Compare(ma, mb); c1 != c2 {
			t.Fatalf("order of %q, %q: %d, mapped %d", a, b, c1, c2)
		}
		if bytes.HasPrefix(b, a) != bytes.HasPrefix(mb, ma) {
			t.Fatalf("prefix of %q, %q not kept", a, b)
		}
	})
}
