package msnclient

import (
	"unicode/utf8"
)

// maxPayload is the largest MSG payload a switchboard accepts (Escargot
// disconnects above it).
const maxPayload = 1664

// splitText cuts text (valid UTF-8) into parts of at most limit bytes each.
// Cuts fall on rune boundaries, never inside a CRLF pair, and preferably just
// after a space or line break in the last quarter of a part.
func splitText(text string, limit int) []string {
	if limit < utf8.UTFMax+1 {
		limit = utf8.UTFMax + 1
	}
	var parts []string
	for len(text) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		if text[cut-1] == '\r' && text[cut] == '\n' {
			cut--
		}
		if ws := lastBreak(text[:cut], cut-limit/4); ws > 0 {
			cut = ws
		}
		parts = append(parts, text[:cut])
		text = text[cut:]
	}
	if text != "" || len(parts) == 0 {
		parts = append(parts, text)
	}
	return parts
}

// lastBreak returns the index just after the last space or LF in s at or
// after min, or -1.
func lastBreak(s string, min int) int {
	if min < 1 {
		min = 1
	}
	for i := len(s) - 1; i >= min-1 && i >= 0; i-- {
		if s[i] == ' ' || s[i] == '\n' {
			return i + 1
		}
	}
	return -1
}
