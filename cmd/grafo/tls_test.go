package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/transport/transporttest"
)

// Three nodes with certificates of one CA form a cluster over mutual TLS
// and replicate; a node whose certificate comes from another CA cannot
// join.
func TestClusterOverMutualTLS(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories
	ca := transporttest.NewCA(t, "cluster")
	dir := t.TempDir()
	tlsArgs := func(ca *transporttest.CA, name string) []string {
		cert, key, caFile := ca.WriteFiles(t, dir, name)
		return []string{"--tls-cert", cert, "--tls-key", key, "--tls-ca", caFile}
	}
	n1 := newProc(t, "n1", tlsArgs(ca, "n1")...)
	newProc(t, "n2", append(tlsArgs(ca, "n2"), "--join", n1.clust)...)
	n3 := newProc(t, "n3", append(tlsArgs(ca, "n3"), "--join", n1.clust)...)
	waitUp(t, n1.client(), 3)
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		if err := n1.client().Put(ctx, []byte(fmt.Sprint("k", i)), []byte("v"), kv.Options{Level: kv.All}); err != nil {
			t.Fatalf("put at all over TLS: %v", err)
		}
	}
	if v, _, err := n3.client().Get(ctx, []byte("k7"), kv.Options{Level: kv.All}); err != nil || string(v) != "v" {
		t.Fatalf("get at all over TLS: %q %v", v, err)
	}

	stranger := transporttest.NewCA(t, "stranger")
	args := append([]string{"serve", "--node-id", "s", "--data", filepath.Join(dir, "s"), "--http", freePort(t),
		"--cluster", freePort(t), "--join", n1.clust}, tlsArgs(stranger, "s")...)
	cmd := exec.Command(grafoBin, args...)
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	waitFor(t, 20*time.Second, "the stranger's join to be refused", func() bool {
		return strings.Contains(logs.String(), "join refused: authentication failed") && strings.Contains(logs.String(), "certificate")
	})
	if st, err := n1.client().Cluster(ctx); err != nil || len(st.Nodes) != 3 {
		t.Fatalf("cluster after the stranger tried: %+v, %v", st.Nodes, err)
	}
}
