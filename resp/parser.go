package resp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"
)

// ProtocolError is a malformed or over-limit request. The server answers
// it with `-ERR Protocol error: …` and closes the connection, as Redis
// does: after a framing error the rest of the stream cannot be trusted.
type ProtocolError struct{ Msg string }

func (e *ProtocolError) Error() string { return "Protocol error: " + e.Msg }

func protoErr(format string, a ...any) error {
	return &ProtocolError{Msg: fmt.Sprintf(format, a...)}
}

// Limits bound what one request may make the server buffer. Each is checked
// against the length a header announces, before any of the payload is read;
// the buffers themselves grow only as bytes arrive, so a header announcing
// a large argument costs nothing until the argument is actually sent.
type Limits struct {
	MaxBulk    int // bytes of one argument
	MaxArgs    int // arguments of one command
	MaxRequest int // bytes of all arguments of one command together
	MaxInline  int // bytes of one inline (telnet-style) command line
}

// Reader parses RESP2 requests: multibulk arrays of bulk strings
// (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`), as every client library sends, and
// inline commands (`PING\r\n`), as people type them into telnet.
type Reader struct {
	br   *bufio.Reader
	lim  Limits
	buf  []byte   // payload of the current command; args point into it
	offs []int    // start offsets of the arguments in buf
	args [][]byte // the result, reused between commands
	line []byte   // an inline command longer than br's buffer
}

const (
	// readBufSize is the fixed read buffer of a connection. Inline lines
	// and bulk strings longer than it are assembled in buffers that grow
	// with the data received, up to the limits.
	readBufSize = 4 << 10
	// readChunk is the most a bulk string's buffer grows ahead of the
	// bytes actually received.
	readChunk = 16 << 10
	// keepBuf is the largest payload buffer kept between commands; a
	// larger one (left by one big request) is dropped.
	keepBuf = 64 << 10
)

// NewReader returns a Reader of r with the given limits; zero limits take
// the defaults of Config.
func NewReader(r io.Reader, lim Limits) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, readBufSize), lim: lim.withDefaults()}
}

// SetLimits changes the limits of the following commands (the server
// raises them once a connection has authenticated).
func (r *Reader) SetLimits(lim Limits) { r.lim = lim.withDefaults() }

func (l Limits) withDefaults() Limits {
	l.MaxBulk = positiveOr(l.MaxBulk, DefaultMaxBulk)
	l.MaxArgs = positiveOr(l.MaxArgs, DefaultMaxArgs)
	l.MaxRequest = positiveOr(l.MaxRequest, DefaultMaxRequest)
	if l.MaxRequest < l.MaxBulk {
		l.MaxRequest = l.MaxBulk
	}
	if l.MaxInline <= 0 {
		l.MaxInline = 16 << 10
	}
	return l
}

// Buffered reports how many bytes have been received but not parsed yet:
// zero means the client waits for answers, so they should be flushed.
func (r *Reader) Buffered() int { return r.br.Buffered() }

// ReadCommand returns the next command's arguments. They stay valid only
// until the next call. Empty commands (`*0`, blank lines) are skipped. A
// *ProtocolError means the stream is unusable; io.EOF means the client
// closed cleanly between commands.
func (r *Reader) ReadCommand() ([][]byte, error) {
	for {
		c, err := r.br.ReadByte()
		if err != nil {
			return nil, err
		}
		var args [][]byte
		if c == '*' {
			args, err = r.readMultibulk()
		} else {
			if err := r.br.UnreadByte(); err != nil {
				return nil, err
			}
			args, err = r.readInline()
		}
		if err != nil {
			return nil, err
		}
		if len(args) > 0 {
			return args, nil
		}
	}
}

// readLine returns one CRLF-terminated header line without its CRLF.
func (r *Reader) readLine() ([]byte, error) {
	line, err := r.br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, protoErr("too big header line")
		}
		return nil, noEOF(err)
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, protoErr("line not terminated by CRLF")
	}
	return line[:len(line)-2], nil
}

// noEOF turns an EOF in the middle of a command into ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// parseLen parses a non-negative decimal length of at most 10 digits.
func parseLen(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 10 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func (r *Reader) readMultibulk() ([][]byte, error) {
	line, err := r.readLine()
	if err != nil {
		return nil, err
	}
	if len(line) > 0 && line[0] == '-' { // *-1: a null array, nothing to do
		if string(line) == "-1" {
			return nil, nil
		}
		return nil, protoErr("invalid multibulk length")
	}
	n, ok := parseLen(line)
	if !ok {
		return nil, protoErr("invalid multibulk length")
	}
	if n > r.lim.MaxArgs {
		return nil, protoErr("%d arguments exceed the limit of %d", n, r.lim.MaxArgs)
	}
	if cap(r.buf) > keepBuf {
		r.buf = nil
	}
	r.buf, r.offs, r.args = r.buf[:0], r.offs[:0], r.args[:0]
	for i := 0; i < n; i++ {
		c, err := r.br.ReadByte()
		if err != nil {
			return nil, noEOF(err)
		}
		if c != '$' {
			return nil, protoErr("expected '$', got '%s'", printable(c))
		}
		line, err := r.readLine()
		if err != nil {
			return nil, err
		}
		size, ok := parseLen(line)
		if !ok {
			return nil, protoErr("invalid bulk length")
		}
		if size > r.lim.MaxBulk {
			return nil, protoErr("bulk length %d exceeds the limit of %d bytes", size, r.lim.MaxBulk)
		}
		if len(r.buf)+size > r.lim.MaxRequest {
			return nil, protoErr("request exceeds the limit of %d bytes", r.lim.MaxRequest)
		}
		start := len(r.buf)
		r.offs = append(r.offs, start)
		// Grow by what arrives, a chunk at a time, never by the
		// announced size: a 20-byte header must not reserve megabytes.
		for rem := size + 2; rem > 0; {
			k := min(rem, readChunk)
			r.buf = grow(r.buf, k)
			if _, err := io.ReadFull(r.br, r.buf[len(r.buf)-k:]); err != nil {
				return nil, noEOF(err)
			}
			rem -= k
		}
		if r.buf[start+size] != '\r' || r.buf[start+size+1] != '\n' {
			return nil, protoErr("bulk string not terminated by CRLF")
		}
		r.buf = r.buf[:start+size] // drop the CRLF
	}
	r.offs = append(r.offs, len(r.buf))
	for i := 0; i < n; i++ {
		r.args = append(r.args, r.buf[r.offs[i]:r.offs[i+1]:r.offs[i+1]])
	}
	return r.args, nil
}

// grow extends b by n bytes, reallocating when needed.
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), 2*cap(b)+n)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}

func printable(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return string(rune(c))
	}
	return fmt.Sprintf("\\x%02x", c)
}

// readInline reads a telnet-style command: words separated by blanks, with
// "double" and 'single' quoted words as redis-cli and Redis understand them.
func (r *Reader) readInline() ([][]byte, error) {
	line, err := r.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		// Longer than the read buffer: assemble it, up to MaxInline.
		r.line = append(r.line[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) && len(r.line) <= r.lim.MaxInline {
			line, err = r.br.ReadSlice('\n')
			r.line = append(r.line, line...)
		}
		line = r.line
		if cap(r.line) > keepBuf {
			r.line = nil
		}
	}
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) || len(line) > r.lim.MaxInline {
			return nil, protoErr("too big inline request")
		}
		if err == io.EOF && len(line) > 0 {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if len(line) > r.lim.MaxInline {
		return nil, protoErr("too big inline request")
	}
	line = bytes.TrimRight(line, "\r\n")
	words, err := splitInline(line)
	if err != nil {
		return nil, err
	}
	if len(words) > r.lim.MaxArgs {
		return nil, protoErr("%d arguments exceed the limit of %d", len(words), r.lim.MaxArgs)
	}
	r.buf, r.args = r.buf[:0], r.args[:0]
	r.offs = r.offs[:0]
	for _, w := range words {
		r.offs = append(r.offs, len(r.buf))
		r.buf = append(r.buf, w...)
	}
	r.offs = append(r.offs, len(r.buf))
	for i := range words {
		r.args = append(r.args, r.buf[r.offs[i]:r.offs[i+1]:r.offs[i+1]])
	}
	return r.args, nil
}

// splitInline splits an inline command line into words.
func splitInline(line []byte) ([][]byte, error) {
	var words [][]byte
	i := 0
	for {
		for i < len(line) && isBlank(line[i]) {
			i++
		}
		if i >= len(line) {
			return words, nil
		}
		var w []byte
		switch q := line[i]; q {
		case '"', '\'':
			i++
			closed := false
			for i < len(line) {
				c := line[i]
				if c == '\\' && q == '"' && i+1 < len(line) {
					i++
					switch e := line[i]; e {
					case 'n':
						c = '\n'
					case 'r':
						c = '\r'
					case 't':
						c = '\t'
					case 'x':
						if i+2 < len(line) && isHex(line[i+1]) && isHex(line[i+2]) {
							c = unhex(line[i+1])<<4 | unhex(line[i+2])
							i += 2
						} else {
							c = 'x'
						}
					default:
						c = e
					}
				} else if c == '\\' && q == '\'' && i+1 < len(line) && line[i+1] == '\'' {
					i++
					c = '\''
				} else if c == q {
					closed = true
					i++
					break
				}
				w = append(w, c)
				i++
			}
			if !closed || (i < len(line) && !isBlank(line[i])) {
				return nil, protoErr("unbalanced quotes in request")
			}
		default:
			for i < len(line) && !isBlank(line[i]) {
				w = append(w, line[i])
				i++
			}
		}
		if w == nil {
			w = []byte{}
		}
		words = append(words, w)
	}
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// positiveOr is v, or d when v is not positive (unset or nonsense).
func positiveOr[T int | time.Duration](v, d T) T {
	if v <= 0 {
		return d
	}
	return v
}
