package msnclient

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// The NS XML decoders must never panic and must only return valid UTF-8
// without CR/LF; their seed corpora live in testdata/fuzz.

func FuzzParseUBX(f *testing.F) {
	f.Add([]byte(`<Data><PSM>hi</PSM><CurrentMedia></CurrentMedia></Data>`))
	f.Add([]byte(`<Data><PSM>&#x26;&#x3C;</PSM><EndpointData id="{a}"><Capabilities>1:2</Capabilities></EndpointData></Data>`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, payload []byte) {
		d, err := parseUBX(payload)
		if err != nil {
			return
		}
		for _, s := range []string{d.CurrentMedia, deref(d.PSM)} {
			if !utf8.ValidString(s) || strings.ContainsAny(s, "\r\n\x00") {
				t.Errorf("unsafe text %q", s)
			}
		}
	})
}

func FuzzParseML(f *testing.F) {
	f.Add([]byte(`<ml><d n="example.com"><c n="carol" t="1" l="8" f="Carol%20C" /></d></ml>`))
	f.Add([]byte(`<ml l="1"><d n="example.com"><c n="bob" l="3" t="1" /></d><d n="yahoo.com"><c n="x" l="1" t="32"/></d></ml>`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		entries, err := parseML(payload)
		if err != nil {
			return
		}
		for _, e := range entries {
			if _, err := checkEmail(e.Email); err != nil {
				t.Errorf("invalid email %q accepted", e.Email)
			}
			if !utf8.ValidString(e.FriendlyName) || strings.ContainsAny(e.FriendlyName, "\r\n") {
				t.Errorf("invalid UTF-8 name %q", e.FriendlyName)
			}
		}
	})
}

func FuzzNotification(f *testing.F) {
	f.Add([]byte(`<NOTIFICATION id="0"><MSG id="0"><BODY>&lt;Service&gt;ABCHInternal&lt;/Service&gt;</BODY></MSG></NOTIFICATION>`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		_, _ = isAddressBookNotification(payload)
	})
}

func FuzzPresenceLine(f *testing.F) {
	f.Add(18, "NLN NLN 1:bob@example.com Bob 2789003324:48 %3Cmsnobj%2F%3E")
	f.Add(14, "ILN 6 NLN bob@example.com 1 Bob 1 %3Cmsnobj%2F%3E")
	f.Add(8, "ILN 6 NLN bob@example.com Bob 268435456")
	f.Fuzz(func(t *testing.T, version int, line string) {
		d, err := dialectFor(version)
		if err != nil {
			return
		}
		cmd, _, err := msnp.ParseLine(line, msnp.FromServer)
		if err != nil || (cmd.Name != "ILN" && cmd.Name != "NLN") {
			return
		}
		p, err := parsePresence(d, cmd)
		if err != nil {
			return
		}
		if _, err := checkEmail(p.email); err != nil || !utf8.ValidString(p.friendlyName) || strings.ContainsAny(p.friendlyName, "\r\n") {
			t.Errorf("unsafe result %+v", p)
		}
	})
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
