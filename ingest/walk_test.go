package ingest

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"
)

// writeTxtar extracts every section but "expected" under dir and returns
// the expected section.
func writeTxtar(t *testing.T, file, dir string) string {
	t.Helper()
	ar, err := txtar.ParseFile(file)
	if err != nil {
		t.Fatal(err)
	}
	want := ""
	for _, f := range ar.Files {
		if f.Name == "expected" {
			want = string(f.Data)
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return want
}

func TestWalk(t *testing.T) {
	dir := t.TempDir()
	want := strings.Fields(writeTxtar(t, "testdata/walk.txtar", dir))
	// Symbolic links are neither listed nor followed.
	if err := os.Symlink(filepath.Join(dir, "main.go"), filepath.Join(dir, "link.go")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "sub"), filepath.Join(dir, "linkdir")); err != nil {
		t.Fatal(err)
	}
	got, err := Walk(context.Background(), dir, WalkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("Walk:\n got %q\nwant %q", got, want)
	}

	got, err = Walk(context.Background(), dir, WalkOptions{IncludeVendor: true, IncludeTestdata: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"vendor/v/v.go", "testdata/t.go"} {
		if !slices.Contains(got, p) {
			t.Errorf("Walk with IncludeVendor/IncludeTestdata misses %s: %q", p, got)
		}
	}
	if slices.Contains(got, ".git/config") {
		t.Errorf("Walk entered .git: %q", got)
	}

	// Exclude patterns cut a subtree and a file pattern; everything else stays.
	got, err = Walk(context.Background(), dir, WalkOptions{Exclude: []string{"sub/", "*.md"}})
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, p := range want {
		if !strings.HasPrefix(p, "sub/") && !strings.HasSuffix(p, ".md") {
			keep = append(keep, p)
		}
	}
	if len(keep) == len(want) {
		t.Fatal("fixture has nothing under sub/ or *.md: the Exclude check proves nothing")
	}
	if !slices.Equal(got, keep) {
		t.Errorf("Walk with Exclude:\n got %q\nwant %q", got, keep)
	}
}

func TestGitignorePatterns(t *testing.T) {
	cases := []struct {
		pattern, path string
		dir, ignored  bool
	}{
		{"*.go", "a/b/c.go", false, true},
		{"*.go", "a/b/c.gox", false, false},
		{"/top", "top", false, true},
		{"/top", "a/top", false, false},
		{"a/*.go", "a/x.go", false, true},
		{"a/*.go", "a/b/x.go", false, false},
		{"a/**/x.go", "a/x.go", false, true},
		{"a/**/x.go", "a/b/c/x.go", false, true},
		{"**/x", "p/q/x", false, true},
		{"a/**", "a/b/c", false, true},
		{"a/**", "a", true, false},
		{"build/", "build", true, true},
		{"build/", "build", false, false},
		{"f?o", "foo", false, true},
		{"f?o", "fo/o", false, false},
		{"[ab]x", "bx", false, true},
		{"[!ab]x", "bx", false, false},
		{`\#lit`, "#lit", false, true},
	}
	for _, c := range cases {
		f := parseGitignore("", []byte(c.pattern+"\n"))
		got, _ := f.match(c.path, c.dir)
		if got != c.ignored {
			t.Errorf("pattern %q on %q (dir %v): ignored = %v, want %v", c.pattern, c.path, c.dir, got, c.ignored)
		}
	}
	// The last matching rule wins; a negation re-includes.
	f := parseGitignore("sub", []byte("*.txt\n!keep.txt\n"))
	for p, want := range map[string]bool{"sub/a.txt": true, "sub/keep.txt": false, "a.txt": false} {
		if got, _ := f.match(p, false); got != want {
			t.Errorf("%s: ignored = %v, want %v", p, got, want)
		}
	}
}

func TestChecksum(t *testing.T) {
	cases := []struct{ in, md5, adler string }{
		{"", "d41d8cd98f00b204e9800998ecf8427e", "00000001"},
		{"hello world", "5eb63bbbe01eeed093cb22bb8f5acdc3", "1a0b045d"},
		{"Wikipedia", "9c677286866aad38f8e9b660f5411814", "11e60398"},
	}
	for _, c := range cases {
		m, a, n, err := Checksum(strings.NewReader(c.in))
		if err != nil {
			t.Fatal(err)
		}
		if m != c.md5 || a != c.adler || n != int64(len(c.in)) {
			t.Errorf("Checksum(%q) = %s %s %d, want %s %s %d", c.in, m, a, n, c.md5, c.adler, len(c.in))
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f.txt"), []byte("hello world"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := ChecksumFile(dir, "f.txt")
	if err != nil {
		t.Fatal(err)
	}
	if f.MD5 != cases[1].md5 || f.Adler32 != cases[1].adler || f.Name != "f.txt" || f.Size != 11 {
		t.Errorf("ChecksumFile = %+v", f)
	}
}

func TestCompare(t *testing.T) {
	disk := []File{
		{Path: "new.go", MD5: "1", Adler32: "1"},
		{Path: "same.go", MD5: "2", Adler32: "2"},
		{Path: "changed.go", MD5: "3", Adler32: "3"},
	}
	held := map[string]File{
		"same.go":    {Path: "same.go", MD5: "2", Adler32: "2"},
		"changed.go": {Path: "changed.go", MD5: "3", Adler32: "x"},
		"gone.go":    {Path: "gone.go"},
		"other.py":   {Path: "other.py"}, // on disk, no frontend in this binary
	}
	present := map[string]bool{"new.go": true, "same.go": true, "changed.go": true, "other.py": true}
	d := Compare(disk, present, held)
	if len(d.New) != 1 || d.New[0].Path != "new.go" || len(d.Changed) != 1 || d.Changed[0].Path != "changed.go" ||
		len(d.Unchanged) != 1 || d.Unchanged[0].Path != "same.go" || !slices.Equal(d.Deleted, []string{"gone.go"}) {
		t.Errorf("Compare = %+v", d)
	}
	if d.Empty() {
		t.Error("Empty() on a non-empty diff")
	}
	if !Compare(disk[1:2], map[string]bool{"same.go": true}, map[string]File{"same.go": disk[1]}).Empty() {
		t.Error("an unchanged tree's diff is not empty")
	}
}

// TestWalkWithholds: links are reported and never entered or listed,
// directories past MaxDepth are reported and not entered.
func TestWalkWithholds(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	for _, p := range []string{"a.go", "x/b.go", "x/y/c.go", "x/y/z/d.go"} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "o.go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{"out": outside, "x/o.go": filepath.Join(outside, "o.go"), "loop": dir} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	withheld := map[string]string{}
	got, err := Walk(context.Background(), dir, WalkOptions{MaxDepth: 2, Withheld: func(p, why string) { withheld[p] = why }})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a.go", "x/b.go", "x/y/c.go"}; !slices.Equal(got, want) {
		t.Fatalf("Walk = %v, want %v", got, want)
	}
	want := map[string]string{"out": WithheldSymlink, "x/o.go": WithheldSymlink, "loop": WithheldSymlink, "x/y/z": WithheldDepth}
	if len(withheld) != len(want) {
		t.Fatalf("withheld %v, want %v", withheld, want)
	}
	for p, why := range want {
		if withheld[p] != why {
			t.Fatalf("withheld %v, want %v", withheld, want)
		}
	}
	if got, _ := Walk(context.Background(), dir, WalkOptions{MaxDepth: -1}); len(got) != 4 {
		t.Fatalf("no depth limit: %v", got)
	}
}

func TestScrubPaths(t *testing.T) {
	root := "/home/u/tree"
	for in, want := range map[string]string{
		"/home/u/tree/a.go:3:4: undefined: x":                     "a.go:3:4: undefined: x",
		"could not import b (open /usr/local/go/src/b/b.go: err)": "could not import b (open …/b.go: err)",
		"/etc/passwd:1:1: expected 'package'":                     "…/passwd:1:1: expected 'package'",
		"pattern ./...: directory /home/u/tree outside":           "pattern ./...: directory . outside",
		"//go:build ignore excludes https://x.org/y and 1/2":      "//go:build ignore excludes https://x.org/y and 1/2",
	} {
		if got := scrubPaths([]string{in}, root)[0]; got != want {
			t.Errorf("scrubPaths(%q) = %q, want %q", in, got, want)
		}
	}
}
