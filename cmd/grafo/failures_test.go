package main

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/client"
	bolt "go.etcd.io/bbolt"
)

// localKeys is what node id reports of its own engine.
func localKeys(c *client.Client, id string) int64 {
	st, err := c.Cluster(context.Background())
	if err != nil {
		return -1
	}
	for _, n := range st.Nodes {
		if n.ID == id {
			return n.Keys
		}
	}
	return -1
}

// A node killed while 100 writes go on is brought up to date by hints and
// anti-entropy after its restart, without any client reading the keys;
// then it alone serves all 200 keys at consistency one.
func TestRestartedNodeCatchesUp(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories
	nodes := startCluster(t, 3, "--anti-entropy", "1s")
	ctx := context.Background()
	c1 := nodes[0].client()
	q := kv.Options{Level: kv.Quorum}
	for i := 0; i < 100; i++ {
		if err := c1.Put(ctx, []byte(fmt.Sprintf("key-%03d", i)), []byte(fmt.Sprintf("v%03d", i)), q); err != nil {
			t.Fatal(err)
		}
	}
	nodes[2].kill()
	for i := 100; i < 200; i++ {
		if err := c1.Put(ctx, []byte(fmt.Sprintf("key-%03d", i)), []byte(fmt.Sprintf("v%03d", i)), q); err != nil {
			t.Fatalf("quorum put with n3 dead: %v", err)
		}
	}
	st, err := c1.Cluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("hints pending while n3 is dead: %d", st.HintsPending)
	if st.HintsPending == 0 {
		t.Fatal("no hints kept for the dead node")
	}
	restarted := time.Now()
	nodes[2].start()
	c3 := nodes[2].client()
	waitFor(t, 30*time.Second, "n3 holding 200 keys", func() bool { return localKeys(c3, "n3") == 200 })
	t.Logf("n3 up to date %v after its restart", time.Since(restarted).Round(time.Millisecond))
	waitFor(t, 30*time.Second, "hints delivered", func() bool {
		st, err := c1.Cluster(ctx)
		return err == nil && st.HintsPending == 0
	})
	nodes[0].kill()
	nodes[1].kill()
	for i := 0; i < 200; i++ {
		v, _, err := c3.Get(ctx, []byte(fmt.Sprintf("key-%03d", i)), kv.Options{Level: kv.One})
		if err != nil || string(v) != fmt.Sprintf("v%03d", i) {
			t.Fatalf("n3 alone, key-%03d at one: %q %v", i, v, err)
		}
	}
}

// A replica whose bbolt file lost keys behind its back (deleted while it
// was stopped) has them back within one anti-entropy round after its
// restart, with no client reading them.
func TestAntiEntropyRestoresLostKeys(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories
	const interval = 2 * time.Second
	nodes := startCluster(t, 3, "--anti-entropy", interval.String())
	ctx := context.Background()
	c1 := nodes[0].client()
	for i := 0; i < 100; i++ {
		if err := c1.Put(ctx, []byte(fmt.Sprintf("key-%03d", i)), []byte("v"), kv.Options{Level: kv.All}); err != nil {
			t.Fatal(err)
		}
	}
	n3 := nodes[2]
	// Stopped cleanly, so that the bbolt file holds every key (a crash
	// would leave the latest in the write-ahead log, which replays them).
	n3.stop()
	db, err := bolt.Open(filepath.Join(n3.data, "data.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for i := 0; i < 100; i += 3 {
			if err := tx.Bucket([]byte("data")).Delete([]byte(fmt.Sprintf("key-%03d", i))); err != nil {
				return err
			}
		}
		// Drop the stored counters so the engine recounts what is left.
		return tx.DeleteBucket([]byte("meta"))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	n3.start()
	c3 := n3.client()
	if k := localKeys(c3, "n3"); k != 66 {
		t.Fatalf("n3 after losing 34 keys reports %d, want 66", k)
	}
	restarted := time.Now()
	// One round: the first tick after the restart, plus the round itself.
	waitFor(t, 2*interval+5*time.Second, "n3 holding 100 keys again", func() bool { return localKeys(c3, "n3") == 100 })
	t.Logf("lost keys back %v after the restart (anti-entropy every %v)", time.Since(restarted).Round(time.Millisecond), interval)
}
