package xmlsafe

import (
	"encoding/xml"
	"errors"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadAll(t *testing.T) {
	if got, err := ReadAll(strings.NewReader("12345"), 5); err != nil || string(got) != "12345" {
		t.Errorf("at the limit: %q, %v", got, err)
	}
	if _, err := ReadAll(strings.NewReader("123456"), 5); err == nil || !strings.Contains(err.Error(), "larger than 5 bytes") {
		t.Errorf("over the limit: %v", err)
	}
	boom := errors.New("boom")
	if _, err := ReadAll(iotest.ErrReader(boom), 5); !errors.Is(err, boom) {
		t.Errorf("read error not wrapped: %v", err)
	}
}

func TestUnmarshalRefusesDTD(t *testing.T) {
	var v struct{ X string }
	for _, doc := range []string{
		`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`,
		`<x><!doctype y></x>`,
		`<!EnTiTy a "b"><x/>`,
	} {
		if err := Unmarshal([]byte(doc), &v); !errors.Is(err, ErrDoctype) {
			t.Errorf("%s: %v, want ErrDoctype", doc, err)
		}
	}
}

func TestUnmarshal(t *testing.T) {
	var v struct {
		A string `xml:"a,attr"`
		B string `xml:"b"`
	}
	if err := Unmarshal([]byte("<x a=\"1&amp;2\"><b>caf\xe9</b></x>"), &v); err != nil {
		t.Fatal(err)
	}
	if v.A != "1&2" || v.B != "caf\uFFFD" {
		t.Errorf("got %+v (invalid UTF-8 must become U+FFFD)", v)
	}
	if err := Unmarshal([]byte(`<?xml version="1.0" encoding="ISO-8859-1"?><x/>`), &v); !errors.Is(err, ErrCharset) {
		t.Errorf("latin-1: %v, want ErrCharset", err)
	}
	if err := Unmarshal([]byte(`<x><b>&nbsp;</b></x>`), &v); err == nil {
		t.Error("undefined entity accepted (decoder not strict)")
	}
}

func TestCheckDirective(t *testing.T) {
	for d, want := range map[string]error{
		"DOCTYPE x":     ErrDoctype,
		" doctype x":    ErrDoctype,
		"ENTITY a 'b'":  ErrDoctype,
		"[CDATA[ x ]]":  nil,
		"ELEMENT x ANY": nil,
	} {
		if err := CheckDirective(xml.Directive(d)); !errors.Is(err, want) {
			t.Errorf("%q: %v, want %v", d, err, want)
		}
	}
	dec := NewDecoder([]byte(`<!DOCTYPE x><x/>`))
	tok, err := dec.Token()
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := tok.(xml.Directive); !ok || CheckDirective(d) == nil {
		t.Errorf("first token %T %v not refused", tok, tok)
	}
}

func TestEscape(t *testing.T) {
	got, err := Escape("a<b>&\"'\r\n\t")
	if err != nil {
		t.Fatal(err)
	}
	if want := "a&lt;b&gt;&amp;&#34;&#39;&#xD;&#xA;&#x9;"; got != want {
		t.Errorf("Escape = %q, want %q", got, want)
	}
	for _, bad := range []string{"a\x00b", "\x1b[0m", "\xff", "\uFFFE"} {
		if _, err := Escape(bad); err == nil {
			t.Errorf("Escape(%q) accepted", bad)
		}
		if got := EscapeLossy(bad); !ValidText(got) {
			t.Errorf("EscapeLossy(%q) = %q is not valid XML text", bad, got)
		}
	}
	if got := EscapeLossy("x\x00y"); got != "x\uFFFDy" {
		t.Errorf("EscapeLossy = %q", got)
	}
}

// FuzzEscapeRoundTrip: whatever the input, an escaped value embedded as
// character data and as an attribute decodes back to the input (or to its
// lossy form), and never injects markup. Seeds: testdata/fuzz/FuzzEscapeRoundTrip.
func FuzzEscapeRoundTrip(f *testing.F) {
	for _, s := range []string{"", "plain", "<a href=\"x\">&amp;</a>", "line\r\nbreak\rcr", "\x00\x1b", "\xff\xfe", "]]>", "tab\there", "日本語 🙂"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, escErr := Escape(s)
		want := s
		if escErr != nil {
			if ValidText(s) {
				t.Fatalf("Escape(%q) refused valid text: %v", s, escErr)
			}
			e, want = EscapeLossy(s), lossy(s)
		}
		var v struct {
			XMLName xml.Name `xml:"v"`
			A       string   `xml:"a,attr"`
			Text    string   `xml:",chardata"`
			Inner   []string `xml:",any"`
		}
		doc := `<v a="` + e + `">` + e + `</v>`
		if err := Unmarshal([]byte(doc), &v); err != nil {
			t.Fatalf("escaped %q does not parse: %v (%s)", s, err, doc)
		}
		if len(v.Inner) != 0 {
			t.Fatalf("escaped %q injected elements", s)
		}
		if v.A != want || v.Text != want {
			t.Fatalf("round trip of %q: attr %q, text %q, want %q", s, v.A, v.Text, want)
		}
	})
}

// lossy is what EscapeLossy keeps of s: every rune (or invalid byte) that
// is not an XML Char becomes U+FFFD.
func lossy(s string) string {
	var b strings.Builder
	for _, r := range s {
		if !ValidText(string(r)) {
			r = '\uFFFD'
		}
		b.WriteRune(r)
	}
	return b.String()
}
