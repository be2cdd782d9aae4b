package resp

import (
	"fmt"
	"strings"
	"testing"

	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/kvtest"
)

// scanReply splits a rendered SCAN reply ["cursor" ["k1" "k2"]] into the
// cursor and the keys.
func scanReply(t *testing.T, r string) (string, []string) {
	t.Helper()
	var cursor string
	rest, ok := strings.CutPrefix(r, `["`)
	if ok {
		cursor, rest, ok = strings.Cut(rest, `" [`)
	}
	if !ok || !strings.HasSuffix(rest, "]]") {
		t.Fatalf("not a SCAN reply: %s", r)
	}
	rest = strings.TrimSuffix(rest, "]]")
	var keys []string
	for _, f := range strings.Fields(rest) {
		keys = append(keys, strings.Trim(f, `"`))
	}
	return cursor, keys
}

// scanAll runs SCAN from 0 to the end with the given options and returns
// the keys in the order they came, failing if a reply holds more than max.
func scanAll(t *testing.T, c *client, max int, opts ...string) []string {
	t.Helper()
	var all []string
	cursor := "0"
	for range 10000 {
		var keys []string
		cursor, keys = scanReply(t, c.do(append([]string{"SCAN", cursor}, opts...)...))
		if len(keys) > max {
			t.Fatalf("SCAN %v answered %d keys, more than %d", opts, len(keys), max)
		}
		all = append(all, keys...)
		if cursor == "0" {
			return all
		}
	}
	t.Fatal("SCAN did not end")
	return nil
}

// SCAN pages through the keys in order, each once, with stable cursors;
// MATCH filters with Redis globs, COUNT is bounded, KEYS is refused.
func TestScan(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{Store: kv.UserSpace(kvtest.NewStore(t))})
	c := dial(t, s)
	var want []string
	args := []string{"MSET"}
	for i := range 1200 {
		k := fmt.Sprintf("k%04d", i)
		want = append(want, k)
		args = append(args, k, "v")
	}
	expect(t, c.do(args...), "+OK")
	expect(t, c.do("MSET", "other:b", "v", "other:a", "v", "gone", "v"), "+OK")
	expect(t, c.do("DEL", "gone"), ":1")
	all := append(append([]string(nil), want...), "other:a", "other:b")

	got := scanAll(t, c, 7, "COUNT", "7")
	if strings.Join(got, ",") != strings.Join(all, ",") {
		t.Fatalf("SCAN COUNT 7 listed %d keys, want %d in order (first %v)", len(got), len(all), got[:min(5, len(got))])
	}
	// The default COUNT is 10: ten candidates, of which the deleted "gone"
	// (first in key order) is dropped. A huge COUNT is cut to 1000.
	if cur, keys := scanReply(t, c.do("SCAN", "0")); strings.Join(keys, ",") != strings.Join(want[:9], ",") || cur == "0" {
		t.Fatalf("SCAN 0: %v, cursor %s", keys, cur)
	}
	cur, keys := scanReply(t, c.do("SCAN", "0", "COUNT", "1000000"))
	if len(keys) != maxScanCount-1 || keys[len(keys)-1] != want[maxScanCount-2] {
		t.Fatalf("SCAN COUNT 1000000 answered %d keys, want %d and the deleted one", len(keys), maxScanCount-1)
	}
	// A cursor is stable: the same position gives the same cursor, and
	// resuming from it twice gives the same page.
	cur2, _ := scanReply(t, c.do("SCAN", "0", "COUNT", "1000"))
	first, second := c.do("SCAN", cur, "COUNT", "3"), c.do("SCAN", cur, "COUNT", "3")
	if cur2 != cur || first != second || !strings.Contains(first, `"k0999" "k1000" "k1001"`) {
		t.Fatalf("cursor %s then %s; resumed twice: %s and %s", cur, cur2, first, second)
	}
	// Another connection resumes the same cursor (clients pool connections).
	expect(t, dial(t, s).do("SCAN", cur, "COUNT", "3"), first)

	for _, tc := range []struct {
		pattern string
		want    []string
	}{
		{"k11?5", []string{"k1105", "k1115", "k1125", "k1135", "k1145", "k1155", "k1165", "k1175", "k1185", "k1195"}},
		{"other:*", []string{"other:a", "other:b"}},
		{"*:[^a]", []string{"other:b"}},
		{"k00[0-1][5\\9]", []string{"k0005", "k0009", "k0015", "k0019"}},
		{"nothing*", nil},
		{"gone", nil},
	} {
		got := scanAll(t, c, 4, "MATCH", tc.pattern, "COUNT", "4")
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("SCAN MATCH %s = %v, want %v", tc.pattern, got, tc.want)
		}
	}
	expect(t, c.do("SCAN", "0", "TYPE", "hash"), `["0" []]`)
	if got := scanAll(t, c, 1000, "TYPE", "string", "MATCH", "other:*"); len(got) != 2 {
		t.Fatalf("SCAN TYPE string MATCH other:* = %v", got)
	}

	expect(t, c.do("SCAN", "0", "COUNT", "0"), "-ERR syntax error")
	expect(t, c.do("SCAN", "0", "COUNT", "x"), "-ERR value is not an integer or out of range")
	expect(t, c.do("SCAN", "0", "MATCH"), "-ERR syntax error")
	expect(t, c.do("SCAN", "0", "LIMIT", "3"), "-ERR syntax error")
	expectPrefix(t, c.do("SCAN", "12345"), "-ERR invalid cursor")
	expectPrefix(t, c.do("SCAN", "abc"), "-ERR invalid cursor")
	expectPrefix(t, c.do("KEYS", "*"), "-ERR KEYS is not supported by Grafo")
	if r := c.do("KEYS", "*"); !strings.Contains(r, "use SCAN") {
		t.Fatalf("KEYS: %s", r)
	}
}

// The cursor map is bounded: the oldest cursors go first, and a cursor
// that went is refused.
func TestScanCursorsBounded(t *testing.T) {
	t.Parallel()
	cs := newScanCursors()
	first := cs.save([]byte("first"))
	if k, ok := cs.resolve(first); !ok || string(k) != "first" {
		t.Fatalf("resolve(%s) = %q, %v", first, k, ok)
	}
	if again := cs.save([]byte("first")); again != first {
		t.Fatalf("the same key got cursors %s and %s", first, again)
	}
	for i := range maxCursors {
		cs.save(fmt.Appendf(nil, "key%d", i))
	}
	if _, ok := cs.resolve(first); ok {
		t.Fatal("the oldest cursor survived a full map")
	}
	if len(cs.keys) != maxCursors || len(cs.order) != maxCursors {
		t.Fatalf("%d cursors, %d in order; want %d", len(cs.keys), len(cs.order), maxCursors)
	}
	big := make([]byte, 9000)
	for i := range maxCursorBytes/len(big) + 10 {
		big[0], big[1] = byte(i), byte(i>>8)
		cs.save(big)
	}
	if cs.bytes > maxCursorBytes {
		t.Fatalf("%d bytes of cursor keys, bound %d", cs.bytes, maxCursorBytes)
	}
	if k, ok := cs.resolve("0"); !ok || k != nil {
		t.Fatalf("cursor 0 = %q, %v", k, ok)
	}
}
