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
	t.Parallel() // its own nodes, ports and directories
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
	t.Parallel() // its own nodes, ports and directories
	// Each exits at once when refused; the timeout only bounds a node that
	// (wrongly) starts serving.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--http", "0.0.0.0:0", "--cluster", "127.0.0.1:0"}, "--tokens"},
		{[]string{"--http", "127.0.0.1:0", "--cluster", "127.0.0.1:0", "--resp", "0.0.0.0:0"}, "--resp 0.0.0.0:0"},
		// --tokens protects --http and --resp, not the cluster port.
		{[]string{"--http", "127.0.0.1:0", "--cluster", "0.0.0.0:0", "--tokens", writeTokens(t)}, "--cluster-secret"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := exec.CommandContext(ctx, grafoBin, append([]string{"serve", "--data", t.TempDir()}, tc.args...)...)
		out, err := cmd.CombinedOutput()
		timedOut := ctx.Err() != nil
		cancel()
		if err == nil || timedOut || !strings.Contains(string(out), tc.want) || !strings.Contains(string(out), "--insecure") {
			t.Errorf("%v: %v\n%s", tc.args, err, out)
		}
	}
}

// writeTokens writes a tokens file with one admin token.
func writeTokens(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(p, []byte("admin-token-for-the-test admin\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestWrongClusterSecretCannotJoin(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories
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
	// A member with the right secret joins (over TLS keyed by it) and
	// replicates.
	newProc(t, "n2", "--cluster-secret", "right-secret", "--join", n1.clust, "--replicas", "2")
	waitFor(t, 30*time.Second, "n2 to be a member, up", func() bool {
		st, err := n1.client().Cluster(context.Background())
		if err != nil || len(st.Nodes) != 2 {
			return false
		}
		for _, n := range st.Nodes {
			if n.State != "up" {
				return false
			}
		}
		return true
	})
}
