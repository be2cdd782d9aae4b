package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grafo/grafo/ingest"
	"github.com/grafo/grafo/ingest/ingesttest"
)

// FuzzHostileTree builds a tree from the input — directories nested past
// the depth limit, files over the size limit, links to a host file, to Go
// source and a package outside the tree, to files inside it, to the root
// itself, dangling links, nested modules — and ingests it with the real Go
// frontend into a real graph store. The walk must list only regular files
// inside the root within the depth limit; the ingest must not fail or
// panic; nothing stored may hold bytes that exist only outside the tree or
// in an over-size file; no diagnostic may hold an absolute path.
//
//	go test -run '^$' -fuzz FuzzHostileTree -fuzztime 1m ./ingest
func FuzzHostileTree(f *testing.F) {
	f.Add([]byte{3, 0, 4, 0, 2, 0})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1, 0, 2, 2})
	f.Add([]byte{5, 0, 5, 1, 5, 2, 5, 3, 2, 1})
	f.Add([]byte{0, 0, 6, 0, 2, 0, 3, 0, 1, 0, 2, 3, 'x', 'y'})
	f.Add([]byte{2, 2, 0, 0, 2, 2, 4, 1})
	const maxDepth, maxSize = 3, 512
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 64 {
			ops = ops[:64]
		}
		outside, root := hostileDirs(t)

		cwd, depth := "", 0
		for i := 0; i+1 < len(ops); i += 2 {
			op, arg := ops[i]%7, ops[i+1]
			name := fmt.Sprintf("n%d", i)
			here := filepath.Join(root, filepath.FromSlash(cwd))
			switch op {
			case 0: // a directory, entered
				if depth < 2*maxDepth {
					cwd, depth = filepath.ToSlash(filepath.Join(cwd, name)), depth+1
					if err := os.MkdirAll(filepath.Join(root, filepath.FromSlash(cwd)), 0o755); err != nil {
						t.Fatal(err)
					}
				}
			case 1: // back up
				if depth > 0 {
					cwd, depth = filepath.ToSlash(filepath.Dir(cwd)), depth-1
					if cwd == "." {
						cwd = ""
					}
				}
			case 2: // a Go file: valid, broken, over the size limit, or input bytes
				body := []string{
					"package a\n\nfunc F" + name + "() { A() }\n",
					"package a\n\nfunc broken( {\n",
					"package a\n\nBIGSENTINEL " + strings.Repeat("x", maxSize),
					"package a\n" + strings.ReplaceAll(string(ops[i:]), "SENTINEL", ""),
				}[arg%4]
				ingesttest.WriteFile(t, here, name+".go", body)
			case 3: // link to a host file
				link(t, filepath.Join(outside, "passwd"), filepath.Join(here, name+".go"))
			case 4: // link to Go source or a package outside
				if arg%2 == 0 {
					link(t, filepath.Join(outside, "secret.go"), filepath.Join(here, name+".go"))
				} else {
					link(t, filepath.Join(outside, "pkg"), filepath.Join(here, name))
				}
			case 5: // link inside, to the root, up, or nowhere
				target := []string{filepath.Join(root, "a.go"), root, "..", filepath.Join(root, "missing.go")}[arg%4]
				link(t, target, filepath.Join(here, name+".go"))
			case 6: // a nested module
				ingesttest.WriteFile(t, here, "go.mod", "module example.com/"+name+"\n\ngo 1.22\n")
			}
		}

		paths, err := ingest.Walk(context.Background(), root, ingest.WalkOptions{MaxDepth: maxDepth})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range paths {
			full := filepath.Join(root, filepath.FromSlash(p))
			st, err := os.Lstat(full)
			if err != nil || !st.Mode().IsRegular() {
				t.Fatalf("walk listed %s, not a regular file (%v)", p, err)
			}
			if d := strings.Count(p, "/"); d > maxDepth {
				t.Fatalf("walk listed %s, %d levels down", p, d)
			}
		}

		r := newRecordingSink(t)
		if _, err := ingest.Run(context.Background(), root, "a", r, ingest.Options{MaxDepth: maxDepth, MaxFileSize: maxSize}); err != nil {
			t.Fatalf("ingest: %v", err)
		}
		checkNoLeak(t, r, "OUTSIDESENTINEL", outside, root)
		checkNoLeak(t, r, "BIGSENTINEL", outside, root)
		if all, _ := r.stored(t); bytes.Contains([]byte(all), []byte("root:x")) {
			t.Fatal("stored facts quote the host file")
		}
	})
}

func link(t *testing.T, target, at string) {
	t.Helper()
	if err := os.Symlink(target, at); err != nil && !os.IsExist(err) {
		t.Fatal(err)
	}
}
