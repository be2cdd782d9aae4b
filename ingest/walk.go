package ingest

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// WalkOptions say which parts of a tree a walk visits.
type WalkOptions struct {
	// IncludeVendor walks vendor/ directories (skipped when false).
	IncludeVendor bool
	// IncludeTestdata walks testdata/ directories (skipped when false).
	IncludeTestdata bool
	// Exclude holds extra patterns in .gitignore syntax, relative to the
	// root (e.g. "cmd/", "*_gen.go", "/docs"), applied before the tree's
	// own .gitignore files (which can still re-include with "!").
	Exclude []string
	// MaxDepth is how many directory levels below the root are entered
	// (a file at a/b/c.go is two levels down); deeper directories are
	// withheld. 0 means DefaultMaxDepth, negative no limit.
	MaxDepth int
	// Withheld, when set, is told of every symbolic link (never followed)
	// and every directory beyond MaxDepth the walk leaves out, with
	// WithheldSymlink or WithheldDepth.
	Withheld func(rel, why string)
}

// DefaultMaxDepth is the default WalkOptions.MaxDepth: far deeper than
// real source trees, and shallow enough that a hostile tree of thousands
// of nested directories costs nothing (the go command takes a minute to
// list one 1000 levels deep).
const DefaultMaxDepth = 64

// Reasons a path is withheld from ingest (WalkOptions.Withheld,
// Request.Withheld).
const (
	WithheldSymlink = "symbolic link"
	WithheldDepth   = "directory deeper than the depth limit"
	WithheldSize    = "file over the size limit"
)

// Walk lists the regular files under root as sorted slash-separated paths
// relative to root. It skips .git, vendor/ and testdata/ (unless opts say
// otherwise) and whatever the .gitignore files of the root and of every
// subdirectory exclude; it follows no symbolic links (a link is neither
// listed nor entered: whatever it points at, inside the tree or out, is
// not read) and enters no directory deeper than opts.MaxDepth.
func Walk(ctx context.Context, root string, opts WalkOptions) ([]string, error) {
	var out []string
	maxDepth := opts.MaxDepth
	if maxDepth == 0 {
		maxDepth = DefaultMaxDepth
	}
	withhold := opts.Withheld
	if withhold == nil {
		withhold = func(string, string) {}
	}
	var base ignoreStack
	if len(opts.Exclude) > 0 {
		base = ignoreStack{parseGitignore("", []byte(strings.Join(opts.Exclude, "\n")))}
	}
	var walk func(dir string, depth int, stack ignoreStack) error
	walk = func(dir string, depth int, stack ignoreStack) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		abs := filepath.Join(root, filepath.FromSlash(dir))
		if data, err := os.ReadFile(filepath.Join(abs, ".gitignore")); err == nil {
			stack = append(stack[:len(stack):len(stack)], parseGitignore(dir, data))
		}
		entries, err := os.ReadDir(abs)
		if err != nil {
			return fmt.Errorf("ingest: walk: %w", err)
		}
		for _, e := range entries {
			rel := path.Join(dir, e.Name())
			switch t := e.Type(); {
			case t&fs.ModeSymlink != 0:
				if !stack.ignored(rel, false) {
					withhold(rel, WithheldSymlink)
				}
			case e.IsDir():
				if skipDir(e.Name(), opts) || stack.ignored(rel, true) {
					continue
				}
				if maxDepth > 0 && depth+1 > maxDepth {
					withhold(rel, WithheldDepth)
					continue
				}
				if err := walk(rel, depth+1, stack); err != nil {
					return err
				}
			case t.IsRegular():
				if !stack.ignored(rel, false) {
					out = append(out, rel)
				}
			}
		}
		return nil
	}
	info, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("ingest: walk: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("ingest: walk: %s is not a directory", root)
	}
	if err := walk("", 0, base); err != nil {
		return nil, err
	}
	sort.Strings(out)
	return out, nil
}

func skipDir(name string, opts WalkOptions) bool {
	switch name {
	case ".git", ".hg", ".svn":
		return true
	case "vendor":
		return !opts.IncludeVendor
	case "testdata":
		return !opts.IncludeTestdata
	}
	return false
}
