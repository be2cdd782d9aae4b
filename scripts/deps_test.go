package scripts

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// sandbox copies deps.sh into a world-readable temp dir with a bin/ that
// holds only the tools the script may use: bash, id, env, and an apt-get
// that records its calls and installs nothing. Chromium is therefore missing
// whatever the machine has.
func sandbox(t *testing.T) (dir, calls string) {
	t.Helper()
	// Not t.TempDir: its parent is private to this user, and the script
	// must be reachable as nobody.
	dir, err := os.MkdirTemp("", "grafo-deps-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile("deps.sh")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "deps.sh"), script, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tool := range []string{"bash", "id", "env"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatalf("%s: %v", tool, err)
		}
		if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	calls = filepath.Join(dir, "apt-calls")
	fake := "#!" + mustLook(t, "bash") + "\necho \"$*\" >> " + calls + "\n"
	if err := os.WriteFile(filepath.Join(bin, "apt-get"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, calls
}

func mustLook(t *testing.T, name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func run(t *testing.T, dir string, asNobody bool) (stdout, stderr string, code int) {
	t.Helper()
	argv := []string{filepath.Join(dir, "bin", "bash"), filepath.Join(dir, "deps.sh")}
	if asNobody && os.Geteuid() == 0 {
		argv = append([]string{mustLook(t, "setpriv"), "--reuid=65534", "--regid=65534", "--clear-groups"}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = []string{"PATH=" + filepath.Join(dir, "bin"), "HOME=" + dir}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("running deps.sh: %v", err)
	}
	return o.String(), e.String(), code
}

// A user who cannot install packages gets one line naming what is missing
// and the command to install it, exit 1, and no attempt to install.
func TestDepsCannotInstall(t *testing.T) {
	dir, calls := sandbox(t)
	stdout, stderr, code := run(t, dir, true)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr %q", code, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout %q, want nothing", stdout)
	}
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("stderr has %d lines, want 1:\n%s", len(lines), stderr)
	}
	if want := "sudo apt-get install -y chromium"; !strings.Contains(lines[0], "missing chromium") || !strings.Contains(lines[0], want) {
		t.Errorf("stderr %q, want it to name chromium and %q", lines[0], want)
	}
	if _, err := os.Stat(calls); err == nil {
		b, _ := os.ReadFile(calls)
		t.Errorf("apt-get was run by a user who cannot install: %s", b)
	}
}

// Where it can install (root), it runs apt-get for exactly the missing
// packages, then checks again: a package that installs but leaves the tool
// unusable is an error, not a silent pass.
func TestDepsInstallsMissing(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test needs root (as make test runs on CI); run it as root")
	}
	dir, calls := sandbox(t)
	_, stderr, code := run(t, dir, false)
	b, err := os.ReadFile(calls)
	if err != nil {
		t.Fatalf("apt-get was not run: %v; stderr %q", err, stderr)
	}
	got := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(got) != 2 || !strings.HasPrefix(got[0], "update") || !strings.HasPrefix(got[1], "install") || !strings.Contains(got[1]+" ", " chromium ") {
		t.Errorf("apt-get calls %q, want update then install … chromium", got)
	}
	if code != 1 || !strings.Contains(stderr, "chromium was installed but chromium is still not usable") {
		t.Errorf("exit %d, stderr %q: want exit 1 saying the install did not take", code, stderr)
	}
}
