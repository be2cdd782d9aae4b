package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/client"
)

// A node whose disk fills up answers writes with a clear error, keeps
// serving reads, and takes writes again once space returns — with every
// acknowledged write still there. The data directory is a small tmpfs
// (the machine and CI run as root).
func TestDiskFull(t *testing.T) {
	t.Parallel() // its own tmpfs, node and ports
	mnt := filepath.Join(t.TempDir(), "small")
	if out, err := exec.Command("mkdir", "-p", mnt).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mounting a small tmpfs (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })

	p := &proc{t: t, id: "full", data: filepath.Join(mnt, "data"), http: freePort(t), clust: freePort(t)}
	p.start()
	t.Cleanup(p.kill)
	c := p.client()
	ctx := context.Background()
	// Random bytes: the engine compresses values, and these must not shrink.
	val := make([]byte, 8000)
	rand.NewChaCha8([32]byte{1}).Read(val)
	var acked []string
	var full error
	for i := 0; i < 5000; i++ {
		k := fmt.Sprintf("fill-%05d", i)
		if err := c.Put(ctx, []byte(k), val, kv.Options{}); err != nil {
			full = err
			break
		}
		acked = append(acked, k)
	}
	if full == nil {
		t.Fatal("the disk never filled up")
	}
	var ce *client.Error
	if !errors.As(full, &ce) || ce.Status < 500 || !bytes.Contains([]byte(ce.Message), []byte("no space left")) {
		t.Fatalf("disk-full write: %v, want a 5xx naming the cause", full)
	}
	t.Logf("disk full after %d acknowledged 8 KB writes: %v", len(acked), full)
	// Reads keep working while the disk is full.
	for _, k := range acked {
		if v, _, err := c.Get(ctx, []byte(k), kv.Options{}); err != nil || len(v) != len(val) {
			t.Fatalf("read %s while full: %d bytes, %v", k, len(v), err)
		}
	}
	// Space returns: writes succeed again.
	if out, err := exec.Command("mount", "-o", "remount,size=64m", mnt).CombinedOutput(); err != nil {
		t.Fatalf("remount: %v %s", err, out)
	}
	waitFor(t, 10e9, "writes to succeed after space returned", func() bool {
		return c.Put(ctx, []byte("after"), val, kv.Options{}) == nil
	})
	// And nothing acknowledged was lost, across a crash too.
	p.kill()
	p.start()
	for _, k := range append(acked, "after") {
		if v, _, err := c.Get(ctx, []byte(k), kv.Options{}); err != nil || len(v) != len(val) {
			t.Fatalf("after recovery, %s: %d bytes, %v", k, len(v), err)
		}
	}
}
