package msnclient

import (
	"bytes"
	"strings"
	"testing"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

func mustDialect(t testing.TB, v int) *dialect {
	t.Helper()
	d, err := dialectFor(v)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func parseServerLine(t testing.TB, line string) *msnp.Command {
	t.Helper()
	cmd, hasPayload, err := msnp.ParseLine(line, msnp.FromServer)
	if err != nil {
		t.Fatalf("parse %q: %v", line, err)
	}
	if hasPayload {
		cmd.Args = cmd.Args[:len(cmd.Args)-1]
		cmd.HasPayload = true
	}
	return cmd
}

func TestParsePresenceEveryDialect(t *testing.T) {
	const obj = `%3Cmsnobj%20Creator%3D%22bob%40example.com%22%20SHA1D%3D%22abc%3D%22%2F%3E`
	tests := []struct {
		version int
		line    string
		caps    string
		obj     bool
	}{
		{8, "ILN 6 NLN bob@example.com Bob%20B 268435456", "268435456", false},
		{8, "NLN BSY bob@example.com Bob%20B 268435456", "268435456", false},
		{9, "ILN 6 NLN bob@example.com Bob%20B 805306368 " + obj, "805306368", true},
		{11, "NLN NLN bob@example.com Bob%20B 1073741824 %3Cmsnobj%2F%3E", "1073741824", false},
		{13, "ILN 6 NLN bob@example.com Bob%20B 1610612736 " + obj, "1610612736", true},
		{14, "ILN 6 NLN bob@example.com 1 Bob%20B 1610612736 " + obj, "1610612736", true},
		{15, "NLN NLN bob@example.com 1 Bob%20B 2147483648 %3Cmsnobj%2F%3E", "2147483648", false},
		{16, "ILN 6 NLN bob@example.com 1 Bob%20B 2789003324:48 " + obj, "2789003324:48", true},
		{18, "NLN NLN 1:bob@example.com Bob%20B 2789003324:48 " + obj, "2789003324:48", true},
		{18, "NLN NLN 1:Bob@Example.com Bob%20B 2789003324:48", "2789003324:48", false},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			cmd := parseServerLine(t, tt.line)
			p, err := parsePresence(mustDialect(t, tt.version), cmd)
			if err != nil {
				t.Fatal(err)
			}
			if p.email != "bob@example.com" || p.friendlyName != "Bob B" || p.capabilities != tt.caps {
				t.Errorf("got %+v", p)
			}
			if wantStatus := Status(cmd.Args[0]); cmd.Name == "NLN" && p.status != wantStatus {
				t.Errorf("status %q, want %q", p.status, wantStatus)
			}
			if tt.obj != (p.msnObject != "") {
				t.Errorf("msnobject %q, want present=%v", p.msnObject, tt.obj)
			}
			if tt.obj && !strings.Contains(p.msnObject, `Creator="bob@example.com"`) {
				t.Errorf("msnobject not decoded: %q", p.msnObject)
			}
		})
	}
}

func TestParsePresenceRejectsGarbage(t *testing.T) {
	for _, line := range []string{
		"NLN NLN",
		"NLN XYZ bob@example.com Bob 0",
		"NLN NLN notanemail Bob 0",
		"ILN 6",
		"NLN FLN bob@example.com Bob 0",
	} {
		if _, err := parsePresence(mustDialect(t, 11), parseServerLine(t, line)); err == nil {
			t.Errorf("%q: no error", line)
		}
	}
}

func TestSplitAddress(t *testing.T) {
	tests := map[string]struct {
		email string
		via   bool
	}{
		"bob@example.com":   {"bob@example.com", false},
		"1:Bob@example.com": {"bob@example.com", false},
		"1:bob@example.com;via=9:00000000-0000-0000-0009-0123456789ab@live.com": {"bob@example.com", true},
		"bob@example.com;{guid}": {"bob@example.com", false},
	}
	for in, want := range tests {
		email, via := splitAddress(in)
		if email != want.email || via != want.via {
			t.Errorf("%q: got %q %v", in, email, via)
		}
	}
}

func TestParseLST(t *testing.T) {
	tests := []struct {
		version int
		line    string
		want    Contact
	}{
		{8, "LST bob@example.com Bob%20B 11 0,1", Contact{Email: "bob@example.com", FriendlyName: "Bob B", Lists: 11, Groups: []string{"0", "1"}}},
		{9, "LST carol@example.com carol@example.com 8", Contact{Email: "carol@example.com", FriendlyName: "carol@example.com", Lists: 8}},
		{11, "LST N=bob@example.com F=Bob C=0f3e-1 11 6a1c", Contact{Email: "bob@example.com", FriendlyName: "Bob", ContactID: "0f3e-1", Lists: 11, Groups: []string{"6a1c"}}},
		{11, "LST N=carol@example.com F=carol@example.com 24 ", Contact{Email: "carol@example.com", FriendlyName: "carol@example.com", Lists: 24}},
		{12, "LST N=Bob@Example.com F=Bob C=0f3e-1 11 1 6a1c,7b2d", Contact{Email: "bob@example.com", FriendlyName: "Bob", ContactID: "0f3e-1", Lists: 11, Groups: []string{"6a1c", "7b2d"}}},
		{12, "LST N=carol@example.com F=Carol 16 1 ", Contact{Email: "carol@example.com", FriendlyName: "Carol", Lists: 16}},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			ct, err := parseLST(mustDialect(t, tt.version), parseServerLine(t, tt.line).Args)
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Network = NetworkMSN
			if ct.Email != tt.want.Email || ct.FriendlyName != tt.want.FriendlyName || ct.Lists != tt.want.Lists ||
				ct.ContactID != tt.want.ContactID || strings.Join(ct.Groups, ",") != strings.Join(tt.want.Groups, ",") {
				t.Errorf("got %+v, want %+v", *ct, tt.want)
			}
		})
	}
	for _, line := range []string{"LST bob@example.com", "LST bob Bob 11", "LST bob@example.com Bob x"} {
		if _, err := parseLST(mustDialect(t, 8), parseServerLine(t, line).Args); err == nil {
			t.Errorf("%q: no error", line)
		}
	}
}

func TestParseUBX(t *testing.T) {
	d, err := parseUBX([]byte(`<Data><PSM>At &#x26; work &lt;3</PSM><CurrentMedia>\0Music\01\0{0}\0Song\0</CurrentMedia><MachineGuid>{x}</MachineGuid></Data>`))
	if err != nil {
		t.Fatal(err)
	}
	if d.PSM == nil || *d.PSM != "At & work <3" || d.CurrentMedia != `\0Music\01\0{0}\0Song\0` {
		t.Errorf("got %+v", d)
	}
	d, err = parseUBX(nil)
	if err != nil || d.PSM != nil {
		t.Errorf("empty payload: %+v %v", d, err)
	}
	d, err = parseUBX([]byte("<Data><PSM>a\r\nb\xff</PSM></Data>"))
	if err != nil || *d.PSM != "a b\uFFFD" {
		t.Errorf("control characters: %q %v", *d.PSM, err)
	}
	for _, bad := range []string{
		"<Data><PSM>unterminated",
		`<!DOCTYPE x [<!ENTITY a "aaaa">]><Data><PSM>&a;</PSM></Data>`,
		`<?xml version="1.0" encoding="ISO-8859-1"?><Data><PSM>x</PSM></Data>`,
		"<Data>" + strings.Repeat("x", maxXMLPayload) + "</Data>",
	} {
		if _, err := parseUBX([]byte(bad)); err == nil {
			t.Errorf("%.40q: no error", bad)
		}
	}
}

func TestBuildUUXEscapes(t *testing.T) {
	got := string(buildUUX(mustDialect(t, 11), `a<b>&"`, "", "{g}"))
	want := `<Data><PSM>a&lt;b&gt;&amp;&#34;</PSM><CurrentMedia></CurrentMedia></Data>`
	if got != want {
		t.Errorf("got %s", got)
	}
	d, err := parseUBX(buildUUX(mustDialect(t, 18), "x</PSM><PSM>y", "m", "{g}"))
	if err != nil || *d.PSM != "x</PSM><PSM>y" || d.CurrentMedia != "m" {
		t.Errorf("round trip: %+v %v", d, err)
	}
}

func TestBuildAndParseML(t *testing.T) {
	entries := []mlEntry{
		{Email: "bob@example.com", Lists: 3, Network: 1},
		{Email: "carol@example.com", Lists: 1, Network: 1},
		{Email: "dave@yahoo.com", Lists: 4, Network: 32},
	}
	payloads := buildML(entries, true)
	if len(payloads) != 2 {
		t.Fatalf("want one payload per domain, got %d", len(payloads))
	}
	want0 := `<ml l="1"><d n="example.com"><c n="bob" l="3" t="1" /><c n="carol" l="1" t="1" /></d></ml>`
	if string(payloads[0]) != want0 {
		t.Errorf("got %s", payloads[0])
	}
	var back []mlEntry
	for _, p := range payloads {
		e, err := parseML(p)
		if err != nil {
			t.Fatal(err)
		}
		back = append(back, e...)
	}
	if len(back) != 3 || back[2].Email != "dave@yahoo.com" || back[2].Network != 32 || back[0].Lists != 3 {
		t.Errorf("round trip: %+v", back)
	}
	if got := buildML(nil, true); len(got) != 1 || string(got[0]) != `<ml l="1"></ml>` {
		t.Errorf("empty initial list: %q", got)
	}
	var many []mlEntry
	for i := 0; i < 2*maxMLContacts+1; i++ {
		many = append(many, mlEntry{Email: "u" + strings.Repeat("x", i%5) + string(rune('a'+i%26)) + "@example.com", Lists: 1, Network: 1})
	}
	if got := buildML(many, false); len(got) != 3 || bytes.Contains(got[0], []byte(`l="1">`)) {
		t.Errorf("split: %d payloads", len(got))
	}
}

func TestParseServerADL(t *testing.T) {
	entries, err := parseML([]byte(`<ml><d n="example.com"><c n="carol" t="1" l="8" f="Carol%20C" /><c n="bad user" l="8" t="1"/></d></ml>`))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Email != "carol@example.com" || entries[0].Lists != ListReverse || entries[0].FriendlyName != "Carol C" {
		t.Errorf("got %+v", entries)
	}
}

func TestIsAddressBookNotification(t *testing.T) {
	payload := `<NOTIFICATION id="0" siteid="45705" siteurl="http://contacts.msn.com"><TO pid="0x1:0x2" name="alice@example.com"><VIA agent="messenger" /></TO><MSG id="0"><SUBSCR url="s.htm" /><ACTION url="a.htm" /><BODY>&lt;NotificationData&gt;&lt;Service&gt;ABCHInternal&lt;/Service&gt;&lt;/NotificationData&gt;</BODY></MSG></NOTIFICATION>`
	ok, err := isAddressBookNotification([]byte(payload))
	if err != nil || !ok {
		t.Errorf("got %v %v", ok, err)
	}
	ok, err = isAddressBookNotification([]byte(`<NOTIFICATION><MSG><BODY>alert</BODY></MSG></NOTIFICATION>`))
	if err != nil || ok {
		t.Errorf("alert: got %v %v", ok, err)
	}
}

func TestDialectTable(t *testing.T) {
	for _, v := range supportedVersions {
		d := mustDialect(t, v)
		if d.caps == "" || d.clientVersion == "" {
			t.Errorf("MSNP%d: missing caps or client version", v)
		}
		if d.machineGUID != strings.Contains(d.caps, ":") {
			t.Errorf("MSNP%d: caps form %q does not match the dialect", v, d.caps)
		}
		if (d.auth == authSSO) != (v >= 15) || d.addressBook != (v >= 13) {
			t.Errorf("MSNP%d: wrong auth or list mechanism", v)
		}
	}
	for _, v := range []int{7, 19} {
		if _, err := dialectFor(v); err == nil {
			t.Errorf("MSNP%d accepted", v)
		}
	}
}

func TestCheckEmail(t *testing.T) {
	if e, err := checkEmail(" Bob@Example.COM "); err != nil || e != "bob@example.com" {
		t.Errorf("got %q %v", e, err)
	}
	for _, bad := range []string{"", "bob", "@x", "bob@", "bo b@x.com", "bob@x.com\r\nOUT", "a<b@x.com"} {
		if _, err := checkEmail(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
