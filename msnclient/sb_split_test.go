package msnclient

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSplitText(t *testing.T) {
	long := strings.Repeat("héllo wörld 日本語 ", 400) // multi-byte, with spaces
	noSpace := strings.Repeat("日本語テキスト", 300)
	crlf := strings.Repeat("ab\r\n", 1000)
	for name, text := range map[string]string{"words": long, "nospace": noSpace, "crlf": crlf, "short": "hi", "empty": ""} {
		for _, limit := range []int{5, 7, 100, 1500} {
			parts := splitText(text, limit)
			if strings.Join(parts, "") != text {
				t.Fatalf("%s/%d: parts do not join back to the text", name, limit)
			}
			for i, p := range parts {
				if len(p) > limit {
					t.Errorf("%s/%d: part %d is %d bytes", name, limit, i, len(p))
				}
				if !utf8.ValidString(p) {
					t.Errorf("%s/%d: part %d is not valid UTF-8", name, limit, i)
				}
				if strings.HasSuffix(p, "\r") && i+1 < len(parts) && strings.HasPrefix(parts[i+1], "\n") {
					t.Errorf("%s/%d: part %d splits a CRLF", name, limit, i)
				}
				if p == "" && len(parts) > 1 {
					t.Errorf("%s/%d: empty part %d", name, limit, i)
				}
			}
		}
	}
}

func TestSplitTextPrefersWordBoundaries(t *testing.T) {
	text := strings.Repeat("word ", 100) // 500 bytes
	parts := splitText(text, 98)
	for i, p := range parts[:len(parts)-1] {
		if !strings.HasSuffix(p, " ") {
			t.Errorf("part %d %q does not end at a word boundary", i, p)
		}
	}
}
