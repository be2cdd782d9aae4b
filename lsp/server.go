package lsp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.lsp.dev/jsonrpc2"
	"go.lsp.dev/protocol"
	"go.lsp.dev/uri"

	"github.com/grafo/grafo/kv/client"
)

// Config configures a server. Client is required; the rest may be zero.
type Config struct {
	// Client reaches the Grafo node whose GraphQL API answers. Required.
	Client *client.Client
	// Graph is the graph to answer from; "" means the workspace folder's
	// name.
	Graph string
	// Ingest, when set, re-ingests the workspace root into graph; it runs
	// on every didSave, before the next request is answered. Nil means
	// saves change nothing (grafo lsp without --ingest-on-save).
	Ingest func(ctx context.Context, root, graph string) error
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
	// MaxResults is the most references (to a client that takes no
	// partial results) and call sites (incoming and outgoing calls) one
	// answer lists; zero means DefaultMaxResults.
	MaxResults int
}

// ErrNoClient is returned by Serve when Config.Client is nil.
var ErrNoClient = errors.New("lsp: Config.Client is required")

// Serve answers LSP requests read from rw until the client sends exit, the
// stream ends or ctx is cancelled.
func Serve(ctx context.Context, rw io.ReadWriteCloser, cfg Config) error {
	if cfg.Client == nil {
		return ErrNoClient
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &server{cfg: cfg, log: log, gql: cfg.Client, enc: encUTF16, docs: map[string]string{}}
	conn := jsonrpc2.NewConn(jsonrpc2.NewStream(rw))
	s.conn = conn
	conn.Go(ctx, func(ctx context.Context, reply jsonrpc2.Replier, req jsonrpc2.Request) error {
		// jsonrpc2 v0.10 keeps the connection's error in an atomic.Value
		// and panics when a second error of another type is stored, so a
		// handler never fails the connection: a reply that cannot be
		// written means the stream is gone, which the read loop sees.
		defer func() {
			// A bug answering one request must not take the editor's
			// server down with it.
			if r := recover(); r != nil {
				s.log.Error("panic", "method", req.Method(), "panic", r)
				_ = reply(ctx, nil, jsonrpc2.Errorf(jsonrpc2.InternalError, "grafo lsp: %v", r))
			}
		}()
		if err := s.handle(ctx, reply, req); err != nil {
			s.log.Debug("reply", "method", req.Method(), "err", err)
		}
		return nil
	})
	select {
	case <-conn.Done():
	case <-ctx.Done():
		conn.Close()
		<-conn.Done()
	}
	// The stream ends by exit (closed), by the client going away (EOF) or
	// by cancellation: none of them is a failure of the server.
	if err := conn.Err(); err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrClosedPipe) &&
		!errors.Is(err, os.ErrClosed) && !strings.Contains(err.Error(), "closed") {
		return err
	}
	return nil
}

type server struct {
	cfg  Config
	log  *slog.Logger
	gql  *client.Client
	conn jsonrpc2.Conn

	mu    sync.Mutex
	root  string            // workspace root, absolute
	graph string            // graph answered from
	enc   string            // negotiated position encoding
	docs  map[string]string // open buffers by URI
	dirty bool              // a save is waiting to be ingested

	filesMu sync.Mutex
	files   map[string]fileLines // lines of files on disk, by path
}

// fileLines are the lines of a file on disk as of its size and time.
type fileLines struct {
	size  int64
	mtime time.Time
	lines []string
}

// maxCachedFiles bounds the files whose lines the server keeps between
// requests (references and callers of a popular symbol revisit the same
// files; reading and splitting them was most of such an answer's time).
const maxCachedFiles = 1024

// diskLines returns the lines of the file a URI names, from the cache
// while its size and modification time are unchanged.
func (s *server) diskLines(u protocol.DocumentURI) ([]string, bool) {
	file, err := filePath(string(u))
	if err != nil {
		return nil, false
	}
	st, err := os.Stat(file)
	if err != nil {
		return nil, false
	}
	s.filesMu.Lock()
	fl, ok := s.files[file]
	s.filesMu.Unlock()
	if ok && fl.size == st.Size() && fl.mtime.Equal(st.ModTime()) {
		return fl.lines, true
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, false
	}
	fl = fileLines{size: st.Size(), mtime: st.ModTime(), lines: strings.Split(string(data), "\n")}
	s.filesMu.Lock()
	if s.files == nil || len(s.files) >= maxCachedFiles {
		s.files = map[string]fileLines{} // start over: simpler than LRU, and rare
	}
	s.files[file] = fl
	s.filesMu.Unlock()
	return fl.lines, true
}

// handle answers one message. Errors of a request are replied; only a
// broken connection stops the loop.
func (s *server) handle(ctx context.Context, reply jsonrpc2.Replier, req jsonrpc2.Request) error {
	m := req.Method()
	s.log.Debug("request", "method", m)
	switch m {
	case "initialize":
		res, err := s.initialize(req.Params())
		return reply(ctx, res, err)
	case "initialized", "$/cancelRequest", "$/setTrace", "workspace/didChangeConfiguration",
		"workspace/didChangeWatchedFiles", "workspace/didChangeWorkspaceFolders":
		return nil
	case "shutdown":
		return reply(ctx, nil, nil)
	case "exit":
		return s.conn.Close() // the read loop ends, and Serve with it
	case "textDocument/didOpen":
		var p protocol.DidOpenTextDocumentParams
		if json.Unmarshal(req.Params(), &p) == nil {
			s.setDoc(string(p.TextDocument.URI), p.TextDocument.Text)
		}
		return nil
	case "textDocument/didChange":
		var p protocol.DidChangeTextDocumentParams
		if json.Unmarshal(req.Params(), &p) == nil && len(p.ContentChanges) > 0 {
			// Full sync: the last change holds the whole text.
			s.setDoc(string(p.TextDocument.URI), p.ContentChanges[len(p.ContentChanges)-1].Text)
		}
		return nil
	case "textDocument/didClose":
		var p protocol.DidCloseTextDocumentParams
		if json.Unmarshal(req.Params(), &p) == nil {
			s.mu.Lock()
			delete(s.docs, string(p.TextDocument.URI))
			s.mu.Unlock()
		}
		return nil
	case "textDocument/didSave":
		var p protocol.DidSaveTextDocumentParams
		if json.Unmarshal(req.Params(), &p) == nil && p.Text != "" {
			s.setDoc(string(p.TextDocument.URI), p.Text)
		}
		if s.cfg.Ingest != nil {
			s.mu.Lock()
			s.dirty = true
			s.mu.Unlock()
			s.ingestIfDirty(ctx)
		}
		return nil
	}
	h, ok := s.requests()[m]
	if !ok {
		if _, isCall := req.(*jsonrpc2.Call); !isCall {
			return nil // unknown notifications are ignored
		}
		return reply(ctx, nil, jsonrpc2.Errorf(jsonrpc2.MethodNotFound, "method not supported: %s", m))
	}
	s.ingestIfDirty(ctx)
	res, err := h(ctx, req.Params())
	if err != nil {
		s.log.Warn("request failed", "method", m, "err", err)
		return reply(ctx, nil, jsonrpc2.Errorf(jsonrpc2.InternalError, "%v", err))
	}
	return reply(ctx, res, nil)
}

type handler func(ctx context.Context, params json.RawMessage) (any, error)

func (s *server) requests() map[string]handler {
	return map[string]handler{
		"textDocument/definition":           s.definition,
		"textDocument/references":           s.references,
		"textDocument/implementation":       s.implementation,
		"textDocument/documentHighlight":    s.documentHighlight,
		"textDocument/typeDefinition":       s.typeDefinition,
		"textDocument/hover":                s.hover,
		"textDocument/documentSymbol":       s.documentSymbol,
		"workspace/symbol":                  s.workspaceSymbol,
		"textDocument/prepareCallHierarchy": s.prepareCallHierarchy,
		"callHierarchy/incomingCalls":       s.incomingCalls,
		"callHierarchy/outgoingCalls":       s.outgoingCalls,
		"textDocument/prepareTypeHierarchy": s.prepareTypeHierarchy,
		"typeHierarchy/supertypes":          s.supertypes,
		"typeHierarchy/subtypes":            s.subtypes,
	}
}

// ingestIfDirty re-ingests the workspace after a save, so that the next
// answer reflects it. A failed ingest is logged and shown, not fatal.
func (s *server) ingestIfDirty(ctx context.Context) {
	s.mu.Lock()
	dirty := s.dirty
	s.dirty = false
	root, graph := s.root, s.graph
	s.mu.Unlock()
	if !dirty || root == "" {
		return
	}
	if err := s.cfg.Ingest(ctx, root, graph); err != nil {
		s.log.Warn("ingest on save failed", "err", err)
		_ = s.conn.Notify(ctx, "window/showMessage", map[string]any{"type": 1, "message": "grafo: ingest failed: " + err.Error()})
	}
}

func (s *server) setDoc(u, text string) {
	s.mu.Lock()
	s.docs[u] = text
	s.mu.Unlock()
}

// initializeParams is the part of initialize the server reads; the
// position encodings of LSP 3.17 are not in go.lsp.dev/protocol v0.12.
type initializeParams struct {
	RootURI          string `json:"rootUri"`
	RootPath         string `json:"rootPath"`
	WorkspaceFolders []struct {
		URI  string `json:"uri"`
		Name string `json:"name"`
	} `json:"workspaceFolders"`
	Capabilities struct {
		General struct {
			PositionEncodings []string `json:"positionEncodings"`
		} `json:"general"`
		OffsetEncoding []string `json:"offsetEncoding"`
	} `json:"capabilities"`
}

func (s *server) initialize(raw json.RawMessage) (any, error) {
	var p initializeParams
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, jsonrpc2.Errorf(jsonrpc2.InvalidParams, "initialize: %v", err)
	}
	root := ""
	switch {
	case len(p.WorkspaceFolders) > 0 && isFile(p.WorkspaceFolders[0].URI):
		root, _ = filePath(p.WorkspaceFolders[0].URI)
	case isFile(p.RootURI):
		root, _ = filePath(p.RootURI)
	case p.RootPath != "":
		root = p.RootPath
	default:
		root, _ = os.Getwd()
	}
	if abs, err := filepath.Abs(root); err == nil {
		root = abs
	}
	if r, err := filepath.EvalSymlinks(root); err == nil {
		root = r
	}
	graph := s.cfg.Graph
	if graph == "" {
		graph = filepath.Base(root)
	}
	offered := p.Capabilities.General.PositionEncodings
	legacy := len(offered) == 0 && len(p.Capabilities.OffsetEncoding) > 0
	if legacy {
		offered = p.Capabilities.OffsetEncoding
	}
	enc := chooseEncoding(offered)
	s.mu.Lock()
	s.root, s.graph, s.enc = root, graph, enc
	s.mu.Unlock()
	s.log.Info("initialized", "root", root, "graph", graph, "encoding", enc)
	caps := map[string]any{
		"positionEncoding":          enc,
		"textDocumentSync":          map[string]any{"openClose": true, "change": 1, "save": map[string]any{"includeText": false}},
		"definitionProvider":        true,
		"referencesProvider":        true,
		"implementationProvider":    true,
		"typeDefinitionProvider":    true,
		"hoverProvider":             true,
		"documentHighlightProvider": true,
		"documentSymbolProvider":    true,
		"workspaceSymbolProvider":   true,
		"callHierarchyProvider":     true,
		"typeHierarchyProvider":     true,
	}
	res := map[string]any{"capabilities": caps, "serverInfo": map[string]any{"name": "grafo"}}
	if legacy {
		res["offsetEncoding"] = enc
	}
	return res, nil
}

// state returns what requests need of the server's state.
func (s *server) state() (root, graph, enc string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.root, s.graph, s.enc
}

// relPath maps a document URI to the graph's slash-separated path.
func (s *server) relPath(u protocol.DocumentURI) (string, error) {
	root, _, _ := s.state()
	file, err := filePath(string(u))
	if err != nil {
		return "", err
	}
	if r, err := filepath.EvalSymlinks(file); err == nil {
		file = r
	}
	rel, err := filepath.Rel(root, file)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%s is outside the workspace %s", file, root)
	}
	return filepath.ToSlash(rel), nil
}

// uriOf maps a graph path back to a document URI.
func (s *server) uriOf(path string) protocol.DocumentURI {
	root, _, _ := s.state()
	return protocol.DocumentURI(uri.File(filepath.Join(root, filepath.FromSlash(path))))
}

// text returns the content of a document: the open buffer, else the file.
func (s *server) text(u protocol.DocumentURI) (string, bool) {
	s.mu.Lock()
	t, ok := s.docs[string(u)]
	s.mu.Unlock()
	if ok {
		return t, true
	}
	file, err := filePath(string(u))
	if err != nil {
		return "", false
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", false
	}
	return string(data), true
}

// filePath is the file a file: URI names; other schemes (an editor's
// unsaved "untitled:" buffers) name none.
func filePath(u string) (string, error) {
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "file" {
		return "", fmt.Errorf("not a file URI: %q", u)
	}
	path := p.Path
	if len(path) >= 3 && path[0] == '/' && path[2] == ':' {
		path = path[1:] // file:///C:/… on Windows
	}
	return filepath.FromSlash(path), nil
}

func isFile(u string) bool {
	_, err := filePath(u)
	return err == nil
}

// conv converts positions for one request, reading each document's lines
// once.
type conv struct {
	s     *server
	enc   string
	lines map[protocol.DocumentURI][]string
}

func (s *server) conv() *conv {
	_, _, enc := s.state()
	return &conv{s: s, enc: enc, lines: map[protocol.DocumentURI][]string{}}
}

// line returns line n (0-based) of a document, "" if unknown.
func (c *conv) line(u protocol.DocumentURI, n int) string {
	ls, ok := c.lines[u]
	if !ok {
		c.s.mu.Lock()
		t, open := c.s.docs[string(u)]
		c.s.mu.Unlock()
		if open {
			ls = strings.Split(t, "\n")
		} else {
			ls, _ = c.s.diskLines(u)
		}
		c.lines[u] = ls
	}
	if n < 0 || n >= len(ls) {
		return ""
	}
	return strings.TrimSuffix(ls[n], "\r")
}

// cursor converts an LSP position in a document into Grafo's path, line
// and character column (1-based).
func (c *conv) cursor(u protocol.DocumentURI, pos protocol.Position) (path string, line, col int, err error) {
	path, err = c.s.relPath(u)
	if err != nil {
		return "", 0, 0, err
	}
	chars := toChars(c.line(u, int(pos.Line)), c.enc, int(pos.Character))
	return path, int(pos.Line) + 1, chars + 1, nil
}

// position converts Grafo's 1-based line and character column in a
// document into an LSP position.
func (c *conv) position(u protocol.DocumentURI, line, col int) protocol.Position {
	line, col = max(line, 1), max(col, 1)
	return protocol.Position{Line: uint32(line - 1), Character: uint32(fromChars(c.line(u, line-1), c.enc, col-1))}
}
