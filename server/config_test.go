package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateRefusesOpenPorts: every port reachable from other machines
// needs its own protection — tokens for --http and --resp, a secret or
// certificates for --cluster (tokens do not cover it) — unless --insecure.
// Before, a non-loopback --resp or --cluster was accepted as is.
func TestValidateRefusesOpenPorts(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // "" = valid
	}{
		{"defaults", Config{}, ""},
		{"open resp without tokens", Config{RESPAddr: "0.0.0.0:6379"}, "--resp 0.0.0.0:6379 is reachable"},
		{"open resp with tokens", Config{RESPAddr: "0.0.0.0:6379", TokensFile: "t"}, ""},
		{"loopback resp without tokens", Config{RESPAddr: "127.0.0.1:6379"}, ""},
		{"open cluster without secret", Config{ClusterAddr: "0.0.0.0:7071"}, "--cluster 0.0.0.0:7071 is reachable"},
		{"open cluster, tokens but no secret", Config{ClusterAddr: ":7071", HTTPAddr: "0.0.0.0:7070", TokensFile: "t"}, "neither --cluster-secret nor --tls-*"},
		{"open cluster with secret", Config{ClusterAddr: "0.0.0.0:7071", ClusterSecret: "s"}, ""},
		{"open cluster with certificates", Config{ClusterAddr: "0.0.0.0:7071", TLSCert: "c", TLSKey: "k", TLSCA: "a"}, ""},
		{"everything open, insecure", Config{ClusterAddr: "0.0.0.0:7071", HTTPAddr: "0.0.0.0:7070", RESPAddr: "0.0.0.0:6379", Insecure: true}, ""},
	} {
		err := tc.cfg.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "--insecure")):
			t.Errorf("%s: %v, want an error with %q naming --insecure", tc.name, err, tc.want)
		}
	}
}

// --replace takes the replaced node's id, needs --join, and an empty data
// directory.
func TestValidateReplace(t *testing.T) {
	used := t.TempDir()
	if err := os.WriteFile(filepath.Join(used, "data.db"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	join := []string{"127.0.0.1:7071"}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // "" = valid
	}{
		{"replacement", Config{NodeID: "n2", Replace: "n2", Join: join, DataDir: t.TempDir()}, ""},
		{"other id", Config{NodeID: "n5", Replace: "n2", Join: join, DataDir: t.TempDir()}, `takes over that node's id; --node-id is "n5"`},
		{"no join", Config{NodeID: "n2", Replace: "n2", DataDir: t.TempDir()}, "--replace needs --join"},
		{"data present", Config{NodeID: "n2", Replace: "n2", Join: join, DataDir: used}, "needs an empty data directory"},
	} {
		err := tc.cfg.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}
