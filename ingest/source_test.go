package ingest_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/ingest/ingesttest"
)

func TestSourceOfGitCheckouts(t *testing.T) {
	dir := t.TempDir()
	ingesttest.WriteFile(t, dir, "sub/a.go", "package sub\n")
	commit := ingesttest.GitCommitAll(t, dir, "trunk")

	check := func(what, root, wantCommit, wantBranch string) {
		t.Helper()
		src := ingest.DetectSource(root)
		if src.Root != root || src.Commit != wantCommit || src.Branch != wantBranch || src.IngestedAt.IsZero() {
			t.Errorf("%s: %+v, want root %s commit %s branch %q", what, src, root, wantCommit, wantBranch)
		}
	}
	check("loose ref", dir, commit, "trunk")
	check("subdirectory of the checkout", filepath.Join(dir, "sub"), commit, "trunk")

	// Refs packed (as after git gc): found in packed-refs.
	ingesttest.Git(t, dir, "pack-refs", "--all", "--prune")
	if _, err := os.Stat(filepath.Join(dir, ".git", "refs", "heads", "trunk")); !os.IsNotExist(err) {
		t.Fatalf("pack-refs left the loose ref: %v", err)
	}
	check("packed ref", dir, commit, "trunk")

	// A linked worktree: .git is a file, refs live in the common dir.
	wt := filepath.Join(t.TempDir(), "wt")
	ingesttest.Git(t, dir, "worktree", "add", "-q", "-b", "side", wt)
	check("worktree", wt, commit, "side")

	// A second commit, then a detached HEAD on the first.
	ingesttest.WriteFile(t, dir, "b.go", "package b\n")
	ingesttest.Git(t, dir, "add", "-A")
	ingesttest.Git(t, dir, "commit", "-q", "-m", "second")
	second := ingesttest.Git(t, dir, "rev-parse", "HEAD")
	if second == commit {
		t.Fatal("second commit has the first's hash")
	}
	check("after a commit", dir, second, "trunk")
	ingesttest.Git(t, dir, "checkout", "-q", "--detach", commit)
	check("detached", dir, commit, "")

	// A repository without a commit yet: the branch, no commit.
	fresh := t.TempDir()
	ingesttest.Git(t, fresh, "init", "-q", "-b", "unborn")
	check("unborn branch", fresh, "", "unborn")
}

func TestSourceOutsideGit(t *testing.T) {
	dir := t.TempDir() // /tmp/… is in no checkout
	src := ingest.DetectSource(dir)
	if src.Root != dir || src.Commit != "" || src.Branch != "" || src.IngestedAt.IsZero() {
		t.Errorf("plain directory: %+v", src)
	}
	// A .git that is neither a directory nor a gitdir file is no checkout.
	ingesttest.WriteFile(t, dir, ".git", "garbage")
	if src := ingest.DetectSource(dir); src.Commit != "" || src.Branch != "" {
		t.Errorf("bogus .git file: %+v", src)
	}
}
