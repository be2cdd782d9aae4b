package leanhttp

import (
	"bytes"
	"net/http"
	"net/textproto"
	"strconv"
)

// maxHeaders bounds the header lines of a request the fast path takes;
// a request with more goes to net/http.
const maxHeaders = 64

// head is a request head the fast path takes.
type head struct {
	method, target string
	host           string
	header         http.Header // without Host, as net/http gives it to handlers
	contentLength  int64
	close          bool // the client sent Connection: close
	n              int  // bytes of the head, through its empty line
}

// verdict is parseHead's answer.
type verdict int

const (
	decline verdict = iota // hand the connection to net/http
	more                   // no whole head yet, and nothing wrong so far
	take                   // serve it here
)

// parseHead reads a request head from buf, the bytes buffered on a
// connection. It takes only what net/http would read the same way (see
// the package documentation); anything else is declined, never answered,
// so that net/http has the last word on every request that is not plainly
// well-formed.
func parseHead(buf []byte, takes func(method, target string) bool, maxBody int64) (head, verdict) {
	var h head
	// The request line decides first, so that requests for other routes
	// go to net/http before their heads are complete.
	eol := bytes.IndexByte(buf, '\n')
	if eol < 0 {
		return h, more
	}
	if eol == 0 || buf[eol-1] != '\r' {
		return h, decline
	}
	line := buf[:eol-1]
	method, rest, ok := cutMethod(line)
	if !ok {
		return h, decline
	}
	sp := bytes.IndexByte(rest, ' ')
	if sp <= 0 || rest[0] != '/' || string(rest[sp+1:]) != "HTTP/1.1" {
		return h, decline
	}
	for _, c := range rest[:sp] {
		if c <= ' ' || c >= 0x7f {
			return h, decline
		}
	}
	// Find the end of the head: every line ends in CRLF, and an empty
	// line ends the head. A bare LF would end a line for net/http but not
	// here, so it declines rather than waits.
	end, lines := -1, 0
	for i := eol + 1; ; {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			// A request that will never be taken need not wait for
			// the rest of its head.
			if !takes(method, string(rest[:sp])) {
				return h, decline
			}
			return h, more
		}
		if j == 0 || buf[i+j-1] != '\r' {
			return h, decline
		}
		if j == 1 {
			end = i + 2
			break
		}
		if lines++; lines > maxHeaders {
			return h, decline
		}
		i += j + 1
	}
	// One string holds the target and every header value: one allocation.
	s := string(buf[:end])
	h.method, h.target, h.n = method, s[len(method)+1:len(method)+1+sp], end
	if !takes(h.method, h.target) {
		return h, decline
	}
	h.header = make(http.Header, lines)
	vals := make([]string, lines)
	h.contentLength = 0
	hosts, lengths := 0, 0
	for i, k := eol+1, 0; i < end-2; k++ {
		j := i + bytes.IndexByte(buf[i:], '\n') - 1 // at the CR
		line := buf[i:j]
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return h, decline // obs-fold lines start with a space: no token before ':'
		}
		name := line[:colon]
		for _, c := range name {
			if !isTokenByte(c) {
				return h, decline
			}
		}
		vs, ve := i+colon+1, j
		for vs < ve && (buf[vs] == ' ' || buf[vs] == '\t') {
			vs++
		}
		for ve > vs && (buf[ve-1] == ' ' || buf[ve-1] == '\t') {
			ve--
		}
		for _, c := range buf[vs:ve] {
			if (c < ' ' && c != '\t') || c >= 0x7f {
				return h, decline
			}
		}
		v := s[vs:ve]
		key := canonicalKey(name)
		switch key {
		case "Host":
			if hosts++; hosts > 1 || !validHost(v) {
				return h, decline
			}
			h.host = v
			i = j + 2
			continue // net/http moves Host out of the header map
		case "Content-Length":
			n, ok := parseLength(v)
			if lengths++; lengths > 1 || !ok || n > maxBody {
				return h, decline
			}
			h.contentLength = n
		case "Connection":
			switch {
			case asciiEqualFold(v, "close"):
				h.close = true
			case asciiEqualFold(v, "keep-alive"):
			default:
				return h, decline // upgrades and hop-by-hop lists are net/http's
			}
		case "Transfer-Encoding", "Expect", "Upgrade", "Pragma", "Trailer":
			return h, decline
		}
		if vv := h.header[key]; vv == nil {
			vals[k] = v
			h.header[key] = vals[k : k+1 : k+1]
		} else {
			h.header[key] = append(vv, v)
		}
		i = j + 2
	}
	if hosts != 1 || h.host == "" {
		return h, decline
	}
	return h, take
}

// cutMethod splits a request line after its method, one of those the
// fast path takes, returned as a constant (no allocation).
func cutMethod(line []byte) (method string, rest []byte, ok bool) {
	for _, m := range [...]string{http.MethodGet, http.MethodPut, http.MethodHead, http.MethodDelete} {
		if len(line) > len(m) && line[len(m)] == ' ' && string(line[:len(m)]) == m {
			return m, line[len(m)+1:], true
		}
	}
	return "", nil, false
}

// canonicalKey is textproto.CanonicalMIMEHeaderKey without an allocation
// for the names clients send on every request.
func canonicalKey(name []byte) string {
	switch string(name) {
	case "Host", "host":
		return "Host"
	case "User-Agent", "user-agent":
		return "User-Agent"
	case "Content-Length", "content-length":
		return "Content-Length"
	case "Accept-Encoding", "accept-encoding":
		return "Accept-Encoding"
	case "Accept", "accept":
		return "Accept"
	case "Authorization", "authorization":
		return "Authorization"
	case "Content-Type", "content-type":
		return "Content-Type"
	case "Connection", "connection":
		return "Connection"
	}
	return textproto.CanonicalMIMEHeaderKey(string(name))
}

// parseLength parses a Content-Length of digits only, as net/http does
// after trimming; at most 9 digits, so that it cannot overflow.
func parseLength(v string) (int64, bool) {
	if v == "" || len(v) > 9 {
		return 0, false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

// validHost accepts host names, IPv4 and bracketed IPv6 addresses with an
// optional port: a subset of what net/http accepts.
func validHost(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '.', c == ':', c == '[', c == ']', c == '_':
		default:
			return false
		}
	}
	return true
}

// isTokenByte reports whether c may appear in a header name (RFC 9110's
// tchar).
func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

func asciiEqualFold(s, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := 0; i < len(s); i++ {
		a, b := s[i], t[i]
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}
