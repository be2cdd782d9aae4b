package lsp

import "testing"

func TestEncodings(t *testing.T) {
	// "é" is 2 UTF-8 bytes and 1 UTF-16 unit; "😀" is 4 bytes, 2 units.
	line := `x := "é😀"; Count = 1`
	// Count starts after 11 characters.
	for _, c := range []struct {
		enc   string
		units int
	}{{encUTF8, 15}, {encUTF16, 12}, {encUTF32, 11}} {
		if got := fromChars(line, c.enc, 11); got != c.units {
			t.Errorf("%s: fromChars(11) = %d, want %d", c.enc, got, c.units)
		}
		if got := toChars(line, c.enc, c.units); got != 11 {
			t.Errorf("%s: toChars(%d) = %d, want 11", c.enc, c.units, got)
		}
	}
	if got := fromChars("ab", encUTF16, 5); got != 5 {
		t.Errorf("past the end: %d", got)
	}
	if got := toChars("", encUTF16, 7); got != 7 {
		t.Errorf("no line text: %d", got)
	}
	if got := chooseEncoding([]string{"utf-16", "utf-8"}); got != encUTF8 {
		t.Errorf("chooseEncoding = %s", got)
	}
	if got := chooseEncoding(nil); got != encUTF16 {
		t.Errorf("chooseEncoding(nil) = %s", got)
	}
}
