package resp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafo/grafo/auth"
	"github.com/grafo/grafo/internal/testutil"
	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/kvtest"
)

// startServer runs a Server over a real single-node store.
func startServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.Store == nil {
		cfg.Store = kvtest.NewStore(t)
	}
	cfg.Addr = "127.0.0.1:0"
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return s
}

// client speaks raw RESP.
type client struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

func dial(t testing.TB, s *Server) *client {
	t.Helper()
	nc, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	return &client{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func encode(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

func (c *client) send(raw string) {
	c.t.Helper()
	if _, err := io.WriteString(c.nc, raw); err != nil {
		c.t.Fatal(err)
	}
}

// do sends one command and returns its reply rendered as text: +S, -E,
// :N, "bulk", (nil), [a b c].
func (c *client) do(args ...string) string {
	c.t.Helper()
	c.send(encode(args...))
	return c.reply()
}

func (c *client) reply() string {
	c.t.Helper()
	r, err := readReply(c.br)
	if err != nil {
		c.t.Fatalf("reading reply: %v", err)
	}
	return r
}

func readReply(br *bufio.Reader) (string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	if !strings.HasSuffix(line, "\r\n") || len(line) < 3 {
		return "", fmt.Errorf("bad line %q", line)
	}
	line = line[:len(line)-2]
	switch line[0] {
	case '+', '-', ':':
		return line, nil
	}
	n, err := strconv.Atoi(line[1:])
	if err != nil {
		return "", err
	}
	switch {
	case n < 0 && line[0] == '$':
		return "(nil)", nil
	case n < 0 && line[0] == '*':
		return "(nil array)", nil
	case line[0] == '$':
		b := make([]byte, n+2)
		if _, err := io.ReadFull(br, b); err != nil {
			return "", err
		}
		return strconv.Quote(string(b[:n])), nil
	case line[0] == '*':
		parts := make([]string, n)
		for i := range parts {
			if parts[i], err = readReply(br); err != nil {
				return "", err
			}
		}
		return "[" + strings.Join(parts, " ") + "]", nil
	}
	return "", fmt.Errorf("unknown reply type %q", line)
}

func expect(t testing.TB, got, want string) {
	t.Helper()
	if got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func expectPrefix(t testing.TB, got, want string) {
	t.Helper()
	if !strings.HasPrefix(got, want) {
		t.Fatalf("got %s, want it to start with %s", got, want)
	}
}

func TestCommands(t *testing.T) {
	t.Parallel()
	c := dial(t, startServer(t, Config{}))
	expect(t, c.do("PING"), "+PONG")
	expect(t, c.do("ping", "hi"), `"hi"`)
	expect(t, c.do("ECHO", "a\r\nb"), `"a\r\nb"`)
	expect(t, c.do("GET", "k"), "(nil)")
	expect(t, c.do("SET", "k", "v1"), "+OK")
	expect(t, c.do("get", "k"), `"v1"`)
	expect(t, c.do("SET", "k", ""), "+OK")
	expect(t, c.do("GET", "k"), `""`)
	expect(t, c.do("SET", "bin", "\x00\xff\r\n"), "+OK")
	expect(t, c.do("GET", "bin"), strconv.Quote("\x00\xff\r\n"))
	expect(t, c.do("MSET", "a", "1", "b", "2"), "+OK")
	expect(t, c.do("MGET", "a", "nope", "b"), `["1" (nil) "2"]`)
	expect(t, c.do("EXISTS", "a", "nope", "a"), ":2")
	expect(t, c.do("DEL", "a", "nope", "a", "b"), ":2")
	expect(t, c.do("DEL", "a"), ":0")
	expect(t, c.do("MGET", "a", "b"), `[(nil) (nil)]`)
	expect(t, c.do("SELECT", "0"), "+OK")
	expect(t, c.do("CLIENT", "SETNAME", "me"), "+OK")
	expect(t, c.do("CLIENT", "GETNAME"), `"me"`)
	expect(t, c.do("CLIENT", "SETINFO", "LIB-NAME", "x"), "+OK")
	expect(t, c.do("CONFIG", "GET", "save"), `["save" ""]`)
	expect(t, c.do("CONFIG", "GET", "appendonly"), `["appendonly" "yes"]`)
	expect(t, c.do("CONFIG", "GET", "nothing"), `[]`)
	expect(t, c.do("COMMAND", "COUNT"), ":"+strconv.Itoa(len(commands)))
	expectPrefix(t, c.do("COMMAND", "INFO", "get", "nope"), `[["get" :2 [+readonly +fast] :1 :1 :1 [] [] [] []] (nil array)]`)
	expectPrefix(t, c.do("COMMAND", "DOCS", "set"), `["set" ["summary" `)
	expectPrefix(t, c.do("COMMAND"), "[[")
	expect(t, c.do("HELLO", "2")[:20], `["server" "redis" "v`)
	expect(t, c.do("GRAFO.CONSISTENCY"), `"default"`)
	expect(t, c.do("GRAFO.CONSISTENCY", "all"), "+OK")
	expect(t, c.do("SET", "k", "v2"), "+OK")
	expect(t, c.do("GET", "k"), `"v2"`)
	expect(t, c.do("GRAFO.CONSISTENCY", "linearizable"), "+OK")
	expect(t, c.do("GET", "k"), `"v2"`)
	expect(t, c.do("GRAFO.CONSISTENCY"), `"linearizable"`)
	expect(t, c.do("QUIT"), "+OK")
	if _, err := c.br.ReadByte(); err != io.EOF {
		t.Fatalf("after QUIT: %v, want EOF", err)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	c := dial(t, startServer(t, Config{}))
	expect(t, c.do("FLUSHALL"), "-ERR unknown command 'FLUSHALL', with args beginning with: ")
	expect(t, c.do("foo", "a", "b"), "-ERR unknown command 'foo', with args beginning with: 'a' 'b' ")
	expect(t, c.do("GET"), "-ERR wrong number of arguments for 'get' command")
	expect(t, c.do("GET", "a", "b"), "-ERR wrong number of arguments for 'get' command")
	expect(t, c.do("MSET", "a", "1", "b"), "-ERR wrong number of arguments for 'mset' command")
	for _, opt := range []string{"NX", "xx", "EX", "PX", "KEEPTTL", "GET"} {
		expectPrefix(t, c.do("SET", "k", "v", opt, "10"), "-ERR SET option '"+strings.ToUpper(opt)+"' is not supported")
	}
	expect(t, c.do("GET", "k"), "(nil)") // nothing was written
	expect(t, c.do("SELECT", "1"), "-ERR DB index is out of range (Grafo has one database, 0)")
	expectPrefix(t, c.do("HELLO", "3"), "-NOPROTO ")
	expectPrefix(t, c.do("HELLO", "x"), "-ERR Protocol version")
	expectPrefix(t, c.do("AUTH", "whatever"), "-ERR AUTH <password> called without any password configured")
	expectPrefix(t, c.do("GRAFO.CONSISTENCY", "most"), "-ERR invalid consistency: unknown level \"most\"")
	expectPrefix(t, c.do("CONFIG", "SET", "save", ""), "-ERR CONFIG SET is not supported")
	expect(t, c.do("SET", "", "v"), "-ERR empty key")

	big := strings.Repeat("x", kv.MaxPairSize)
	expect(t, c.do("SET", "k", big), "-ERR value too large: key + value exceed 10240 bytes")
	expect(t, c.do("MSET", "a", "1", "k", big), "-ERR value too large: key + value exceed 10240 bytes")
	expect(t, c.do("MGET", "a", "k"), "[(nil) (nil)]") // MSET refused as a whole
	expect(t, c.do("SET", "k", big[:kv.MaxPairSize-1]), "+OK")
	expect(t, c.do("GET", "k"), strconv.Quote(big[:kv.MaxPairSize-1]))
	expect(t, c.do("PING"), "+PONG") // the connection survived all of it
}

func TestErrorReply(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("%w: quorum not reached: 1 of 2 required acks (replicas: n1 ok, n2 down)", kv.ErrUnavailable),
			"UNAVAILABLE quorum not reached: 1 of 2 required acks (replicas: n1 ok, n2 down)"},
		{fmt.Errorf("engine: %w", kv.ErrTooLarge), "ERR value too large: key + value exceed 10240 bytes"},
		{kv.ErrClosed, "UNAVAILABLE the store is closed (node shutting down)"},
		{fmt.Errorf("%w: w=5 is outside 1..3", kv.ErrInvalidConsistency), "ERR invalid consistency: w=5 is outside 1..3"},
		{errors.New("disk on fire"), "ERR internal error: disk on fire"},
	} {
		if got := errorReply(tc.err); got != tc.want {
			t.Errorf("errorReply(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
	// An error message with line breaks must not break the framing.
	var b strings.Builder
	bw := bufio.NewWriter(&b)
	(&writer{bw: bw}).err("ERR a\r\nb")
	bw.Flush()
	expect(t, b.String(), "-ERR a  b\r\n")
}

func TestPipelining(t *testing.T) {
	t.Parallel()
	c := dial(t, startServer(t, Config{}))
	const n = 500
	var b strings.Builder
	for i := range n {
		b.WriteString(encode("SET", fmt.Sprintf("key%d", i), fmt.Sprintf("value%d", i)))
		b.WriteString(encode("GET", fmt.Sprintf("key%d", i)))
	}
	b.WriteString("PING\r\n") // inline commands mix with multibulk ones
	// Write from another goroutine: the server answers while we send.
	go io.WriteString(c.nc, b.String())
	for i := range n {
		expect(t, c.reply(), "+OK")
		expect(t, c.reply(), strconv.Quote(fmt.Sprintf("value%d", i)))
	}
	expect(t, c.reply(), "+PONG")
}

func TestInline(t *testing.T) {
	t.Parallel()
	c := dial(t, startServer(t, Config{}))
	c.send("SET k \"a b\\r\\n\\x41\"\r\n\r\nGET k\n  set 'it\\'s' x \r\n")
	expect(t, c.reply(), "+OK")
	expect(t, c.reply(), strconv.Quote("a b\r\nA"))
	expect(t, c.reply(), "+OK")
	expect(t, c.do("GET", "it's"), `"x"`)
	c.send("GET \"unbalanced\r\n")
	expect(t, c.reply(), "-ERR Protocol error: unbalanced quotes in request")
}

func TestAuth(t *testing.T) {
	t.Parallel()
	tokens, err := auth.Parse(strings.NewReader("reader-token read\nwriter-token write\nscoped-token write g1,g2\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, Config{Tokens: tokens})

	c := dial(t, s)
	expect(t, c.do("PING"), "+PONG")
	for _, cmd := range [][]string{{"GET", "k"}, {"SET", "k", "v"}, {"INFO"}, {"SELECT", "0"}, {"MGET", "k"}, {"GRAFO.CONSISTENCY", "one"}} {
		expect(t, c.do(cmd...), "-NOAUTH Authentication required.")
	}
	expectPrefix(t, c.do("HELLO", "2"), "-NOAUTH HELLO must be called")
	expect(t, c.do("AUTH", "wrong-token"), "-WRONGPASS invalid username-password pair or user is disabled.")
	expect(t, c.do("GET", "k"), "-NOAUTH Authentication required.")
	expect(t, c.do("AUTH", "default", "writer-token"), "+OK")
	expect(t, c.do("SET", "k", "v"), "+OK")
	expect(t, c.do("DEL", "gone"), ":0")

	r := dial(t, s)
	expect(t, r.do("AUTH", "reader-token"), "+OK")
	expect(t, r.do("GET", "k"), `"v"`)
	expect(t, r.do("MGET", "k", "x"), `["v" (nil)]`)
	expect(t, r.do("EXISTS", "k"), ":1")
	expect(t, r.do("SET", "k", "w"), "-NOPERM token role read cannot run 'set' (needs write)")
	expect(t, r.do("DEL", "k"), "-NOPERM token role read cannot run 'del' (needs write)")
	expect(t, r.do("MSET", "k", "w"), "-NOPERM token role read cannot run 'mset' (needs write)")
	expectPrefix(t, r.do("INFO", "server"), `"# Server`)
	// A failed AUTH keeps the earlier identity, as in Redis.
	expectPrefix(t, r.do("AUTH", "nope-nope"), "-WRONGPASS")
	expect(t, r.do("GET", "k"), `"v"`)

	h := dial(t, s)
	expectPrefix(t, h.do("HELLO", "3", "AUTH", "default", "writer-token"), "-NOPROTO")
	expect(t, h.do("GET", "k"), "-NOAUTH Authentication required.")
	expectPrefix(t, h.do("HELLO", "2", "AUTH", "default", "writer-token", "SETNAME", "x"), `["server" "redis"`)
	expect(t, h.do("SET", "k", "w"), "+OK")
	expect(t, h.do("CLIENT", "GETNAME"), `"x"`)

	g := dial(t, s)
	expect(t, g.do("AUTH", "scoped-token"), "+OK")
	expectPrefix(t, g.do("GET", "k"), "-NOPERM token is limited to graphs")
	// Listing raw keys is refused to scoped tokens as reading them is (GET
	// /v1/kv does the same); the read role may scan.
	expectPrefix(t, g.do("SCAN", "0"), "-NOPERM token is limited to graphs")
	expect(t, r.do("SCAN", "0"), `["0" ["k"]]`)
}

func TestLimits(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{MaxBulk: 64, MaxArgs: 4, MaxRequest: 100, MaxConns: 2})
	c := dial(t, s)
	expect(t, c.do("SET", "k", strings.Repeat("v", 64)), "+OK")
	expect(t, c.do("SET", "k", strings.Repeat("v", 65)), "-ERR Protocol error: bulk length 65 exceeds the limit of 64 bytes")
	if _, err := c.br.ReadByte(); err != io.EOF {
		t.Fatalf("after a protocol error: %v, want the connection closed", err)
	}

	c = dial(t, s)
	expect(t, c.do("MGET", "a", "b", "c"), "[(nil) (nil) (nil)]")
	// The limit holds before the arguments are sent: only the header goes out.
	c.send("*5\r\n")
	expect(t, c.reply(), "-ERR Protocol error: 5 arguments exceed the limit of 4")

	c = dial(t, s)
	expect(t, c.do("MSET", strings.Repeat("a", 40), "1", strings.Repeat("b", 60)), "-ERR Protocol error: request exceeds the limit of 100 bytes")

	for _, tc := range []struct{ send, want string }{
		{"*2\r\n$3\r\nGET\r\n$-5\r\n", "-ERR Protocol error: invalid bulk length"},
		{"*1\r\n:3\r\n", "-ERR Protocol error: expected '$', got ':'"},
		{"*x\r\n", "-ERR Protocol error: invalid multibulk length"},
		{"*1\r\n$4\r\nPINGxx", "-ERR Protocol error: bulk string not terminated by CRLF"},
		{strings.Repeat("x", 20<<10) + "\r\n", "-ERR Protocol error: too big inline request"},
	} {
		c = dial(t, s)
		c.send(tc.send)
		expect(t, c.reply(), tc.want)
	}

	// MaxConns: two connections are served, the third is refused. The
	// server closed every connection above; wait until it has counted so.
	testutil.WaitFor(t, 10*time.Second, "every connection to close", func() bool { return s.nconns.Load() == 0 })
	a, b := dial(t, s), dial(t, s)
	expect(t, a.do("PING"), "+PONG")
	expect(t, b.do("PING"), "+PONG")
	over := dial(t, s)
	expect(t, over.reply(), "-ERR max number of clients reached (limit 2)")
	if _, err := over.br.ReadByte(); err != io.EOF {
		t.Fatalf("refused connection: %v, want EOF", err)
	}
	// Once one leaves, a new one gets in.
	expect(t, a.do("QUIT"), "+OK")
	a.br.ReadByte()
	testutil.WaitFor(t, 10*time.Second, "the QUIT connection to close", func() bool { return s.nconns.Load() < 2 })
	expect(t, dial(t, s).do("PING"), "+PONG")
}

func TestInfo(t *testing.T) {
	t.Parallel()
	s := startServer(t, Config{Info: func() InfoData {
		return InfoData{NodeID: "n1", Version: "v1.2.3", Replicas: 3, WriteQuorum: 2, ReadQuorum: 2, Leader: "n1", Keys: 42,
			Nodes: []NodeInfo{{"n1", "up", "127.0.0.1:7070"}, {"n2", "down", "127.0.0.1:7072"}}}
	}})
	c := dial(t, s)
	info := c.do("INFO")
	for _, want := range []string{"# Server", "redis_version:", "grafo_node_id:n1", "grafo_version:v1.2.3", "# Replication",
		"grafo_replicas:3", "grafo_write_quorum:2", "grafo_read_quorum:2", "grafo_node1:id=n2,state=down,addr=127.0.0.1:7072",
		"# Keyspace", "db0:keys=42,expires=0,avg_ttl=0", "connected_clients:1"} {
		if !strings.Contains(info, want) {
			t.Errorf("INFO lacks %q:\n%s", want, info)
		}
	}
	only := c.do("INFO", "keyspace")
	if strings.Contains(only, "# Server") || !strings.Contains(only, "# Keyspace") {
		t.Errorf("INFO keyspace = %s", only)
	}
}

func TestCloseWithOpenConnections(t *testing.T) {
	t.Parallel()
	s, err := NewServer(Config{Addr: "127.0.0.1:0", Store: kvtest.NewStore(t)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve() }()
	c := dial(t, s)
	expect(t, c.do("PING"), "+PONG")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := c.br.ReadByte(); err == nil {
		t.Fatal("connection still open after Close")
	}
}
