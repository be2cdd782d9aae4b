package auth

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTokens(t *testing.T) {
	t.Parallel()
	tk, err := Parse(strings.NewReader(`
# comment
reader-token-1 read
writer-token-1 write teamA,teamB
admin-token-01 admin
`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tk.Check("nope-nope"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("unknown token: %v", err)
	}
	if _, err := tk.Check(""); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("empty token: %v", err)
	}
	r, _ := tk.Check("reader-token-1")
	if err := r.Require(Write, ""); !errors.Is(err, ErrForbidden) {
		t.Fatalf("read token writing: %v", err)
	}
	if err := r.Require(Read, "any"); err != nil {
		t.Fatalf("read token reading: %v", err)
	}
	w, _ := tk.Check("writer-token-1")
	if err := w.Require(Write, "teamA"); err != nil {
		t.Fatal(err)
	}
	if err := w.Require(Read, "teamC"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("scoped token on another graph: %v", err)
	}
	if err := w.Require(Admin, ""); !errors.Is(err, ErrForbidden) {
		t.Fatalf("write token doing admin: %v", err)
	}
	a, _ := tk.Check("admin-token-01")
	if err := a.Require(Admin, "x"); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(a.ID, "admin") || len(a.ID) != 8 {
		t.Fatalf("fingerprint %q leaks or is malformed", a.ID)
	}
	var off *Tokens
	if p, err := off.Check(""); err != nil || p.Role != Admin {
		t.Fatalf("auth off: %v %v", p, err)
	}
	for _, bad := range []string{"tok read", "longtoken1 superuser", "a b c d"} {
		if _, err := Parse(strings.NewReader(bad)); err == nil {
			t.Fatalf("%q parsed", bad)
		}
	}
	if got := BearerToken("Bearer abc.def"); got != "abc.def" {
		t.Fatalf("bearer: %q", got)
	}
}

// A token listed twice is refused with the file and both lines: which
// line's role and graphs would apply was silently the last one's.
func TestDuplicateTokenRefused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte("# tokens\nsame-token-1 read teamA\nother-token write\nsame-token-1 admin\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path+":4: duplicate token (first on line 2)") {
		t.Fatalf("Load: %v", err)
	}
	if strings.Contains(err.Error(), "same-token-1") {
		t.Fatalf("the error shows the token: %v", err)
	}
}
