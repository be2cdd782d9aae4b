package kv

import (
	"errors"
	"fmt"
	"testing"
)

func TestCodes(t *testing.T) {
	t.Parallel()
	other := errors.New("other")
	codes := Codes[string]{{Code: "nf", Err: ErrNotFound}, {Code: "u1", Err: ErrUnavailable}, {Code: "u2", Err: ErrUnavailable}}
	if c, ok := codes.Code(fmt.Errorf("get k: %w", ErrNotFound)); !ok || c != "nf" {
		t.Fatalf("wrapped not found: %q, %v", c, ok)
	}
	if c, ok := codes.Code(fmt.Errorf("%w: 1 of 2", ErrUnavailable)); !ok || c != "u1" {
		t.Fatalf("first match should win: %q, %v", c, ok)
	}
	if c, ok := codes.Code(other); ok || c != "" {
		t.Fatalf("unknown error: %q, %v", c, ok)
	}
	if codes.Err("u2") != ErrUnavailable || codes.Err("nope") != nil {
		t.Fatal("Err does not invert Code")
	}
}
