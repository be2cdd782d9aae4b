package lsp

import (
	"unicode/utf16"
	"unicode/utf8"
)

// Position encodings of LSP 3.17 (positionEncodings / offsetEncoding).
const (
	encUTF8  = "utf-8"
	encUTF16 = "utf-16"
	encUTF32 = "utf-32"
)

// chooseEncoding picks the encoding from the client's offer: UTF-32 needs
// no conversion (Grafo counts characters), UTF-8 is cheap, and UTF-16 is
// the default every client supports.
func chooseEncoding(offered []string) string {
	has := map[string]bool{}
	for _, e := range offered {
		has[e] = true
	}
	for _, e := range []string{encUTF32, encUTF8} {
		if has[e] {
			return e
		}
	}
	return encUTF16
}

// toChars converts an offset in enc units into a count of characters of
// line (clamped to the line's length).
func toChars(line, enc string, off int) int {
	if enc == encUTF32 {
		return off
	}
	units, chars := 0, 0
	for _, r := range line {
		if units >= off {
			break
		}
		units += unitLen(r, enc)
		chars++
	}
	if units < off {
		chars += off - units // past the end (or no line text): keep the excess
	}
	return chars
}

// fromChars converts a count of characters of line into an offset in enc
// units; characters past the line's end count one unit each.
func fromChars(line, enc string, chars int) int {
	if enc == encUTF32 {
		return chars
	}
	units, n := 0, 0
	for _, r := range line {
		if n >= chars {
			return units
		}
		units += unitLen(r, enc)
		n++
	}
	return units + chars - n
}

func unitLen(r rune, enc string) int {
	if enc == encUTF8 {
		return utf8.RuneLen(r)
	}
	if utf16.IsSurrogate(r) || r > 0xFFFF {
		return 2
	}
	return 1
}
