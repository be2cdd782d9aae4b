package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The seed of a cluster (the node whose --join names only itself, as
// grafo-0 of the StatefulSet) loses its disk and starts again with --peers
// naming every member: it must rejoin its cluster and rebuild, not
// bootstrap a second cluster beside it.
func TestLostSeedRejoinsThroughPeers(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories
	args := []string{"--replicas", "3", "--anti-entropy=-1s"}
	nodes := startCluster(t, 3, args...)
	keys := putAll(t, nodes, "p", 600, valueOf)
	seed := nodes[0]
	seed.kill()
	if err := os.RemoveAll(seed.data); err != nil {
		t.Fatal(err)
	}
	seed.args = append(seed.args, "--join", seed.clust,
		"--peers", strings.Join([]string{seed.clust, nodes[1].clust, nodes[2].clust}, ","))
	seed.start()
	st := waitUp(t, nodes[1].client(), 3)
	own, err := seed.client().Cluster(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(own.Nodes) != 3 || own.Leader != st.Leader {
		t.Fatalf("the seed is in another cluster: it sees %d nodes led by %q, n2 sees %d led by %q",
			len(own.Nodes), own.Leader, len(st.Nodes), st.Leader)
	}
	logs := seed.logs.String()
	if !strings.Contains(logs, "joining it instead of bootstrapping") || strings.Contains(logs, "bootstrap=true") {
		t.Fatalf("the seed did not join through --peers:\n%s", logs)
	}
	if p := nodeStatus(t, nodes[1].client(), "n1").Progress; p == nil || p.Kind != "rebuild" || !p.Finished {
		t.Fatalf("the seed's progress: %+v, want a finished rebuild", p)
	}
	nodes[1].kill()
	nodes[2].kill()
	readAllAtOne(t, seed, keys)
}

// Nodes created together: the seed's --peers names a node that is itself
// waiting to join the seed. The seed waits while that peer does not
// answer, and bootstraps once it answers that it is no member.
func TestPeersWaitThenBootstrap(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories
	seed := &proc{t: t, id: "n1", data: filepath.Join(t.TempDir(), "n1"), http: freePort(t), clust: freePort(t)}
	late := &proc{t: t, id: "n2", data: filepath.Join(t.TempDir(), "n2"), http: freePort(t), clust: freePort(t)}
	logs := serveRaw(t, seed, "--join", seed.clust, "--peers", seed.clust+","+late.clust)
	// Nobody listens on late's cluster port yet: the seed must wait, not
	// bootstrap.
	waitFor(t, 30*time.Second, "the seed to wait for its peer", func() bool {
		return strings.Contains(logs.String(), "waiting for every peer to answer")
	})
	time.Sleep(time.Second)
	if strings.Contains(logs.String(), "bootstrap=true") {
		t.Fatalf("the seed bootstrapped while a peer did not answer:\n%s", logs)
	}
	late.args = []string{"--join", seed.clust}
	late.start() // returns once it serves: it joined the seed
	t.Cleanup(late.kill)
	waitUp(t, late.client(), 2)
	if !strings.Contains(logs.String(), "bootstrap=true") {
		t.Fatalf("the seed did not bootstrap once its peer answered:\n%s", logs)
	}
}

// A member restarting with --peers is a restart, whatever its peers say:
// with raft state on disk it neither asks them nor waits for them (here
// the one peer never answers).
func TestRestartWithPeersDoesNotWaitForThem(t *testing.T) {
	t.Parallel() // its own node, ports and directory
	n := newProc(t, "n1")
	n.stop()
	n.args = []string{"--peers", freePort(t)}
	n.start() // fails the test if it is not ready within 30 s
	if strings.Contains(n.logs.String(), "waiting for every peer") {
		t.Fatalf("the restarted member waited for --peers:\n%s", n.logs)
	}
}
