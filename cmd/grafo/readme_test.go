package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The README's tour, run as written: every ```sh block of its "A quick
// tour" section, command by command, against a node this test starts
// (holding Grafo's own kv/ tree as graph "grafo") and a `grafo dev
// cluster 3`. A command fails the test when it exits other than the
// README says, when its output lacks a line the README shows under it
// (`#   …`, with … for anything), or when it prints an error or warning
// the README does not show. Blocks whose first line says they need
// Graphviz or Docker are skipped, with the reason logged, when those are
// missing (Docker: always; make test-docker covers it).

// tourCmd is one command of the tour.
type tourCmd struct {
	line int      // README line where it starts
	text string   // the command, continuation lines included
	note string   // the comment after it on its last line
	want []string // the output lines shown under it
}

type tourBlock struct {
	line  int
	needs string // "Graphviz", "Docker" or ""
	cmds  []tourCmd
}

// parseTour reads the sh blocks of the README section titled section.
func parseTour(t *testing.T, readme, section string) []tourBlock {
	t.Helper()
	lines := strings.Split(readme, "\n")
	start := -1
	for i, l := range lines {
		if l == "## "+section {
			start = i
		} else if start >= 0 && strings.HasPrefix(l, "## ") {
			lines = lines[:i]
			break
		}
	}
	if start < 0 {
		t.Fatalf("README has no section %q", section)
	}
	var blocks []tourBlock
	var cur *tourBlock
	var pending []string // lines of a command still open (quote or \)
	pendingLine := 0
	for i := start; i < len(lines); i++ {
		l := lines[i]
		switch {
		case cur == nil && strings.HasPrefix(l, "```sh"):
			blocks = append(blocks, tourBlock{line: i + 1})
			cur = &blocks[len(blocks)-1]
			continue
		case cur == nil:
			continue
		case l == "```" && len(pending) == 0:
			cur = nil
			continue
		}
		if len(pending) > 0 {
			pending = append(pending, l)
		} else {
			trim := strings.TrimSpace(l)
			switch {
			case trim == "":
				continue
			case strings.HasPrefix(l, "#   "):
				if len(cur.cmds) == 0 {
					t.Fatalf("README:%d: output line before any command", i+1)
				}
				c := &cur.cmds[len(cur.cmds)-1]
				c.want = append(c.want, strings.TrimSpace(l[1:]))
				continue
			case strings.HasPrefix(l, "#"):
				if len(cur.cmds) == 0 {
					if m := regexp.MustCompile(`^# Needs (Graphviz|Docker)\b`).FindStringSubmatch(l); m != nil {
						cur.needs = m[1]
					}
				}
				continue
			}
			pending, pendingLine = []string{l}, i+1
		}
		text := strings.Join(pending, "\n")
		if open, cont := shellOpen(text); open || cont {
			continue
		}
		cmd, note := splitNote(text)
		cur.cmds = append(cur.cmds, tourCmd{line: pendingLine, text: cmd, note: note})
		pending = nil
	}
	return blocks
}

// shellOpen reports whether text ends inside quotes, or with a
// backslash continuation.
func shellOpen(text string) (quoted, continued bool) {
	var q rune
	esc := false
	for _, r := range text {
		switch {
		case esc:
			esc = false
		case q == '\'':
			if r == '\'' {
				q = 0
			}
		case r == '\\':
			esc = true
		case q == '"':
			if r == '"' {
				q = 0
			}
		case r == '\'' || r == '"':
			q = r
		}
	}
	return q != 0, strings.HasSuffix(text, "\\")
}

// splitNote separates a trailing " # comment" outside quotes.
func splitNote(text string) (cmd, note string) {
	var q rune
	for i, r := range text {
		switch {
		case q != 0:
			if r == q {
				q = 0
			}
		case r == '\'' || r == '"':
			q = r
		case r == '#' && i > 0 && (text[i-1] == ' ' || text[i-1] == '\t'):
			return strings.TrimSpace(text[:i]), strings.TrimSpace(text[i+1:])
		}
	}
	return strings.TrimSpace(text), ""
}

// wantRE turns a README output line into a pattern: … matches anything.
func wantRE(want string) *regexp.Regexp {
	parts := strings.Split(want, "…")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*") + "$")
}

// missing returns the wanted lines that do not appear, in order, in out;
// matched marks the output lines that some wanted line matched.
func missing(want []string, out []string) (miss []string, matched map[int]bool) {
	matched = map[int]bool{}
	j := 0
	for _, w := range want {
		re := wantRE(w)
		found := false
		for ; j < len(out); j++ {
			if re.MatchString(strings.TrimSpace(out[j])) {
				matched[j] = true
				found = true
				j++
				break
			}
		}
		if !found {
			miss = append(miss, w)
		}
	}
	return miss, matched
}

var (
	alarming   = regexp.MustCompile(`(?i)\b(error|warn(ing)?|panic|fatal)\b`)
	statusNote = regexp.MustCompile(`^([1-5][0-9][0-9])\b`)
	exitNote   = regexp.MustCompile(`^exit ([0-9]+)\b`)
)

// tourEnv is the shell state the tour's commands share.
type tourEnv struct {
	t        *testing.T
	env      map[string]string
	defaults map[string]string // what unset restores: the README's defaults, here
	dir      string
	repo     string
	subst    *strings.Replacer
	jobs     []*exec.Cmd
	jobOut   []*bytes.Buffer
	jobDone  []chan error
}

func (e *tourEnv) environ() []string {
	out := os.Environ()
	for k, v := range e.env {
		out = append(out, k+"="+v)
	}
	return out
}

func (e *tourEnv) command(text string) *exec.Cmd {
	// The README runs from the repository's root; the test runs in a
	// temporary directory so that its files (put.dot, big.bin, …) land
	// there, and points ./ paths at the repository.
	text = regexp.MustCompile(`(^|\s)\./`).ReplaceAllString(text, "${1}"+e.repo+"/")
	cmd := exec.Command("bash", "-c", text)
	cmd.Dir = e.dir
	cmd.Env = e.environ()
	return cmd
}

func (e *tourEnv) run(c tourCmd) {
	t := e.t
	t.Helper()
	text := e.subst.Replace(c.text)
	where := fmt.Sprintf("README:%d %q", c.line, c.text)
	switch {
	case strings.HasPrefix(text, "export "):
		k, v, _ := strings.Cut(strings.TrimPrefix(text, "export "), "=")
		e.env[k] = v
		return
	case strings.HasPrefix(text, "unset "):
		k := strings.TrimPrefix(text, "unset ")
		if v, ok := e.defaults[k]; ok {
			e.env[k] = v // the default the variable stands in for
		} else {
			delete(e.env, k)
		}
		return
	case strings.HasPrefix(text, "kill -INT %"):
		e.stopJob(where, text)
		return
	case strings.HasSuffix(text, " &"):
		e.startJob(where, strings.TrimSuffix(text, " &"), c)
		return
	}
	wantStatus := ""
	if m := statusNote.FindStringSubmatch(c.note); m != nil && strings.HasPrefix(text, "curl ") {
		wantStatus = m[1]
		text += ` -w '\n%{http_code}\n'`
	}
	wantExit := 0
	if m := exitNote.FindStringSubmatch(c.note); m != nil {
		wantExit, _ = strconv.Atoi(m[1])
	}
	cmd := e.command(text)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	exit := 0
	if ee, ok := err.(*exec.ExitError); ok {
		exit = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	outText := strings.TrimRight(stdout.String(), "\n")
	if wantStatus != "" {
		i := strings.LastIndex(outText, "\n")
		got := outText[i+1:]
		outText = outText[:max(i, 0)]
		if got != wantStatus {
			t.Errorf("%s: HTTP status %s, README says %s\n%s", where, got, wantStatus, outText)
		}
	}
	if exit != wantExit {
		t.Errorf("%s: exit %d, README says %d\nstdout:\n%s\nstderr:\n%s", where, exit, wantExit, stdout.String(), stderr.String())
		return
	}
	e.check(where, c.want, strings.Split(outText+"\n"+stderr.String(), "\n"), wantExit != 0)
}

// check fails when a wanted line is missing, or when an unwanted line
// alarms (an error or warning the README does not show).
func (e *tourEnv) check(where string, want, out []string, failing bool) {
	e.t.Helper()
	miss, matched := missing(want, out)
	for _, m := range miss {
		e.t.Errorf("%s: output lacks %q; it printed:\n%s", where, m, strings.Join(out, "\n"))
	}
	if failing {
		return
	}
	for i, l := range out {
		if !matched[i] && alarming.MatchString(l) && !strings.Contains(l, `"error":`) {
			e.t.Errorf("%s: prints what the README does not say: %q", where, l)
		}
	}
}

func (e *tourEnv) startJob(where, text string, c tourCmd) {
	t := e.t
	t.Helper()
	cmd := e.command("exec " + text)
	out := &bytes.Buffer{}
	var buf syncBuffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	e.jobs, e.jobOut, e.jobDone = append(e.jobs, cmd), append(e.jobOut, out), append(e.jobDone, done)
	t.Cleanup(func() { cmd.Process.Kill() })
	// Go on once the job has printed what the README shows (the dev
	// cluster prints its addresses when every node is ready).
	deadline := time.Now().Add(3 * time.Minute)
	for {
		lines := strings.Split(buf.String(), "\n")
		if miss, _ := missing(c.want, lines); len(miss) == 0 {
			out.WriteString(buf.String())
			return
		}
		select {
		case err := <-done:
			t.Fatalf("%s: ended early (%v):\n%s", where, err, buf.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: did not print what the README shows in 3 minutes:\n%s", where, buf.String())
		}
	}
}

func (e *tourEnv) stopJob(where, text string) {
	t := e.t
	t.Helper()
	n, err := strconv.Atoi(strings.TrimPrefix(text, "kill -INT %"))
	if err != nil || n < 1 || n > len(e.jobs) {
		t.Fatalf("%s: no job %q", where, text)
	}
	e.jobs[n-1].Process.Signal(syscall.SIGINT)
	select {
	case err := <-e.jobDone[n-1]:
		if err != nil {
			t.Errorf("%s: the job ended with %v", where, err)
		}
	case <-time.After(60 * time.Second):
		t.Errorf("%s: the job did not stop in 60 s", where)
	}
}

func TestReadmeTour(t *testing.T) {
	t.Parallel() // its own node(s), ports and browser
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(repo, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := parseTour(t, string(readme), "A quick tour")
	if len(blocks) < 3 {
		t.Fatalf("found %d sh blocks in the tour", len(blocks))
	}

	// The node the README's first command starts, holding the part of
	// Grafo the tour asks about (all of it takes minutes to ingest).
	p := newProc(t, "n1", "--ingest", filepath.Join(repo, "kv")+"=grafo")
	waitFor(t, 3*time.Minute, "the ingest of kv/", func() bool { return strings.Contains(p.logs.String(), "ingest done") })

	bin := t.TempDir()
	if err := os.Symlink(grafoBin, filepath.Join(bin, "grafo")); err != nil {
		t.Fatal(err)
	}
	curlHome := t.TempDir()
	// curl prints a progress meter when its output is not a terminal.
	if err := os.WriteFile(filepath.Join(curlHome, ".curlrc"), []byte("silent\nshow-error\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := freeBase(t, 6)
	pairs := []string{"http://127.0.0.1:7070", p.url(), "127.0.0.1:7070", p.http,
		"grafo dev cluster 3", fmt.Sprintf("grafo dev cluster 3 --base-port %d", base)}
	for i := 0; i < 6; i++ {
		pairs = append(pairs, fmt.Sprintf("127.0.0.1:%d", 7170+i), fmt.Sprintf("127.0.0.1:%d", base+i))
	}
	subst := strings.NewReplacer(pairs...)
	e := &tourEnv{t: t, dir: t.TempDir(), repo: repo, subst: subst,
		env: map[string]string{"PATH": bin + ":" + os.Getenv("PATH"), "CURL_HOME": curlHome, "GRAFO_SERVER": p.url()},
		// The README's commands talk to 127.0.0.1:7070 by default: here,
		// to the node the test started.
		defaults: map[string]string{"GRAFO_SERVER": p.url()}}

	ran := 0
	for _, b := range blocks {
		switch b.needs {
		case "Graphviz":
			if _, err := exec.LookPath("dot"); err != nil {
				t.Logf("README:%d: block skipped: it needs Graphviz and dot is not on PATH", b.line)
				continue
			}
		case "Docker":
			t.Logf("README:%d: block skipped: it needs Docker (make test-docker runs the containers)", b.line)
			continue
		}
		for _, c := range b.cmds {
			c.want = append([]string(nil), c.want...)
			for i, w := range c.want {
				c.want[i] = subst.Replace(w)
			}
			e.run(c)
			ran++
		}
	}
	t.Logf("ran %d commands of the README's tour", ran)
	if ran < 30 {
		t.Errorf("ran only %d commands: is the tour parsed right?", ran)
	}
}

// The tour's reader: commands across lines, notes, shown output and the
// Needs markers, and the matching of output against what is shown.
func TestTourParser(t *testing.T) {
	t.Parallel()
	readme := "# X\n## A quick tour\ntext\n```sh\n# a description\ngrafo query '{ a\n  b }' \\\n  --var q=1   # exit 1\n#   line one …\n#   two\ncurl -X PUT 'http://h/k?w=2' -d v  # 503\n```\n\n```sh\n# Needs Graphviz: draw\ndot -Tsvg a.dot -o a.svg\n```\n## Next\n```sh\nnot me\n```\n"
	blocks := parseTour(t, readme, "A quick tour")
	if len(blocks) != 2 || blocks[1].needs != "Graphviz" || blocks[0].needs != "" {
		t.Fatalf("blocks: %+v", blocks)
	}
	cmds := blocks[0].cmds
	if len(cmds) != 2 {
		t.Fatalf("commands: %+v", cmds)
	}
	if cmds[0].text != "grafo query '{ a\n  b }' \\\n  --var q=1" || cmds[0].note != "exit 1" ||
		strings.Join(cmds[0].want, "|") != "line one …|two" || cmds[0].line != 6 {
		t.Errorf("first command: %+v", cmds[0])
	}
	if cmds[1].text != "curl -X PUT 'http://h/k?w=2' -d v" || cmds[1].note != "503" {
		t.Errorf("second command: %+v", cmds[1])
	}
	for _, tc := range []struct {
		want, out []string
		miss      int
	}{
		{[]string{"a …", "c"}, []string{"x", "a b", "c"}, 0},
		{[]string{"c", "a …"}, []string{"a b", "c"}, 1}, // order matters
		{[]string{"hello"}, []string{"hello world"}, 1}, // whole lines
	} {
		if miss, _ := missing(tc.want, tc.out); len(miss) != tc.miss {
			t.Errorf("missing(%q, %q) = %q, want %d missing", tc.want, tc.out, miss, tc.miss)
		}
	}
}
