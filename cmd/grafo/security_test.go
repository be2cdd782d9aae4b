package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grafo/grafo/kv/client"
)

func TestTokensEndToEnd(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tokens")
	os.WriteFile(file, []byte("admin-token-1 admin\nteam-a-token write graphA\nread-token-1 read\n"), 0o600)
	p := newProc(t, "secure", "--tokens", file)
	ctx := context.Background()
	admin := client.New(p.url(), client.WithToken("admin-token-1"))
	for _, g := range []string{"graphA", "graphB"} {
		if err := admin.GraphQL(ctx, `mutation($g: ID!) { createGraph(id: $g) { id } }`, map[string]any{"g": g}, nil); err != nil {
			t.Fatalf("createGraph %s: %v", g, err)
		}
	}
	var got struct{ Graphs []struct{ ID string } }
	if err := client.New(p.url(), client.WithToken("team-a-token")).GraphQL(ctx, `{ graphs { id } }`, nil, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Graphs) != 1 || got.Graphs[0].ID != "graphA" {
		t.Fatalf("token scoped to graphA sees %v", got.Graphs)
	}
	err := client.New(p.url(), client.WithToken("team-a-token")).GraphQL(ctx, `{ graph(id: "graphB") { id } }`, nil, &got)
	if err == nil || !strings.Contains(err.Error(), "graphB") {
		t.Fatalf("scoped token reading graphB: %v", err)
	}
	err = client.New(p.url(), client.WithToken("read-token-1")).GraphQL(ctx, `mutation { createGraph(id: "x") { id } }`, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "FORBIDDEN") && !strings.Contains(err.Error(), "not allowed") {
		t.Fatalf("read token mutating: %v", err)
	}
	err = client.New(p.url()).GraphQL(ctx, `{ graphs { id } }`, nil, &got)
	if !errors.Is(err, client.ErrUnauthorized) {
		t.Fatalf("no token: %v", err)
	}
	if strings.Contains(p.logs.String(), "admin-token-1") || strings.Contains(p.logs.String(), "team-a-token") {
		t.Fatal("a token was logged")
	}
}

func TestRefusesOpenNonLoopback(t *testing.T) {
	cmd := exec.Command(grafoBin, "serve", "--data", t.TempDir(), "--http", "0.0.0.0:0", "--cluster", "127.0.0.1:0")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--tokens") || !strings.Contains(string(out), "--insecure") {
		t.Fatalf("non-loopback without tokens: %v\n%s", err, out)
	}
}

func TestWrongClusterSecretCannotJoin(t *testing.T) {
	n1 := newProc(t, "n1", "--cluster-secret", "right-secret")
	// A stranger with another secret keeps failing to join; it never
	// becomes a member.
	stranger := &proc{t: t, id: "stranger", data: filepath.Join(t.TempDir(), "s"), http: freePort(t), clust: freePort(t),
		args: []string{"--cluster-secret", "wrong-secret", "--join", n1.clust}}
	args := append([]string{"serve", "--node-id", stranger.id, "--data", stranger.data, "--http", stranger.http, "--cluster", stranger.clust}, stranger.args...)
	cmd := exec.Command(grafoBin, args...)
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	waitFor(t, 20*time.Second, "the stranger to report an authentication failure", func() bool {
		return strings.Contains(logs.String(), "join refused: authentication failed")
	})
	st, err := n1.client().Cluster(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Nodes) != 1 {
		t.Fatalf("a node with the wrong secret joined: %+v", st.Nodes)
	}
}
