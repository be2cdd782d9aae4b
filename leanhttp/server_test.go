package leanhttp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// behaviours are handlers that exercise the ResponseWriter's corners,
// each at /v1/kv/{name}.
var behaviours = map[string]http.HandlerFunc{
	"plain": func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") },
	"json": func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"a":1}`)
	},
	"declared": func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "5")
		io.WriteString(w, "hello")
	},
	"short": func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		io.WriteString(w, "hello")
	},
	"over": func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "2")
		if _, err := io.WriteString(w, "hello"); err != http.ErrContentLength {
			panic(fmt.Sprintf("wrote past Content-Length: %v", err))
		}
	},
	"big": func(w http.ResponseWriter, r *http.Request) {
		for i := range 40 {
			w.Write([]byte(strings.Repeat(string(rune('a'+i%26)), 1024)))
		}
	},
	"bigwrite": func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<html>" + strings.Repeat("x", 40<<10)))
	},
	"smallthenbig": func(w http.ResponseWriter, r *http.Request) {
		// The type is sniffed from the held bytes and the write after.
		w.Write([]byte("<ht"))
		w.Write([]byte("ml>" + strings.Repeat("x", 40<<10)))
	},
	"bigdeclared": func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(40<<10))
		for range 40 {
			w.Write(make([]byte, 1024))
		}
	},
	"nocontent": func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Grafo-Version", "v1")
		w.Header().Set("Content-Length", "3")
		w.WriteHeader(http.StatusNoContent)
		if _, err := io.WriteString(w, "abc"); err != http.ErrBodyNotAllowed {
			panic(fmt.Sprintf("a 204 took a body: %v", err))
		}
	},
	"notmodified": func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("ETag", `"x"`)
		w.WriteHeader(http.StatusNotModified)
	},
	"echo": func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("X-In", r.Header.Get("X-In"))
		w.Header().Set("X-Host", r.Host)
		w.Header().Set("X-Length", fmt.Sprint(r.ContentLength))
		w.Header().Set("X-Uri", r.RequestURI+" "+r.URL.Path+" "+r.URL.RawQuery)
		w.Header().Set("X-Has-Host", fmt.Sprint(r.Header["Host"] != nil))
		w.Write(b)
	},
	"partial": func(w http.ResponseWriter, r *http.Request) {
		io.ReadFull(r.Body, make([]byte, 2))
		io.WriteString(w, "ok")
	},
	"inject": func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Evil", "a\r\nSet-Cookie: x=1")
		w.Header()["Bad Name"] = []string{"v"}
		io.WriteString(w, "ok")
	},
	"close": func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "bye")
	},
	"date":  func(w http.ResponseWriter, r *http.Request) { w.Header().Set("Date", "yesterday") },
	"empty": func(w http.ResponseWriter, r *http.Request) {},
	"panic": func(w http.ResponseWriter, r *http.Request) { panic("boom") },
	"abort": func(w http.ResponseWriter, r *http.Request) { panic(http.ErrAbortHandler) },
	"status": func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(599)
		io.WriteString(w, "odd")
	},
}

// which says which path served: net/http's ResponseWriter flushes, ours
// does not.
func which(w http.ResponseWriter) string {
	if _, ok := w.(http.Flusher); ok {
		return "net"
	}
	return "lean"
}

type counted struct{ lean, net atomic.Int64 }

func (c *counted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if which(w) == "lean" {
		c.lean.Add(1)
	} else {
		c.net.Add(1)
	}
	name := strings.TrimPrefix(r.URL.Path, "/v1/kv/")
	if b, ok := behaviours[name]; ok {
		b(w, r)
		return
	}
	w.Header().Set("X-Path", which(w))
	io.WriteString(w, which(w)+" "+r.Method+" "+r.URL.Path)
}

func quiet() *log.Logger { return log.New(io.Discard, "", 0) }

func startLean(t *testing.T, h http.Handler, tune func(*http.Server)) (string, *Server) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: h, ErrorLog: quiet()}
	if tune != nil {
		tune(hs)
	}
	s := &Server{HTTP: hs, Take: takeKV}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		if err := <-done; err != http.ErrServerClosed {
			t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
		}
	})
	return ln.Addr().String(), s
}

func startNet(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: h, ErrorLog: quiet()}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return ln.Addr().String()
}

// dial connects to addr and sends req; the connection closes with the
// test.
func dial(t *testing.T, addr, req string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, req)
	return c, bufio.NewReader(c)
}

// exchange sends raw on a new connection, reads one response, and then
// tries one more request on the same connection to see whether it was
// kept open.
type exchange struct {
	Status        int
	Header        http.Header
	Length        int64
	Chunked, Kept bool
	Body          string
	Err           string // how reading the response failed: "eof", "timeout" or "other"
}

func errKind(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return ""
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "other"
}

func roundTrip(t *testing.T, addr, method, raw string) exchange {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Short: a response that leaves the client waiting is a failure.
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		return exchange{Err: errKind(err)}
	}
	b, err := io.ReadAll(resp.Body)
	e := exchange{Status: resp.StatusCode, Header: resp.Header, Length: resp.ContentLength,
		Chunked: len(resp.TransferEncoding) > 0, Body: string(b), Err: errKind(err)}
	e.Header.Del("Date")
	if !resp.Close {
		io.WriteString(c, "GET /v1/kv/plain HTTP/1.1\r\nHost: x\r\n\r\n")
		if next, err := http.ReadResponse(br, nil); err == nil {
			io.Copy(io.Discard, next.Body)
			e.Kept = next.StatusCode == http.StatusOK
		}
	}
	return e
}

// TestSameAnswersAsNetHTTP runs every behaviour under net/http and on the
// fast path, with GET, HEAD and PUT, and compares what a client reads:
// status, headers, framing, body, and whether the connection stays usable.
func TestSameAnswersAsNetHTTP(t *testing.T) {
	h := &counted{}
	lean, _ := startLean(t, h, nil)
	plain := startNet(t, h)
	for name := range behaviours {
		for _, req := range []struct{ method, raw string }{
			{"GET", "GET /v1/kv/" + name + "?q=1 HTTP/1.1\r\nHost: example.com:80\r\nX-In: in\r\n\r\n"},
			{"HEAD", "HEAD /v1/kv/" + name + " HTTP/1.1\r\nHost: x\r\n\r\n"},
			{"PUT", "PUT /v1/kv/" + name + " HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nX-In: a\r\n\r\nhello world"},
			{"GET", "GET /v1/kv/" + name + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"},
		} {
			before := h.lean.Load()
			got := roundTrip(t, lean, req.method, req.raw)
			if h.lean.Load() == before {
				t.Fatalf("%s: the fast path did not serve %q", name, req.raw)
			}
			want := roundTrip(t, plain, req.method, req.raw)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s %q:\nfast path %+v\nnet/http  %+v", name, req.raw, got, want)
			}
		}
	}
}

// TestHandOff: on one connection, requests the fast path does not take go
// to net/http — with the bytes already read, pipelined or not — and the
// connection stays with net/http from then on.
func TestHandOff(t *testing.T) {
	h := &counted{}
	addr, _ := startLean(t, h, nil)
	c, br := dial(t, addr, "")
	read := func() string {
		t.Helper()
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	io.WriteString(c, "GET /v1/kv/a HTTP/1.1\r\nHost: x\r\n\r\n")
	if got := read(); got != "lean GET /v1/kv/a" {
		t.Fatalf("first: %q", got)
	}
	// Three requests in one write: one taken, one not, one that would be.
	io.WriteString(c, "PUT /v1/kv/b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"+
		"POST /other HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"+
		"GET /v1/kv/c HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, want := range []string{"lean PUT /v1/kv/b", "net POST /other", "net GET /v1/kv/c"} {
		if got := read(); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	if h.lean.Load() != 2 || h.net.Load() != 2 {
		t.Fatalf("lean %d, net %d requests; want 2 and 2", h.lean.Load(), h.net.Load())
	}
}

// TestSlowClient: a head and a body that arrive in pieces are served on
// the fast path.
func TestSlowClient(t *testing.T) {
	h := &counted{}
	addr, _ := startLean(t, h, nil)
	c, br := dial(t, addr, "")
	for _, part := range []string{"PUT /v1/kv/ec", "ho HTTP/1.1\r\nHo", "st: x\r\nContent-Len", "gth: 6\r\n\r", "\nabc", "def"} {
		io.WriteString(c, part)
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != "abcdef" || h.lean.Load() != 1 {
		t.Fatalf("body %q, %d lean requests", b, h.lean.Load())
	}
}

// TestTimeouts: a head that never ends and an idle connection are closed
// after ReadHeaderTimeout and IdleTimeout.
func TestTimeouts(t *testing.T) {
	addr, _ := startLean(t, &counted{}, func(s *http.Server) {
		s.ReadHeaderTimeout = 100 * time.Millisecond
		s.IdleTimeout = 200 * time.Millisecond
	})
	for _, first := range []string{"GET /v1/kv/a HTTP/1.1\r\nHost", "GET /v1/kv/a HTTP/1.1\r\nHost: x\r\n\r\n", ""} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, first)
		start := time.Now()
		_, err = io.Copy(io.Discard, c) // ends when the server closes
		if err != nil {
			t.Fatalf("%q: %v (the server did not close the connection)", first, err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("%q: closed after %v", first, d)
		}
		c.Close()
	}
}

// TestShutdown: a request in flight finishes, idle connections on both
// paths are closed, and Serve returns.
func TestShutdown(t *testing.T) {
	entered := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/kv/slow" {
			close(entered)
			time.Sleep(300 * time.Millisecond)
		}
		io.WriteString(w, which(w))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{HTTP: &http.Server{Handler: h, ErrorLog: quiet()}, Take: takeKV}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	addr := ln.Addr().String()
	idleLean, brLean := dial(t, addr, "GET /v1/kv/a HTTP/1.1\r\nHost: x\r\n\r\n")
	idleNet, brNet := dial(t, addr, "GET /other HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, br := range []*bufio.Reader{brLean, brNet} {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
	}
	silent, _ := dial(t, addr, "")
	slow, brSlow := dial(t, addr, "GET /v1/kv/slow HTTP/1.1\r\nHost: x\r\n\r\n")
	<-entered
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(brSlow, nil)
	if err != nil {
		t.Fatalf("the request in flight was cut: %v", err)
	}
	if b, _ := io.ReadAll(resp.Body); string(b) != "lean" {
		t.Fatalf("in flight: %q", b)
	}
	for _, c := range []net.Conn{idleLean, idleNet, silent, slow} {
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
			t.Fatalf("a connection left open after Shutdown: %v", err)
		}
	}
	if err := <-served; err != http.ErrServerClosed {
		t.Fatalf("Serve: %v", err)
	}
}
