package resp

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"testing"

	"github.com/grafo/grafo/auth"
	"github.com/grafo/grafo/kv/kvtest"
)

// FuzzRESP feeds arbitrary bytes to the request parser and runs whatever
// commands come out against a real store. The parser must never panic,
// never return arguments beyond its limits, and every command it returns
// must survive a round trip through the multibulk encoding. Its seed
// corpus runs as an ordinary test.
//
//	go test -run '^$' -fuzz FuzzRESP -fuzztime 1m ./resp
func FuzzRESP(f *testing.F) {
	for _, seed := range []string{
		"*1\r\n$4\r\nPING\r\n",
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
		"*5\r\n$4\r\nMSET\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$0\r\n\r\n*3\r\n$3\r\nDEL\r\n$1\r\na\r\n$1\r\nb\r\n",
		"PING\r\nSET k \"v \\x41\\n\"\r\nGET 'k'\n\r\n",
		"*0\r\n*-1\r\n*1\r\n$4\r\nINFO\r\n",
		"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n*4\r\n$5\r\nHELLO\r\n$1\r\n2\r\n$4\r\nAUTH\r\n$1\r\nx\r\n",
		"*2\r\n$3\r\nGET\r\n$-1\r\n",
		"*1\r\n$99999999999\r\n",
		"*99999\r\n",
		"*1\r\n$3\r\nabc",
		"\"unbalanced\r\n",
		"*2\r\n$17\r\nGRAFO.CONSISTENCY\r\n$3\r\nall\r\n*3\r\n$6\r\nEXISTS\r\n$1\r\nk\r\n$1\r\nk\r\n",
		"*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$1\r\n*\r\n*2\r\n$7\r\nCOMMAND\r\n$4\r\nDOCS\r\n",
		"*1\r\n$4\r\nQUIT\r\n*1\r\n$4\r\nPING\r\n",
	} {
		f.Add([]byte(seed))
	}
	lim := Limits{MaxBulk: 1024, MaxArgs: 16, MaxRequest: 4096, MaxInline: 1024}
	tokens, err := auth.Parse(bytes.NewReader([]byte("writer-token write\n")))
	if err != nil {
		f.Fatal(err)
	}
	s, err := NewServer(Config{Addr: "127.0.0.1:0", Store: kvtest.NewStore(f), MaxConns: 1})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	s.lim = lim
	local, remote := net.Pipe()
	f.Cleanup(func() { local.Close(); remote.Close() })

	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data), lim)
		for _, tok := range []*auth.Tokens{nil, tokens} {
			s.cfg.Tokens = tok
			c := s.newConn(local)
			c.w = newWriter(io.Discard, 4096)
			for range 64 {
				args, err := r.ReadCommand()
				if err != nil {
					break
				}
				if len(args) == 0 || len(args) > lim.MaxArgs {
					t.Fatalf("%d arguments", len(args))
				}
				total := 0
				for _, a := range args {
					if len(a) > lim.MaxBulk {
						t.Fatalf("argument of %d bytes", len(a))
					}
					total += len(a)
				}
				if total > lim.MaxRequest {
					t.Fatalf("request of %d bytes", total)
				}
				var enc bytes.Buffer
				enc.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
				for _, a := range args {
					enc.WriteString("$" + strconv.Itoa(len(a)) + "\r\n")
					enc.Write(a)
					enc.WriteString("\r\n")
				}
				again, err := NewReader(&enc, lim).ReadCommand()
				if err != nil {
					t.Fatalf("re-encoded command does not parse: %v", err)
				}
				if len(again) != len(args) {
					t.Fatalf("round trip: %d arguments, then %d", len(args), len(again))
				}
				for i := range args {
					if !bytes.Equal(args[i], again[i]) {
						t.Fatalf("round trip: argument %d %q became %q", i, args[i], again[i])
					}
				}
				c.dispatch(args)
				if c.quit {
					break
				}
			}
			r = NewReader(bytes.NewReader(data), lim)
		}
	})
}
