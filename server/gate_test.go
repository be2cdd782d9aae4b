package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grafo/grafo/internal/testutil"
	"github.com/grafo/grafo/kv"
	"github.com/grafo/grafo/kv/client"
)

func testConfig(t *testing.T, id string, logs io.Writer) Config {
	return Config{
		NodeID: id, DataDir: filepath.Join(t.TempDir(), id), HTTPAddr: testutil.FreeAddr(t), ClusterAddr: testutil.FreeAddr(t),
		Heartbeat: 100 * time.Millisecond, AntiEntropy: -1,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
}

// get answers status and body of GET url, failing the test when no answer
// comes within 2 s (a waiting node used to accept and never answer).
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	hc := &http.Client{Timeout: 2 * time.Second}
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A node waiting to join answers every route at once with 503 and why;
// its failed attempts are logged at info with the cause; once admitted it
// serves; once it has left it says it is no longer a member. Neither node
// logs an ERROR on a clean shutdown.
func TestWaitingNodeAnswersWhy(t *testing.T) {
	ctx := context.Background()
	var seedLogs, logs testutil.Buffer
	seed, err := Start(ctx, testConfig(t, "n1", &seedLogs))
	if err != nil {
		t.Fatal(err)
	}
	defer seed.Close(ctx)

	nowhere := testutil.FreeAddr(t)
	cfg := testConfig(t, "n2", &logs)
	cfg.Join = []string{nowhere}
	type started struct {
		n   *Node
		err error
	}
	done := make(chan started, 1)
	go func() { n, err := Start(ctx, cfg); done <- started{n, err} }()
	base := "http://" + cfg.HTTPAddr

	testutil.WaitFor(t, 20*time.Second, "the waiting node to name the cause", func() bool {
		c, err := net.DialTimeout("tcp", cfg.HTTPAddr, time.Second)
		if err != nil {
			return false
		}
		c.Close()
		code, body := get(t, base+"/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "refused")
	})
	checkWaitingAnswers(t, base, nowhere, &logs)

	admin := client.New("http://" + seed.HTTPAddr())
	if err := admin.Join(ctx, cfg.ClusterAddr); err != nil {
		t.Fatalf("admit: %v", err)
	}
	var n2 *Node
	select {
	case s := <-done:
		if s.err != nil {
			t.Fatalf("joining node: %v", s.err)
		}
		n2 = s.n
	case <-time.After(30 * time.Second):
		t.Fatalf("admitted node did not start\n%s", logs.String())
	}
	defer n2.Close(ctx)
	testutil.WaitFor(t, 20*time.Second, "the admitted node to be ready", func() bool {
		code, _ := get(t, base+"/readyz")
		return code == http.StatusOK
	})

	// Leave only once it is up: a leave while it still joins races its own
	// Joining→Up step.
	testutil.WaitFor(t, 20*time.Second, "both nodes up", func() bool {
		st, err := admin.Cluster(ctx)
		up := 0
		for _, nd := range st.Nodes {
			if nd.State == "up" {
				up++
			}
		}
		return err == nil && up == 2
	})
	if err := admin.Leave(ctx, "n2"); err != nil {
		t.Fatalf("leave: %v", err)
	}
	defer func() {
		if t.Failed() {
			t.Logf("n2 state: %+v\nn2 logs:\n%s", n2.cluster.State(), logs.String())
		}
	}()
	testutil.WaitFor(t, 30*time.Second, "the node that left to say so", func() bool {
		code, body := get(t, base+"/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "no longer a member")
	})
	if code, body := get(t, base+"/v1/kv/k"); code != http.StatusServiceUnavailable || !strings.Contains(body, "no longer a member") ||
		!strings.Contains(body, `"code":"not_member"`) {
		t.Errorf("GET /v1/kv/k after leaving: %d %s", code, body)
	}
	// A client tells "left" from any other unavailability by the code, and
	// code that retries on unavailability still sees one.
	if _, err := client.New(base).Cluster(ctx); !errors.Is(err, kv.ErrNotMember) || !errors.Is(err, kv.ErrUnavailable) {
		t.Errorf("client after leaving: %v, want kv.ErrNotMember (a kv.ErrUnavailable)", err)
	}

	if err := n2.Close(ctx); err != nil {
		t.Errorf("close n2: %v", err)
	}
	if err := seed.Close(ctx); err != nil {
		t.Errorf("close n1: %v", err)
	}
	for name, l := range map[string]string{"n1": seedLogs.String(), "n2": logs.String()} {
		if strings.Contains(l, "level=ERROR") {
			t.Errorf("%s logged an ERROR:\n%s", name, l)
		}
	}
}

// checkWaitingAnswers: every route of a node waiting to join answers 503
// with the address it waits for, and its log says why at info.
func checkWaitingAnswers(t *testing.T, base, nowhere string, logs *testutil.Buffer) {
	t.Helper()
	for _, path := range []string{"/readyz", "/healthz", "/v1/cluster", "/v1/kv/k", "/", "/graphql"} {
		code, body := get(t, base+path)
		if code != http.StatusServiceUnavailable || !strings.Contains(body, `"code":"unavailable"`) ||
			!strings.Contains(body, "waiting to join "+nowhere+": ") {
			t.Errorf("GET %s while waiting: %d %s", path, code, body)
		}
	}
	testutil.WaitFor(t, 10*time.Second, "the failed attempt in the log", func() bool {
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, "level=INFO") && strings.Contains(l, "join attempt failed") && strings.Contains(l, nowhere) && strings.Contains(l, "refused") {
				return true
			}
		}
		return false
	})
}
