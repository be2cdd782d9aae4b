package ingest

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Source says where a graph came from: the root of the ingested tree and,
// when the tree is inside a git checkout, the commit and branch checked out
// at ingest time.
type Source struct {
	Root       string    `json:"root"`
	Commit     string    `json:"commit,omitempty"` // full hash; "" outside git or before the first commit
	Branch     string    `json:"branch,omitempty"` // "" outside git or on a detached HEAD
	IngestedAt time.Time `json:"ingestedAt"`
}

// SourceSink is implemented by sinks that record a graph's source. Run
// checks for it by type assertion, so a Sink without it still works.
type SourceSink interface {
	SetSource(ctx context.Context, graph string, src Source) error
}

// DetectSource describes the tree at root (an absolute path). It reads
// .git directly (a checkout, a worktree or a submodule, refs loose or
// packed) and asks the git command only when that gives no commit but a
// repository is there (e.g. the reftable format). Neither git nor a
// repository is required: outside one, only Root and IngestedAt are set.
func DetectSource(root string) Source {
	src := Source{Root: root, IngestedAt: time.Now().UTC()}
	gitDir := findGitDir(root)
	if gitDir == "" {
		return src
	}
	src.Commit, src.Branch = readHead(gitDir)
	if src.Commit == "" {
		src.Commit, src.Branch = askGit(root, src.Branch)
	}
	return src
}

// findGitDir returns the git directory of the checkout holding dir, or "".
func findGitDir(dir string) string {
	for {
		p := filepath.Join(dir, ".git")
		// Lstat: a .git link (the tree is untrusted) is no checkout.
		if fi, err := os.Lstat(p); err == nil {
			if fi.IsDir() {
				return p
			}
			// A worktree or submodule: ".git" is a file "gitdir: PATH".
			if b, err := os.ReadFile(p); err == nil {
				if g, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir:"); ok {
					g = strings.TrimSpace(g)
					if !filepath.IsAbs(g) {
						g = filepath.Join(dir, g)
					}
					return g
				}
			}
			return ""
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// readHead returns HEAD's commit and branch; either may be "" when it
// cannot tell.
func readHead(gitDir string) (commit, branch string) {
	b, err := os.ReadFile(filepath.Join(gitDir, "HEAD"))
	if err != nil {
		return "", ""
	}
	head := strings.TrimSpace(string(b))
	ref, ok := strings.CutPrefix(head, "ref:")
	if !ok {
		if isHash(head) {
			return head, "" // detached
		}
		return "", ""
	}
	ref = strings.TrimSpace(ref)
	branch = strings.TrimPrefix(ref, "refs/heads/")
	if branch == ".invalid" { // reftable keeps the real HEAD elsewhere
		return "", ""
	}
	// A worktree's own directory holds HEAD; refs live in the common one.
	dirs := []string{gitDir}
	if c, err := os.ReadFile(filepath.Join(gitDir, "commondir")); err == nil {
		common := strings.TrimSpace(string(c))
		if !filepath.IsAbs(common) {
			common = filepath.Join(gitDir, common)
		}
		dirs = append(dirs, common)
	}
	for _, d := range dirs {
		if b, err := os.ReadFile(filepath.Join(d, filepath.FromSlash(ref))); err == nil {
			if h := strings.TrimSpace(string(b)); isHash(h) {
				return h, branch
			}
		}
	}
	for _, d := range dirs {
		if h := packedRef(filepath.Join(d, "packed-refs"), ref); h != "" {
			return h, branch
		}
	}
	return "", branch // an unborn branch: no commit yet
}

// packedRef looks ref up in a packed-refs file.
func packedRef(path, ref string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		h, name, ok := strings.Cut(sc.Text(), " ")
		if ok && name == ref && isHash(h) {
			return h
		}
	}
	return ""
}

// askGit runs git in root, if installed, for what reading .git could not
// tell; a missing git or a failing command leaves the answer empty.
func askGit(root, branch string) (string, string) {
	if _, err := exec.LookPath("git"); err != nil {
		return "", branch
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	run := func(args ...string) string {
		// Neither command reads the index, so the repository's own
		// configuration cannot make git run anything; fsmonitor is off
		// anyway, as the tree is untrusted.
		out, err := exec.CommandContext(ctx, "git", append([]string{"-C", root, "-c", "core.fsmonitor=false"}, args...)...).Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(out))
	}
	commit := run("rev-parse", "--verify", "-q", "HEAD")
	if !isHash(commit) {
		commit = ""
	}
	if b := run("symbolic-ref", "-q", "--short", "HEAD"); b != "" {
		branch = b
	}
	return commit, branch
}

// isHash reports whether s is a full SHA-1 or SHA-256 object name.
func isHash(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
