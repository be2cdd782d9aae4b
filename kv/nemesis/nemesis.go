package nemesis

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// Op is one recorded operation.
type Op struct {
	Client int
	Key    string
	Put    bool
	Value  string // written, or read ("" = not found)
	Call   int64  // ns since the history began
	Return int64
	Err    error // nil: acknowledged (put) or answered (get)
}

// History is a concurrent-safe log of operations.
type History struct {
	start time.Time
	mu    sync.Mutex
	ops   []Op
}

// NewHistory starts a history now.
func NewHistory() *History { return &History{start: time.Now()} }

// Now is the history's clock.
func (h *History) Now() int64 { return int64(time.Since(h.start)) }

// Add records an operation.
func (h *History) Add(op Op) {
	h.mu.Lock()
	h.ops = append(h.ops, op)
	h.mu.Unlock()
}

// Ops returns a copy of the operations.
func (h *History) Ops() []Op {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Op(nil), h.ops...)
}

// Stats counts a history's operations.
type Stats struct{ Puts, Gets, FailedPuts, FailedGets int }

func (s Stats) String() string {
	return fmt.Sprintf("%d ops: %d puts (%d failed/ambiguous), %d gets (%d failed)", s.Puts+s.Gets, s.Puts, s.FailedPuts, s.Gets, s.FailedGets)
}

// Stats counts the history's operations.
func (h *History) Stats() Stats {
	var s Stats
	for _, op := range h.Ops() {
		switch {
		case op.Put && op.Err != nil:
			s.Puts++
			s.FailedPuts++
		case op.Put:
			s.Puts++
		case op.Err != nil:
			s.Gets++
			s.FailedGets++
		default:
			s.Gets++
		}
	}
	return s
}

type input struct {
	key   string
	put   bool
	value string
}

// Model is a register per key; Init is the absent value "".
var Model = porcupine.Model{
	Partition: byKey,
	Init:      func() any { return "" },
	Step: func(state, in, out any) (bool, any) {
		i := in.(input)
		if i.put {
			return true, i.value
		}
		return out.(string) == state.(string), state
	},
	DescribeOperation: func(in, out any) string {
		i := in.(input)
		if i.put {
			return fmt.Sprintf("put(%s, %q)", i.key, i.value)
		}
		return fmt.Sprintf("get(%s) -> %q", i.key, out.(string))
	},
	DescribeState: func(s any) string { return fmt.Sprintf("%q", s.(string)) },
}

func byKey(ops []porcupine.Operation) [][]porcupine.Operation {
	m := map[string][]porcupine.Operation{}
	var keys []string
	for _, op := range ops {
		k := op.Input.(input).key
		if _, ok := m[k]; !ok {
			keys = append(keys, k)
		}
		m[k] = append(m[k], op)
	}
	sort.Strings(keys)
	out := make([][]porcupine.Operation, 0, len(keys))
	for _, k := range keys {
		out = append(out, m[k])
	}
	return out
}

// perRead partitions by key and then by read: each partition is one read
// with every write of its key (regular-register semantics).
func perRead(ops []porcupine.Operation) [][]porcupine.Operation {
	var out [][]porcupine.Operation
	for _, part := range byKey(ops) {
		var writes, reads []porcupine.Operation
		for _, op := range part {
			if op.Input.(input).put {
				writes = append(writes, op)
			} else {
				reads = append(reads, op)
			}
		}
		for _, r := range reads {
			out = append(out, append(append([]porcupine.Operation(nil), writes...), r))
		}
	}
	return out
}

func (h *History) porcupineOps() []porcupine.Operation {
	var out []porcupine.Operation
	for _, op := range h.Ops() {
		p := porcupine.Operation{ClientId: op.Client, Input: input{key: op.Key, put: op.Put, value: op.Value}, Call: op.Call, Return: op.Return, Output: op.Value}
		if op.Err != nil {
			if !op.Put {
				continue // a failed read changed nothing
			}
			p.Return = math.MaxInt64 / 2 // ambiguous: may take effect any time after its call
			p.Output = ""
		}
		if !op.Put {
			p.Output = op.Value
		} else {
			p.Output = ""
		}
		out = append(out, p)
	}
	return out
}

// Mode selects what Check verifies.
type Mode int

const (
	// Linearizable checks the whole history.
	Linearizable Mode = iota
	// Regular checks each read against the writes of its key alone.
	Regular
)

// Result of a check.
type Result struct {
	Result porcupine.CheckResult
	// Visualization is the HTML file written for a failed history ("" if
	// none was written).
	Visualization string
}

// Ok reports whether the history passed.
func (r Result) Ok() bool { return r.Result == porcupine.Ok }

// Check checks the history. A history that fails (or cannot be decided
// within timeout) is written as porcupine's HTML visualization into dir
// (created if needed) under name.
func (h *History) Check(mode Mode, timeout time.Duration, dir, name string) (Result, error) {
	model := Model
	if mode == Regular {
		model.Partition = perRead
	}
	res, info := porcupine.CheckOperationsVerbose(model, h.porcupineOps(), timeout)
	out := Result{Result: res}
	if res == porcupine.Ok {
		return out, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return out, err
	}
	path := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(name)+".html")
	if err := porcupine.VisualizePath(model, info, path); err != nil {
		return out, fmt.Errorf("nemesis: visualization: %w", err)
	}
	out.Visualization = path
	return out, nil
}

// ArtifactsDir is where failed histories go: $GRAFO_ARTIFACTS when set,
// else a directory under the system temp dir.
func ArtifactsDir() string {
	if d := os.Getenv("GRAFO_ARTIFACTS"); d != "" {
		return filepath.Join(d, "nemesis")
	}
	return filepath.Join(os.TempDir(), "grafo-nemesis")
}
