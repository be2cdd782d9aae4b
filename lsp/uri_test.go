package lsp

import "testing"

func TestFilePath(t *testing.T) {
	for u, want := range map[string]string{
		"file:///tmp/a%20b/x.go": "/tmp/a b/x.go",
		"file:///tmp/Größe.go":   "/tmp/Größe.go",
	} {
		if got, err := filePath(u); err != nil || got != want {
			t.Errorf("filePath(%q) = %q, %v; want %q", u, got, err, want)
		}
	}
	// An editor's unsaved buffer names no file: an error, not a panic.
	if _, err := filePath("untitled:Untitled-1"); err == nil {
		t.Error("filePath(untitled:…) succeeded")
	}
}
