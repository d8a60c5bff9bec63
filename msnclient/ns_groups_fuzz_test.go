package msnclient

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// A group name CheckGroupName accepts must be safe on every wire it goes
// to: one NS parameter that decodes back to itself (no CR/LF or spaces
// left to split or inject lines), valid UTF-8 within the length limit.
func FuzzCheckGroupName(f *testing.F) {
	f.Add("Friends")
	f.Add("Work <b>&amp;</b> 100%")
	f.Add("Evil\r\nOUT OTH")
	f.Add("  padded  ")
	f.Fuzz(func(t *testing.T, name string) {
		got, err := CheckGroupName(name)
		if err != nil {
			return
		}
		if got == "" || len(got) > MaxGroupNameLength || !utf8.ValidString(got) || strings.IndexFunc(got, unicode.IsControl) >= 0 {
			t.Fatalf("accepted unsafe name %q", got)
		}
		enc := msnp.EncodeParam(got)
		if strings.ContainsAny(enc, " \r\n\t") || msnp.DecodeParam(enc) != got {
			t.Fatalf("name %q does not survive the wire: %q", got, enc)
		}
	})
}
