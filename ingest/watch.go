package ingest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// WatchOptions configure Watch. The zero value is usable.
type WatchOptions struct {
	// Debounce is how long the tree must stay quiet after a change before
	// it is re-ingested: an editor's save is several events (write,
	// rename, chmod) and a checkout many. 0 means 200ms.
	Debounce time.Duration
	// Ingested is called after every run, the first included, with its
	// summary or error; nil means nothing is reported. A failed run does
	// not stop the watch: the next change tries again.
	Ingested func(Summary, error)
}

// Watch ingests the tree at root into graph (as Run), then watches it and
// re-ingests incrementally after every quiet spell that follows a change
// (files written, added, removed or renamed), until ctx is cancelled; it
// then returns nil. It fails only when the first run or the watcher
// cannot start. Directories Run skips (.git, vendor/, testdata/, ignored
// ones) are not watched; new directories are, as they appear.
func Watch(ctx context.Context, root, graph string, sink Sink, opts Options, wo WatchOptions) error {
	if wo.Debounce <= 0 {
		wo.Debounce = 200 * time.Millisecond
	}
	report := wo.Ingested
	if report == nil {
		report = func(Summary, error) {}
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("ingest: watch: %w", err)
	}
	defer w.Close()
	wopts := WalkOptions{IncludeVendor: opts.IncludeVendor, IncludeTestdata: opts.IncludeTestdata, Exclude: opts.Exclude}
	// Watch before the first run, so that a save during it is not lost.
	if err := watchTree(ctx, w, abs, wopts); err != nil {
		return err
	}
	sum, err := Run(ctx, abs, graph, sink, opts)
	report(sum, err)
	if err != nil {
		return err
	}
	quiet := time.NewTimer(time.Hour)
	quiet.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if ev.Has(fsnotify.Create) {
				// A new directory (or a directory renamed into the tree)
				// needs a watch of its own; Run skips ignored ones anyway.
				if st, err := os.Stat(ev.Name); err == nil && st.IsDir() && !skippedDir(abs, ev.Name, wopts) {
					if err := watchTree(ctx, w, ev.Name, wopts); err != nil && opts.Logger != nil {
						opts.Logger.Warn("watch directory", "dir", ev.Name, "err", err)
					}
				}
			}
			if ev.Has(fsnotify.Chmod) && !ev.Has(fsnotify.Write) {
				continue // a touch changes no content
			}
			quiet.Reset(wo.Debounce)
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			// An overflowed queue lost events: re-ingest to be safe.
			if opts.Logger != nil {
				opts.Logger.Warn("watch", "err", err)
			}
			quiet.Reset(wo.Debounce)
		case <-quiet.C:
			sum, err := Run(ctx, abs, graph, sink, opts)
			if ctx.Err() != nil {
				return nil
			}
			report(sum, err)
		}
	}
}

// watchTree adds a watch on dir and every directory below it that Walk
// would enter.
func watchTree(ctx context.Context, w *fsnotify.Watcher, dir string, wopts WalkOptions) error {
	return filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if p == dir {
				return err
			}
			return nil // vanished or unreadable: Run reports what matters
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !d.IsDir() {
			return nil
		}
		if p != dir && skipDir(d.Name(), wopts) {
			return filepath.SkipDir
		}
		if err := w.Add(p); err != nil {
			return fmt.Errorf("ingest: watch %s: %w", p, err)
		}
		return nil
	})
}

// skippedDir reports whether a directory below root is one Walk skips by
// name (the .gitignore rules are left to Run).
func skippedDir(root, dir string, wopts WalkOptions) bool {
	rel, err := filepath.Rel(root, dir)
	if err != nil || strings.HasPrefix(rel, "..") {
		return true
	}
	for _, part := range strings.Split(filepath.ToSlash(rel), "/") {
		if skipDir(part, wopts) {
			return true
		}
	}
	return false
}
