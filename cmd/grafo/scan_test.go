package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"testing"

	"github.com/grafo/grafo/kv"
)

type listPage struct {
	Entries []struct{ Key, Value, Version string }
	Next    string
}

func list(t *testing.T, base, query string) (listPage, int) {
	t.Helper()
	resp, err := http.Get(base + "/v1/kv?" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p listPage
	if resp.StatusCode == 200 {
		if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
			t.Fatal(err)
		}
	}
	return p, resp.StatusCode
}

// listAll pages through every key with prefix and checks order and
// uniqueness on the way.
func listAll(t *testing.T, base, prefix, consistency string, limit int) []string {
	t.Helper()
	var keys []string
	after := ""
	for pages := 0; ; pages++ {
		q := url.Values{"prefix": {prefix}, "limit": {fmt.Sprint(limit)}, "consistency": {consistency}}
		if pages > 0 {
			q.Set("after", after)
		}
		p, st := list(t, base, q.Encode())
		if st != 200 {
			t.Fatalf("list page %d: status %d", pages, st)
		}
		if len(p.Entries) > limit {
			t.Fatalf("page of %d entries, limit %d", len(p.Entries), limit)
		}
		for _, e := range p.Entries {
			if len(keys) > 0 && e.Key <= keys[len(keys)-1] {
				t.Fatalf("key %q after %q: out of order or repeated", e.Key, keys[len(keys)-1])
			}
			if e.Value != "v-"+e.Key || e.Version == "" {
				t.Fatalf("entry %+v", e)
			}
			keys = append(keys, e.Key)
		}
		if p.Next == "" {
			return keys
		}
		after = p.Next
		if pages > 100000 {
			t.Fatal("listing does not end")
		}
	}
}

// A scan over 10,000 keys on three nodes lists each key once, in order,
// across pages — also at consistency one while a node is down. Graph rows
// stored on the same nodes are never listed.
func TestKVListAcrossRing(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories
	nodes := startCluster(t, 3)
	c := nodes[0].client()
	ctx := context.Background()
	const total = 10000
	want := make([]string, total)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < total; i += 16 {
				k := fmt.Sprintf("key-%05d", i)
				want[i] = k
				if err := nodes[i%3].client().Put(ctx, []byte(k), []byte("v-"+k), kv.Options{}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	sort.Strings(want)
	if err := c.GraphQL(ctx, `mutation { createGraph(id: "key-graph") { id } }`, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Put(ctx, []byte("other-1"), []byte("v-other-1"), kv.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, []byte("key-00007"), kv.Options{}); err != nil {
		t.Fatal(err)
	}
	want = append(want[:7], want[8:]...)

	got := listAll(t, nodes[1].url(), "key-", "quorum", 1000)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("listed %d keys, want %d (first %v)", len(got), len(want), got[:min(3, len(got))])
	}
	p, st := list(t, nodes[2].url(), "limit=5")
	if st != 200 || len(p.Entries) != 5 || p.Entries[0].Key != "key-00000" || p.Next != "key-00004" {
		t.Fatalf("first page of everything: %d %+v", st, p)
	}
	if p, _ := list(t, nodes[0].url(), "prefix=other"); len(p.Entries) != 1 || p.Next != "" {
		t.Fatalf("prefix other: %+v", p)
	}
	for _, bad := range []string{"limit=0", "limit=1001", "limit=x", "consistency=most"} {
		if _, st := list(t, nodes[0].url(), bad); st != 400 {
			t.Errorf("%s: status %d, want 400", bad, st)
		}
	}

	nodes[2].kill()
	got = listAll(t, nodes[0].url(), "key-", "one", 777)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("with n3 down at one: listed %d keys, want %d", len(got), len(want))
	}
}
