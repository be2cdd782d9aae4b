package ingest

import (
	"context"
	"log/slog"
	"path"
	"strings"
	"sync"
	"time"
)

// Frontend turns the files of one language into facts. Frontends plug in
// by import (their init calls Register) or through Options.Frontends.
type Frontend interface {
	// Name is the language name stored in File.Language and Language.Name
	// (e.g. "go", "python").
	Name() string
	// Claims reports whether the file at the slash-separated relative path
	// belongs to this frontend. It must not read the file.
	Claims(path string) bool
	// Extract analyses the tree and calls emit once for every path in
	// req.Changed, in any order, from one goroutine at a time. It must
	// also emit every other file of req.Files whose facts a change of
	// req.Changed can affect (a type that now realizes a new interface, a
	// call whose callee went away, a dynamic call with a new candidate):
	// Run writes those only when their facts differ from the graph's, so
	// emitting more than needed costs analysis, never correctness. It must
	// be cheap when req.Changed and req.Deleted are empty: Run calls it then only to learn
	// the languages (e.g. read go.mod, load no packages). A file that
	// cannot be analysed is still emitted, with File.Diagnostics; only
	// failures of the whole run (cancellation, emit errors) are returned as
	// errors.
	Extract(ctx context.Context, req Request, emit func(FileFacts) error) (Result, error)
}

// Request is one frontend's share of an ingest.
type Request struct {
	// Root is the tree's absolute path, symbolic links resolved.
	Root string
	// Files are every file the frontend claimed, checksummed, sorted by path.
	Files []File
	// Changed holds the paths (new or changed files) whose facts must be
	// emitted. Run fills in the File checksums of emitted facts itself;
	// the frontend sets Path, Diagnostics, Nodes and Edges. Empty when
	// the tree is unchanged for this frontend (then Extract only reports
	// the languages).
	Changed map[string]bool
	// Deleted lists the frontend's files (paths it claims) that the graph
	// held and the tree no longer has: their facts are gone already, but
	// other files' facts may depend on them, as on a changed file.
	Deleted []string
	// Withheld holds the tree's paths the walk left out, with why
	// (WithheldSymlink, WithheldDepth, WithheldSize): a frontend must not
	// read them, nor let a tool it runs read them (the Go frontend hides
	// them from go list). Read-only; nil means none.
	Withheld map[string]string
	// Callgraph names the call-graph algorithm for dynamic calls, for
	// frontends that have a choice: "static", "cha" (default) or "vta".
	Callgraph string
	// NoOccurrences says the occurrences will be dropped (Options), so a
	// frontend may save the work of finding them.
	NoOccurrences bool
	// Logger is never nil.
	Logger *slog.Logger
	// Parsed reports n more files parsed, for progress. Never nil.
	Parsed func(n int)
	// Held is what the graph holds of the frontend's files, by path (the
	// graph's records: checksums and facts digests), so that a frontend
	// can tell whether analysis it kept from an earlier run still
	// describes the graph. Read-only; nil for a fresh graph.
	Held map[string]File
}

// Committer is implemented by frontends that keep state from one run to
// the next (the Go frontend's analysis cache): after every write of a Run
// succeeded, Run calls Committed with the tree's root and the records the
// graph now holds of the frontend's files, facts digests included.
type Committer interface {
	Committed(root string, files map[string]File)
}

// Result is what a frontend reports besides its facts.
type Result struct {
	Languages []Language
	// Load and Analyse are the time spent parsing/type-checking and
	// analysing (call graphs, relations); zero when nothing was loaded.
	Load, Analyse time.Duration
	// Narrow counts the packages re-analysed alone, without the rest of
	// the tree, because the change provably altered no other file's facts
	// (the Go frontend's body-only path); 0 when the whole tree was.
	Narrow int
}

var (
	registryMu  sync.Mutex
	registry    []Frontend
	unavailable = map[string]string{} // language → why its frontend is not in this binary
)

// Register makes a frontend available to every Run whose
// Options.Frontends is nil. Frontends call it from init, so importing
// ingest/golang for its side effect (import _ ".../ingest/golang") compiles
// Go support in. Registering a second frontend of the same name replaces
// the first.
func Register(f Frontend) {
	registryMu.Lock()
	defer registryMu.Unlock()
	for i, g := range registry {
		if g.Name() == f.Name() {
			registry[i] = f
			return
		}
	}
	registry = append(registry, f)
}

// Unavailable records that the frontend of language exists but is not
// compiled into this binary, and why (e.g. it needs cgo), so that Run
// reports the reason along with the files it leaves out. Frontends call it
// from the init of a file with the opposite build constraint.
func Unavailable(language, reason string) {
	registryMu.Lock()
	defer registryMu.Unlock()
	unavailable[language] = reason
}

// unavailableReason is why language's frontend is not in this binary, ""
// if nothing was recorded.
func unavailableReason(language string) string {
	registryMu.Lock()
	defer registryMu.Unlock()
	return unavailable[language]
}

// Registered returns the registered frontends in registration order.
func Registered() []Frontend {
	registryMu.Lock()
	defer registryMu.Unlock()
	return append([]Frontend(nil), registry...)
}

// knownLanguages maps file extensions of languages Grafo may support to
// their names, so that files of a language whose frontend is not compiled
// in are reported rather than silently skipped.
var knownLanguages = map[string]string{
	".go": "go", ".py": "python", ".pyi": "python",
	".js": "javascript", ".mjs": "javascript", ".ts": "typescript", ".tsx": "typescript",
	".java": "java", ".rs": "rust", ".c": "c", ".h": "c", ".cc": "c++", ".cpp": "c++",
	".rb": "ruby", ".kt": "kotlin", ".cs": "c#", ".swift": "swift", ".php": "php",
}

// languageOf names the language of a path by extension, "" if unknown.
func languageOf(p string) string {
	return knownLanguages[strings.ToLower(path.Ext(p))]
}
