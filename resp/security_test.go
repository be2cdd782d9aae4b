package resp

import (
	"io"
	"math/rand/v2"
	"net"
	"path"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/grafo/grafo/auth"
	"github.com/grafo/grafo/internal/testutil"
)

func testTokens(t testing.TB) *auth.Tokens {
	t.Helper()
	tokens, err := auth.Parse(strings.NewReader("writer-token write\n"))
	if err != nil {
		t.Fatal(err)
	}
	return tokens
}

// expectClosed reads what is left on c and fails unless the server closed
// the connection without sending anything more.
func expectClosed(t testing.TB, c *client) {
	t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	rest, err := io.ReadAll(c.br)
	if err != nil {
		t.Fatalf("connection not closed by the server: %v (after %q)", err, rest)
	}
	if len(rest) > 0 {
		t.Fatalf("server answered %q, want the connection closed without an answer", rest)
	}
}

// TestGlobMatch checks the CONFIG GET matcher against path.Match, which
// agrees with it on patterns of letters, * and ?, and that a pattern of
// thousands of stars is answered at once (the old recursive matcher was
// exponential in the number of stars).
func TestGlobMatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := "ab*?"
	for range 20000 {
		pat := make([]byte, rng.IntN(8))
		for i := range pat {
			pat[i] = alphabet[rng.IntN(len(alphabet))]
		}
		s := make([]byte, rng.IntN(7))
		for i := range s {
			s[i] = "ab"[rng.IntN(2)]
		}
		want, _ := path.Match(string(pat), string(s))
		if got := globMatch(string(pat), string(s)); got != want {
			t.Fatalf("globMatch(%q, %q) = %v, path.Match says %v", pat, s, got, want)
		}
	}
	// Redis's classes and escapes (SCAN MATCH).
	for _, tc := range []struct {
		pat, s string
		want   bool
	}{
		{"[abc]x", "bx", true}, {"[abc]x", "dx", false}, {"[^abc]x", "dx", true}, {"[^abc]x", "ax", false},
		{"k[0-9]", "k7", true}, {"k[9-0]", "k7", true}, {"k[0-9]", "kx", false}, {`a\*b`, "a*b", true},
		{`a\*b`, "axb", false}, {`[\]]`, "]", true}, {"[ab", "a", true}, {"*[xy]?", "zzyq", true},
	} {
		if got := globMatch(tc.pat, tc.s); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tc.pat, tc.s, got, tc.want)
		}
	}
	start := time.Now()
	if globMatch(strings.Repeat("*", 100000)+"!", "proto-max-bulk-len") {
		t.Fatal("matched a pattern ending in !")
	}
	if !globMatch(strings.Repeat("*?", 9), "proto-max-bulk-len") {
		t.Fatal("*? ×9 does not match an 18-byte name")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("100000 stars took %v", d)
	}
}

// TestHTTPRequestClosed is the cross-protocol attack: a web page makes
// the browser POST text/plain to the RESP port of a node without tokens,
// hoping the body's lines run as commands. The connection must close at
// the request line (or at a Host: line), before any of them runs.
func TestHTTPRequestClosed(t *testing.T) {
	s := startServer(t, Config{})
	for _, req := range []string{
		"POST / HTTP/1.1\r\nHost: 127.0.0.1:6379\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n\r\nSET pwned yes\r\n",
		// A GET request line is three words GET answers with an error;
		// the Host: line right after it must still close.
		"GET / HTTP/1.1\r\nHost: 127.0.0.1:6379\r\n\r\nSET pwned yes\r\n",
	} {
		c := dial(t, s)
		c.send(req)
		if strings.HasPrefix(req, "GET") {
			expectPrefix(t, c.reply(), "-ERR wrong number of arguments for 'get'")
		}
		expectClosed(t, c)
	}
	expect(t, dial(t, s).do("GET", "pwned"), "(nil)")
}

// TestPreAuthLimits: before AUTH, a header announcing a large argument
// is refused from the header alone, and the connection closed; after AUTH
// the configured limits apply again.
func TestPreAuthLimits(t *testing.T) {
	s := startServer(t, Config{Tokens: testTokens(t)})
	c := dial(t, s)
	c.send("*1\r\n$524288\r\n")
	expect(t, c.reply(), "-ERR Protocol error: bulk length 524288 exceeds the limit of 1024 bytes")
	expectClosed(t, c)

	c = dial(t, s)
	c.send("*100\r\n")
	expect(t, c.reply(), "-ERR Protocol error: 100 arguments exceed the limit of 8")
	expectClosed(t, c)

	c = dial(t, s)
	c.send(strings.Repeat("x", 3<<10) + "\r\n")
	expect(t, c.reply(), "-ERR Protocol error: too big inline request")

	c = dial(t, s)
	expect(t, c.do("AUTH", "writer-token"), "+OK")
	expect(t, c.do("SET", "k", strings.Repeat("v", 5000)), "+OK")
	expect(t, c.do("GET", "k"), `"`+strings.Repeat("v", 5000)+`"`)
	expect(t, c.do("MGET", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j"), "[(nil) (nil) (nil) (nil) (nil) (nil) (nil) (nil) (nil) (nil)]")
}

// TestAuthTimeout: a connection that does not authenticate in time is
// told so and closed; one that did stays open past the deadline.
func TestAuthTimeout(t *testing.T) {
	// Long enough that the other connection's AUTH surely arrives in
	// time on a loaded machine.
	s := startServer(t, Config{Tokens: testTokens(t), AuthTimeout: 2 * time.Second})
	idle := dial(t, s)
	authed := dial(t, s)
	expect(t, authed.do("AUTH", "writer-token"), "+OK")
	start := time.Now()
	expect(t, idle.reply(), "-ERR authentication timeout: AUTH must come within 2s")
	expectClosed(t, idle)
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("closed after %v", d)
	}
	// authed was accepted just after idle: half a second on, its own
	// deadline has passed too, had AUTH not lifted it.
	time.Sleep(500 * time.Millisecond)
	expect(t, authed.do("PING"), "+PONG")
}

// TestUnauthBudget: unauthenticated connections have a budget of their
// own; over it they are refused, and a connection that authenticates
// frees its slot.
func TestUnauthBudget(t *testing.T) {
	s := startServer(t, Config{Tokens: testTokens(t), MaxUnauthConns: 2})
	a, b := dial(t, s), dial(t, s)
	expect(t, a.do("PING"), "+PONG")
	expect(t, b.do("PING"), "+PONG")
	over := dial(t, s)
	expect(t, over.reply(), "-ERR max number of unauthenticated clients reached (limit 2)")
	expectClosed(t, over)
	expect(t, a.do("AUTH", "writer-token"), "+OK")
	testutil.WaitFor(t, 10*time.Second, "one unauthenticated connection left", func() bool { return s.unauth.Load() == 1 })
	c := dial(t, s)
	expect(t, c.do("PING"), "+PONG")
	expect(t, a.do("SET", "k", "v"), "+OK")
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime(t testing.TB) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// budget runs attack and fails unless the whole process (server and
// client) spent under 50 ms of CPU and allocated under 10 MB on it.
// Allocation is exact (runtime.MemStats.TotalAlloc counts every byte);
// CPU time is process time rather than wall time, so other processes
// on a loaded machine do not count, and the best of three runs is
// taken, so a GC cycle or a scheduler hiccup in one run does not either.
func budget(t *testing.T, name string, attack func()) {
	t.Helper()
	const maxCPU, maxAlloc = 50 * time.Millisecond, 10 << 20
	best := time.Duration(1<<63 - 1)
	var ms runtime.MemStats
	for range 3 {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		alloc0, cpu0 := ms.TotalAlloc, cpuTime(t)
		attack()
		cpu := cpuTime(t) - cpu0
		runtime.ReadMemStats(&ms)
		alloc := ms.TotalAlloc - alloc0
		best = min(best, cpu)
		t.Logf("%s: %v CPU, %d bytes allocated", name, cpu, alloc)
		if alloc >= maxAlloc {
			t.Fatalf("%s: allocated %d bytes, budget %d", name, alloc, maxAlloc)
		}
	}
	if best >= maxCPU {
		t.Fatalf("%s: %v of CPU at best, budget %v", name, best, maxCPU)
	}
}

// TestDoSBudget holds each hostile RESP input of the red-team report to
// the budget: an exponential CONFIG GET pattern, and big bulk headers on
// many unauthenticated connections (each used to reserve 512 KiB).
func TestDoSBudget(t *testing.T) {
	s := startServer(t, Config{Tokens: testTokens(t)})
	c := dial(t, s)
	expect(t, c.do("AUTH", "writer-token"), "+OK")
	for _, stars := range []int{14, 5000} {
		pat := strings.Repeat("*", stars) + "!"
		budget(t, "CONFIG GET of "+strconv.Itoa(stars)+" stars and !", func() {
			expect(t, c.do("CONFIG", "GET", pat), "[]")
		})
	}

	// 24 × the old 512 KiB reservation is over the 10 MB budget.
	const conns = 24
	budget(t, "bulk headers of 512 KiB before AUTH on 24 connections", func() {
		cs := make([]net.Conn, conns)
		for i := range cs {
			nc, err := net.Dial("tcp", s.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.WriteString(nc, "*2\r\n$524288\r\n"); err != nil {
				t.Fatal(err)
			}
			cs[i] = nc
		}
		for _, nc := range cs {
			// Answered and closed: the error line, then EOF.
			b, err := io.ReadAll(nc)
			if err != nil || !strings.HasPrefix(string(b), "-ERR Protocol error: bulk length") {
				t.Fatalf("answer %q, %v", b, err)
			}
		}
	})
}
