package golang

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"sync"
	"unsafe"

	"github.com/grafo/grafo/ingest"
)

// spool keeps the facts of early-extracted files on disk until the module
// is indexed and they can be completed (early.go). On all of GOROOT/src
// they were the largest part of the client's heap that nothing read for
// seconds: a tenth of its peak. The file (spoolDirs says where) is
// unlinked as soon as it is created, so nothing is left behind whatever
// ends the process (where an open file cannot be removed, close removes
// it). Records are written in a plain binary form: varints and
// length-prefixed strings.
type spool struct {
	mu    sync.Mutex
	f     *os.File
	w     *bufio.Writer
	end   int64 // bytes written, buffered ones included
	dirty bool  // w holds bytes the file has not got yet
}

// spooled is where one file's facts are in the spool.
type spooled struct {
	off, n int64
}

func newSpool() (*spool, error) {
	var err error
	for _, dir := range spoolDirs() {
		var f *os.File
		if f, err = os.CreateTemp(dir, "grafo-ingest-*.facts"); err == nil {
			os.Remove(f.Name()) // see spool
			return &spool{f: f, w: bufio.NewWriterSize(f, 256<<10)}, nil
		}
	}
	return nil, err
}

// spoolDirs are where the spool may go, in order: TMPDIR when the user
// set it, else the user's cache directory before the system's temporary
// one, which is often a tmpfs — memory again, only not the process's.
func spoolDirs() []string {
	if os.Getenv("TMPDIR") != "" {
		return []string{os.TempDir()}
	}
	var dirs []string
	if base, err := os.UserCacheDir(); err == nil {
		dir := filepath.Join(base, "grafo")
		if os.MkdirAll(dir, 0o700) == nil {
			dirs = append(dirs, dir)
		}
	}
	return append(dirs, os.TempDir())
}

// spill moves fx's facts — all but the file record — and its edges'
// positions to s. On an error they stay in memory.
func (s *spool) spill(fx *fileX) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := spoolEncoder{w: s.w}
	ff := &fx.facts
	spillList(&e, ff.Nodes, func(n ingest.Node) {
		e.str(string(n.Kind), n.Name, n.QualifiedName, n.Path)
		e.int(n.Line, n.EndLine)
		e.bool(n.External)
	})
	spillList(&e, ff.Edges, func(ed ingest.Edge) {
		e.str(ed.From, ed.To, string(ed.Relation), ed.Path)
		e.int(ed.Line, ed.Column)
		e.bool(ed.Dynamic)
	})
	spillList(&e, ff.Occurrences, func(o ingest.Occurrence) {
		e.int(o.Line, o.Column, o.EndColumn)
		e.str(string(o.Role), o.Target)
	})
	spillList(&e, fx.pos, func(p token.Pos) { e.int(int(p)) })
	if e.err != nil {
		// The record is cut short: what follows starts after it.
		s.end += e.n
		return e.err
	}
	fx.spooled = &spooled{off: s.end, n: e.n}
	s.end += e.n
	s.dirty = true
	ff.Nodes, ff.Edges, ff.Occurrences, fx.pos = nil, nil, nil, nil
	return nil
}

// unspill brings fx's facts back from s; safe for concurrent use.
func (s *spool) unspill(fx *fileX) error {
	s.mu.Lock()
	if s.dirty {
		s.dirty = false
		if err := s.w.Flush(); err != nil {
			s.mu.Unlock()
			return fmt.Errorf("golang: writing the facts of pending files: %w", err)
		}
	}
	s.mu.Unlock()
	at := *fx.spooled
	d := spoolDecoder{r: bufio.NewReaderSize(io.NewSectionReader(s.f, at.off, at.n), int(min(at.n, 64<<10)+16)), size: at.n}
	nodes := unspillList(&d, func(n *ingest.Node) {
		var kind string
		d.str(&kind, &n.Name, &n.QualifiedName, &n.Path)
		n.Kind = ingest.Kind(kind)
		d.int(&n.Line, &n.EndLine)
		n.External = d.bool()
	})
	edges := unspillList(&d, func(ed *ingest.Edge) {
		var r string
		d.str(&ed.From, &ed.To, &r, &ed.Path)
		ed.Relation = ingest.Relation(r)
		d.int(&ed.Line, &ed.Column)
		ed.Dynamic = d.bool()
	})
	occs := unspillList(&d, func(o *ingest.Occurrence) {
		d.int(&o.Line, &o.Column, &o.EndColumn)
		var role string
		d.str(&role, &o.Target)
		o.Role = ingest.Role(role)
	})
	pos := unspillList(&d, func(p *token.Pos) {
		var v int
		d.int(&v)
		*p = token.Pos(v)
	})
	if d.err != nil {
		return fmt.Errorf("golang: reading back the facts of pending file %s: %w", fx.path, d.err)
	}
	fx.spooled = nil
	fx.facts.Nodes, fx.facts.Edges, fx.facts.Occurrences, fx.pos = nodes, edges, occs, pos
	return nil
}

// spillList writes a list: whether it is nil (the writer's JSON tells
// nil from empty), its length, then each element by one.
func spillList[T any](e *spoolEncoder, list []T, one func(T)) {
	e.bool(list == nil)
	e.uint(uint64(len(list)))
	for _, v := range list {
		one(v)
	}
}

// unspillList reads what spillList wrote, each element by one; nil once
// the record is found damaged.
func unspillList[T any](d *spoolDecoder, one func(*T)) []T {
	isNil := d.bool()
	n := d.len()
	if isNil || d.err != nil {
		return nil
	}
	out := make([]T, n)
	for i := range out {
		if one(&out[i]); d.err != nil {
			return nil
		}
	}
	return out
}

func (s *spool) close() error {
	name := s.f.Name()
	err := s.f.Close()
	os.Remove(name) // gone already, but where an open file cannot be removed
	return err
}

type spoolEncoder struct {
	w   *bufio.Writer
	n   int64
	err error
	buf [binary.MaxVarintLen64]byte
}

func (e *spoolEncoder) write(b []byte) {
	if e.err != nil {
		return
	}
	k, err := e.w.Write(b)
	e.n += int64(k)
	e.err = err
}

func (e *spoolEncoder) uint(v uint64) { e.write(binary.AppendUvarint(e.buf[:0], v)) }

func (e *spoolEncoder) int(vs ...int) {
	for _, v := range vs {
		e.write(binary.AppendVarint(e.buf[:0], int64(v)))
	}
}

func (e *spoolEncoder) str(ss ...string) {
	for _, s := range ss {
		e.uint(uint64(len(s)))
		if e.err == nil {
			k, err := e.w.WriteString(s)
			e.n += int64(k)
			e.err = err
		}
	}
}

func (e *spoolEncoder) bool(v bool) {
	var b byte
	if v {
		b = 1
	}
	e.write(append(e.buf[:0], b))
}

type spoolDecoder struct {
	r    *bufio.Reader
	size int64 // the record's bytes
	err  error
}

var errSpoolRecord = errors.New("a record longer than its bytes")

func (d *spoolDecoder) uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, err := binary.ReadUvarint(d.r)
	if err != nil {
		d.err = err
	}
	return v
}

// len reads a count or length, which can be no more than the record's
// bytes: a damaged record asks for no large allocation.
func (d *spoolDecoder) len() int {
	v := d.uint()
	if v > uint64(d.size) {
		d.err = errSpoolRecord
		return 0
	}
	return int(v)
}

func (d *spoolDecoder) int(ps ...*int) {
	for _, p := range ps {
		if d.err != nil {
			return
		}
		v, err := binary.ReadVarint(d.r)
		if err != nil {
			d.err = err
			return
		}
		*p = int(v)
	}
}

func (d *spoolDecoder) str(ps ...*string) {
	for _, p := range ps {
		n := d.len()
		if d.err != nil {
			return
		}
		if n == 0 {
			*p = ""
			continue
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(d.r, b); err != nil {
			d.err = err
			return
		}
		*p = unsafe.String(&b[0], n) // b is never written again
	}
}

func (d *spoolDecoder) bool() bool {
	if d.err != nil {
		return false
	}
	b, err := d.r.ReadByte()
	d.err = err
	return b == 1
}
