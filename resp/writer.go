package resp

import (
	"bufio"
	"io"
	"strconv"
	"strings"
)

// writer encodes RESP2 replies into a buffered connection.
type writer struct {
	bw  *bufio.Writer
	dst io.Writer // what bw writes to
	num []byte
}

func newWriter(dst io.Writer, size int) writer {
	return writer{bw: bufio.NewWriterSize(dst, size), dst: dst}
}

// resize flushes what is buffered and continues with a buffer of n bytes.
func (w *writer) resize(n int) {
	w.bw.Flush()
	w.bw = bufio.NewWriterSize(w.dst, n)
}

func (w *writer) simple(s string) {
	w.bw.WriteByte('+')
	w.bw.WriteString(s)
	w.bw.WriteString("\r\n")
}

func (w *writer) ok() { w.bw.WriteString("+OK\r\n") }

// err writes an error reply; msg starts with its code (ERR, NOAUTH, …).
// Line breaks would end the reply early, so they become spaces.
func (w *writer) err(msg string) {
	msg = strings.NewReplacer("\r", " ", "\n", " ").Replace(msg)
	w.bw.WriteByte('-')
	w.bw.WriteString(msg)
	w.bw.WriteString("\r\n")
}

func (w *writer) int(n int64) {
	w.bw.WriteByte(':')
	w.num = strconv.AppendInt(w.num[:0], n, 10)
	w.bw.Write(w.num)
	w.bw.WriteString("\r\n")
}

func (w *writer) bulk(b []byte) {
	w.bulkHeader(len(b))
	w.bw.Write(b)
	w.bw.WriteString("\r\n")
}

func (w *writer) bulkString(s string) {
	w.bulkHeader(len(s))
	w.bw.WriteString(s)
	w.bw.WriteString("\r\n")
}

// bulkHeader writes the $length line of a bulk string.
func (w *writer) bulkHeader(n int) {
	w.bw.WriteByte('$')
	w.num = strconv.AppendInt(w.num[:0], int64(n), 10)
	w.bw.Write(w.num)
	w.bw.WriteString("\r\n")
}

func (w *writer) null() { w.bw.WriteString("$-1\r\n") }

func (w *writer) array(n int) {
	w.bw.WriteByte('*')
	w.num = strconv.AppendInt(w.num[:0], int64(n), 10)
	w.bw.Write(w.num)
	w.bw.WriteString("\r\n")
}

// strings writes an array of bulk strings.
func (w *writer) strings(ss ...string) {
	w.array(len(ss))
	for _, s := range ss {
		w.bulkString(s)
	}
}
