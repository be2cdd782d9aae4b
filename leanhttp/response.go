package leanhttp

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxHeld is how much of a body the response holds before it must send
// its head (with Content-Length if the handler declared one, else
// chunked) and stream the rest, as net/http does past its 2 KiB buffer.
const maxHeld = 16 << 10

// maxKept bounds the buffers a connection keeps between requests.
const maxKept = 8 << 10

// response is the fast path's http.ResponseWriter.
type response struct {
	c          *conn
	req        *http.Request
	body       *body // the request's, nil if it has none
	header     http.Header
	status     int
	headSent   bool // the head is in c.out
	chunked    bool
	declared   int64 // the handler's Content-Length, or -1
	written    int64
	closeAfter bool
}

func (w *response) Header() http.Header {
	if w.header == nil {
		w.header = make(http.Header, 4)
	}
	return w.header
}

// WriteHeader records the status. Informational (1xx) statuses are not
// sent: no route on the fast path uses them.
func (w *response) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic("invalid WriteHeader code " + strconv.Itoa(code)) // as net/http
	}
	if w.status != 0 || code < 200 {
		return
	}
	w.status = code
	if cl := w.header.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(strings.TrimSpace(cl), 10, 64); err == nil && n >= 0 {
			w.declared = n
		} else {
			w.c.s.logf("http: invalid Content-Length of %q", cl)
			w.header.Del("Content-Length")
		}
	}
}

func (w *response) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if w.declared >= 0 && w.written+int64(len(p)) > w.declared {
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	c := w.c
	if !w.headSent && len(c.body)+len(p) <= maxHeld {
		c.body = append(c.body, p...)
		return len(p), nil
	}
	if !w.headSent {
		w.writeHead(false, p)
		w.writeBody(c.body)
	}
	w.writeBody(p)
	if len(c.out) >= maxHeld {
		if err := c.send(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// writeBody adds p to the response's bytes, framed.
func (w *response) writeBody(p []byte) {
	c := w.c
	if len(p) == 0 || w.req.Method == http.MethodHead {
		return
	}
	if w.chunked {
		c.out = strconv.AppendInt(c.out, int64(len(p)), 16)
		c.out = append(c.out, "\r\n"...)
		c.out = append(c.out, p...)
		c.out = append(c.out, "\r\n"...)
		return
	}
	c.out = append(c.out, p...)
}

// finish sends what the handler left unsent and reports whether the
// connection may serve another request.
func (w *response) finish() bool {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	c := w.c
	if !w.headSent {
		w.writeHead(true, nil)
		w.writeBody(c.body)
	} else if w.chunked {
		c.out = append(c.out, "0\r\n\r\n"...)
	}
	if w.declared >= 0 && w.written != w.declared && w.req.Method != http.MethodHead && bodyAllowed(w.status) {
		w.closeAfter = true // the client would read the next response as this one's body
	}
	if err := c.send(); err != nil {
		return false
	}
	// An idle connection keeps buffers of an ordinary response's size,
	// not of the largest it ever sent.
	if cap(c.out) > maxKept {
		c.out = nil
	}
	if cap(c.body) > maxKept {
		c.body = nil
	}
	return !w.closeAfter
}

// send writes c.out, within the server's WriteTimeout if it has one.
func (c *conn) send() error {
	if d := c.s.HTTP.WriteTimeout; d > 0 {
		c.nc.SetWriteDeadline(time.Now().Add(d))
	}
	_, err := c.nc.Write(c.out)
	c.out = c.out[:0]
	return err
}

// sniffLen is how many bytes http.DetectContentType looks at.
const sniffLen = 512

// writeHead puts the status line and headers in c.out. done says the
// handler has returned, so that the body held is the whole body; next is
// the body's next bytes, not held, if it has not.
func (w *response) writeHead(done bool, next []byte) {
	w.headSent = true
	c := w.c
	// The rest of the request body goes first, as net/http reads it
	// before answering: a client that sends its whole request before
	// reading could otherwise deadlock, and the next request must start
	// where this one ends.
	if w.body != nil && !w.body.drain() {
		w.closeAfter = true
	}
	h := w.header
	if h.Get("Connection") == "close" {
		w.closeAfter = true
	}
	out := append(c.out, "HTTP/1.1 "...)
	out = strconv.AppendInt(out, int64(w.status), 10)
	out = append(out, ' ')
	if text := http.StatusText(w.status); text != "" {
		out = append(out, text...)
	} else {
		out = append(out, "status code "...)
		out = strconv.AppendInt(out, int64(w.status), 10)
	}
	out = append(out, "\r\n"...)
	allowed := bodyAllowed(w.status)
	for k, vv := range h {
		if !validName(k) || framing(k) || (!allowed && suppressed(w.status, k)) {
			continue
		}
		for _, v := range vv {
			out = append(out, k...)
			out = append(out, ": "...)
			out = appendValue(out, v)
			out = append(out, "\r\n"...)
		}
	}
	if allowed {
		// net/http sniffs its first flush: the bytes held and the start
		// of the write that overflowed them.
		sniff := c.body
		if len(sniff) < sniffLen && len(next) > 0 {
			sniff = append(sniff[:len(sniff):len(sniff)], next[:min(len(next), sniffLen-len(sniff))]...)
		}
		if _, ok := h["Content-Type"]; !ok && h.Get("Content-Encoding") == "" && len(sniff) > 0 {
			out = append(out, "Content-Type: "...)
			out = append(out, http.DetectContentType(sniff)...)
			out = append(out, "\r\n"...)
		}
		switch {
		case w.declared >= 0:
			out = append(out, "Content-Length: "...)
			out = strconv.AppendInt(out, w.declared, 10)
			out = append(out, "\r\n"...)
		case done && (w.req.Method != http.MethodHead || len(c.body) > 0):
			out = append(out, "Content-Length: "...)
			out = strconv.AppendInt(out, int64(len(c.body)), 10)
			out = append(out, "\r\n"...)
		case w.req.Method != http.MethodHead:
			w.chunked = true
			out = append(out, "Transfer-Encoding: chunked\r\n"...)
		}
	}
	if _, ok := h["Date"]; !ok {
		out = append(out, "Date: "...)
		out = c.date.append(out)
		out = append(out, "\r\n"...)
	}
	if w.closeAfter {
		out = append(out, "Connection: close\r\n"...)
	}
	c.out = append(out, "\r\n"...)
}

// framing reports whether the header k is one the response writes itself.
func framing(k string) bool {
	switch k {
	case "Content-Length", "Transfer-Encoding", "Connection":
		return true
	}
	return false
}

// suppressed reports whether net/http drops the header k from a response
// of a status that has no body.
func suppressed(status int, k string) bool {
	return k == "Content-Type" && status == http.StatusNotModified
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// appendValue appends v with CR and LF turned to spaces and surrounding
// white space trimmed, as net/http writes header values: a value cannot
// add a header or end the head.
func appendValue(out []byte, v string) []byte {
	v = strings.Trim(v, " \t\r\n")
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		out = append(out, c)
	}
	return out
}

func validName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !isTokenByte(k[i]) {
			return false
		}
	}
	return true
}

// dateCache formats the Date header once a second per connection.
type dateCache struct {
	sec int64
	buf []byte
}

func (d *dateCache) append(out []byte) []byte {
	now := time.Now()
	if s := now.Unix(); s != d.sec || d.buf == nil {
		d.sec = s
		d.buf = now.UTC().AppendFormat(d.buf[:0], http.TimeFormat)
	}
	return append(out, d.buf...)
}
