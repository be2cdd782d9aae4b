package transport

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// FuzzFrames feeds arbitrary bytes to the frame readers and to the
// server side of the handshake: garbage must produce an error, never a
// panic, a hang, or an accepted peer.
func FuzzFrames(f *testing.F) {
	f.Add(encodeRequest("kv.get", time.Second, []byte("payload")))
	f.Add(encodeResponse(1, 0, []byte("body")))
	f.Add([]byte{protoRPC})
	f.Add(append([]byte{protoRaft}, make([]byte, 64)...))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, _, req, err := readRequest(bytes.NewReader(b)); err == nil {
			if len(m)+len(req)+reqHeader > len(b) {
				t.Fatalf("request longer than its input")
			}
		}
		readResponse(bytes.NewReader(b))

		server, client := net.Pipe()
		defer server.Close()
		done := make(chan error, 1)
		go func() {
			server.SetDeadline(time.Now().Add(2 * time.Second))
			_, _, err := serverHandshake(server, "the-secret")
			done <- err
		}()
		go func() {
			client.Write(b)
			client.Close()
		}()
		go io.Copy(io.Discard, client)
		err := <-done
		if err == nil {
			t.Fatalf("handshake accepted random bytes %x", b)
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("handshake hung on %x", b)
		}
	})
}
