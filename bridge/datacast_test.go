package bridge

import (
	"strings"
	"testing"
)

// TestActionText: the text of an action message is its Data field, on one
// line, valid UTF-8 and bounded; a body without it gives nothing.
func TestActionText(t *testing.T) {
	for body, want := range map[string]string{
		"ID: 4\r\nData: dances around\r\n\r\n":                 "dances around",
		"ID: 4\r\ndata:  waves \r\n":                           "waves",
		"ID: 4\r\nData: bad \xff byte\r\n":                     "bad \uFFFD byte",
		"ID: 4\r\n\r\n":                                        "",
		"ID: 4\r\nData: " + strings.Repeat("x", 2000) + "\r\n": strings.Repeat("x", maxActionRunes) + "…",
	} {
		if got := actionText([]byte(body)); got != want {
			t.Errorf("actionText(%q) = %q, want %q", body, got, want)
		}
	}
}
