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
	units, chars := walkUnits(line, enc, func(units, _ int) bool { return units >= off })
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
	units, n := walkUnits(line, enc, func(_, n int) bool { return n >= chars })
	return units + chars - n
}

// walkUnits counts line's characters and their enc units from the start
// until stop holds or the line ends.
func walkUnits(line, enc string, stop func(units, chars int) bool) (units, chars int) {
	for _, r := range line {
		if stop(units, chars) {
			break
		}
		units += unitLen(r, enc)
		chars++
	}
	return units, chars
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
