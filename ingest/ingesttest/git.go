package ingesttest

import (
	"os/exec"
	"strings"
	"testing"
)

// Git runs git with args in dir (a fixed identity, no user or system
// configuration) and returns its trimmed output; it fails the test on
// error.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=grafo", "-c", "user.email=grafo@example.com",
		"-c", "commit.gpgsign=false"}, args...)...)
	cmd.Env = append(cmd.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// GitCommitAll makes dir a git repository on branch (if it is not one
// yet), commits everything in it and returns the commit's hash.
func GitCommitAll(t testing.TB, dir, branch string) string {
	t.Helper()
	Git(t, dir, "init", "-q", "-b", branch)
	Git(t, dir, "add", "-A")
	Git(t, dir, "commit", "-q", "--allow-empty", "-m", "fixture")
	return Git(t, dir, "rev-parse", "HEAD")
}
