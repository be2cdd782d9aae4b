package leanhttp

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func takeKV(method, target string) bool { return strings.HasPrefix(target, "/v1/kv/") }

// requests are the seeds of FuzzParseHead: ordinary requests the fast path
// must take, and the classic ways to make two parsers disagree, which it
// must decline.
var requests = []struct {
	raw  string
	want verdict
}{
	{"GET /v1/kv/a HTTP/1.1\r\nHost: x\r\n\r\n", take},
	{"GET /v1/kv/a?r=1&w=2 HTTP/1.1\r\nHost: 127.0.0.1:7070\r\nUser-Agent: Go-http-client/1.1\r\nAccept-Encoding: gzip\r\n\r\n", take},
	{"PUT /v1/kv/a%2Fb HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", take},
	{"PUT /v1/kv/a HTTP/1.1\r\nHost: x\r\ncontent-length: 5\r\nConnection: close\r\n\r\nhelloGET /v1/kv/a HTTP/1.1\r\nHost: x\r\n\r\n", take},
	{"DELETE /v1/kv/a HTTP/1.1\r\nhost: [::1]:80\r\nX-A: 1\r\nx-a: 2\r\nAuthorization: Bearer t\r\n\r\n", take},
	{"HEAD /v1/kv/a HTTP/1.1\r\nHost: x\r\nX-Empty:\r\nX-Pad: \t v \t\r\n\r\n", take},
	{"GET /v1/kv/a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", take},

	{"GET /v1/kv/a HTTP/1.1\r\nHost: x\r\n", more},
	{"GET /v1/kv/a HTTP/1.1\r\nHo", more},
	{"GET /v1/kv/a HTT", more},

	{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", decline},
	{"GET /v1/kv/a HTTP/1.1\r\nHo", more},
	{"GET /graphql HTTP/1.1\r\nHo", decline},
	{"POST /v1/kv/a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\na", decline},
	{"GET /v1/kv/a HTTP/1.0\r\nHost: x\r\n\r\n", decline},
	{"GET /v1/kv/a HTTP/1.1 \r\nHost: x\r\n\r\n", decline},
	{"GET  /v1/kv/a HTTP/1.1\r\nHost: x\r\n\r\n", decline},
	{"get /v1/kv/a HTTP/1.1\r\nHost: x\r\n\r\n", decline},
	{"GET http://x/v1/kv/a HTTP/1.1\r\nHost: x\r\n\r\n", decline},
	{"GET /v1/kv/a\x00 HTTP/1.1\r\nHost: x\r\n\r\n", decline},
	{"GET /v1/kv/\xff HTTP/1.1\r\nHost: x\r\n\r\n", decline},
	{"GET /v1/kv/a HTTP/1.1\nHost: x\n\n", decline},
	{"GET /v1/kv/a HTTP/1.1\r\nHost: x\n\r\n", decline},
	{"GET /v1/kv/a HTTP/1.1\r\nHost: x\r\n\n", decline},
	{"\r\nGET /v1/kv/a HTTP/1.1\r\nHost: x\r\n\r\n", decline},
	{"GET /v1/kv/a HTTP/1.1\r\n\r\n", decline},
	{"GET /v1/kv/a HTTP/1.1\r\nHost:\r\n\r\n", decline},
	{"GET /v1/kv/a HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", decline},
	{"GET /v1/kv/a HTTP/1.1\r\nHost: x/y\r\n\r\n", decline},
	{"PUT /v1/kv/a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na", decline},
	{"PUT /v1/kv/a HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 1\r\n\r\na", decline},
	{"PUT /v1/kv/a HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\na", decline},
	{"PUT /v1/kv/a HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\na", decline},
	{"PUT /v1/kv/a HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\na", decline},
	{"PUT /v1/kv/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n", decline},
	{"PUT /v1/kv/a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", decline},
	{"PUT /v1/kv/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\nhello", decline},
	{"PUT /v1/kv/a HTTP/1.1\r\nHost: x\r\n Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello", decline},
	{"PUT /v1/kv/a HTTP/1.1\r\nHost: x\r\nX: y\r\n\tTransfer-Encoding: chunked\r\n\r\n", decline},
	{"PUT /v1/kv/a HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\na", decline},
	{"GET /v1/kv/a HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", decline},
	{"GET /v1/kv/a HTTP/1.1\r\nHost: x\r\nConnection: close, te\r\n\r\n", decline},
	{"GET /v1/kv/a HTTP/1.1\r\nHost: x\r\nPragma: no-cache\r\n\r\n", decline},
	{"GET /v1/kv/a HTTP/1.1\r\nHost: x\r\nX-Bin: \x01\r\n\r\n", decline},
	{"GET /v1/kv/a HTTP/1.1\r\nHost: x\r\nX-Bin: a\rb\r\n\r\n", decline},
	{"GET /v1/kv/a HTTP/1.1\r\nHost: x\r\nX-Utf8: \xc3\xa9\r\n\r\n", decline},
	{"GET /v1/kv/a HTTP/1.1\r\nHost: x\r\n: empty\r\n\r\n", decline},
	{"GET /v1/kv/a HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", decline},
	{"GET /v1/kv/a HTTP/1.1\r\nHost: x\r\nX(y): z\r\n\r\n", decline},
	{"GET /v1/kv/%zz HTTP/1.1\r\nHost: x\r\n\r\n", take}, // taken here, refused by url.ParseRequestURI in serve
}

func TestParseHead(t *testing.T) {
	for _, r := range requests {
		_, v := parseHead([]byte(r.raw), takeKV, DefaultMaxBody)
		if v != r.want {
			t.Errorf("%q: verdict %d, want %d", r.raw, v, r.want)
		}
		agreeWithNetHTTP(t, []byte(r.raw))
	}
}

// TestParseHeadInPieces: a head taken whole is never declined while it
// arrives, so slow clients stay on the fast path, and never taken early.
func TestParseHeadInPieces(t *testing.T) {
	for _, r := range requests {
		if r.want != take {
			continue
		}
		h, _ := parseHead([]byte(r.raw), takeKV, DefaultMaxBody)
		for i := range h.n {
			if _, v := parseHead([]byte(r.raw[:i]), takeKV, DefaultMaxBody); v != more {
				t.Errorf("%q: verdict %d on its first %d bytes, want more", r.raw, v, i)
			}
		}
	}
}

func TestParseHeadTooManyHeaders(t *testing.T) {
	raw := "GET /v1/kv/a HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X: y\r\n", maxHeaders) + "\r\n"
	if _, v := parseHead([]byte(raw), takeKV, DefaultMaxBody); v != decline {
		t.Fatalf("verdict %d with %d headers, want decline", v, maxHeaders+1)
	}
}

// FuzzParseHead is the guard against request smuggling: whatever the fast
// path takes, net/http reads as the same request — method, target, Host,
// headers, Connection: close, body — ending at the same byte.
func FuzzParseHead(f *testing.F) {
	for _, r := range requests {
		f.Add([]byte(r.raw))
	}
	f.Fuzz(func(t *testing.T, buf []byte) {
		agreeWithNetHTTP(t, buf)
	})
}

func agreeWithNetHTTP(t *testing.T, buf []byte) {
	t.Helper()
	h, v := parseHead(buf, takeKV, DefaultMaxBody)
	if v != take {
		return
	}
	u, err := url.ParseRequestURI(h.target)
	if err != nil {
		return // serve declines it
	}
	br := bufio.NewReader(bytes.NewReader(buf))
	req, err := http.ReadRequest(br)
	if err != nil {
		t.Fatalf("taken, but net/http refuses it: %v\n%q", err, buf)
	}
	// ReadRequest refuses two Hosts and takes Host out of Header, as the
	// server does; a missing one would show here as "".
	if req.Host != h.host {
		t.Fatalf("Host %q, net/http's %q\n%q", h.host, req.Host, buf)
	}
	if req.Method != h.method || req.RequestURI != h.target || req.URL.String() != u.String() ||
		req.ProtoMajor != 1 || req.ProtoMinor != 1 || req.Close != h.close || req.ContentLength != h.contentLength {
		t.Fatalf("taken as %s %s (close %v, length %d), net/http reads %s %s %s (close %v, length %d)\n%q",
			h.method, h.target, h.close, h.contentLength, req.Method, req.RequestURI, req.Proto, req.Close, req.ContentLength, buf)
	}
	if !reflect.DeepEqual(map[string][]string(req.Header), map[string][]string(h.header)) {
		t.Fatalf("headers %q, net/http's %q\n%q", h.header, req.Header, buf)
	}
	if len(buf) < h.n+int(h.contentLength) {
		return // the body has not all arrived
	}
	got, err := io.ReadAll(req.Body)
	if err != nil || !bytes.Equal(got, buf[h.n:h.n+int(h.contentLength)]) {
		t.Fatalf("body %q, net/http's %q (%v)\n%q", buf[h.n:h.n+int(h.contentLength)], got, err, buf)
	}
	rest, _ := io.ReadAll(br)
	if !bytes.Equal(rest, buf[h.n+int(h.contentLength):]) {
		t.Fatalf("the next request starts at %q here, at %q for net/http\n%q", buf[h.n+int(h.contentLength):], rest, buf)
	}
}
