package rsi

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseMailData(t *testing.T) {
	md, err := ParseMailData(escargotInitialMD)
	if err != nil {
		t.Fatal(err)
	}
	if md.TooLarge || len(md.Messages) != 2 || md.Skipped != 0 {
		t.Fatalf("got %+v", md)
	}
	first, second := md.Messages[0], md.Messages[1]
	if first.From != "carol@example.com" || second.From != "bob@example.com" || second.FromName != "Bob" {
		t.Errorf("entries not oldest first or badly decoded: %+v", md.Messages)
	}
	if !first.Received.Equal(time.Date(2024, 5, 1, 10, 20, 30, 0, time.UTC)) || first.Size != 917 {
		t.Errorf("first = %+v", first)
	}

	live, err := ParseMailData(escargotLiveMD)
	if err != nil {
		t.Fatal(err)
	}
	if len(live.Messages) != 1 || live.Messages[0].FromName != "Bob" || !live.Messages[0].Received.IsZero() {
		t.Errorf("live = %+v (Escargot's space before ?= must be tolerated)", live)
	}

	if md, err := ParseMailData("too-large"); err != nil || !md.TooLarge {
		t.Errorf("too-large = %+v, %v", md, err)
	}
}

func TestParseMailDataBadInput(t *testing.T) {
	for name, in := range map[string]string{
		"empty":     "",
		"truncated": escargotInitialMD[:len(escargotInitialMD)/2],
		"doctype":   `<!DOCTYPE x [<!ENTITY a "aaaa">]><MD><M><I>&a;</I></M></MD>`,
		"huge":      "<MD>" + strings.Repeat("<M></M>", MaxMailData/7) + "</MD>",
	} {
		if _, err := ParseMailData(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
	// Bad entries are skipped and counted, not taken.
	md, err := ParseMailData(`<MD><M><T>11</T><E>not an email</E><I>1</I></M><M><T>11</T><E>a@b.c</E><I>bad id with spaces</I></M>` +
		`<M><T>2</T><E>a@b.c</E><I>2</I></M><M><T>11</T><E>a@b.c</E><I>3</I><N>=?x-unknown?B?QQ==?=</N></M></MD>`)
	if err != nil {
		t.Fatal(err)
	}
	if md.Skipped != 3 || len(md.Messages) != 1 || md.Messages[0].ID != "3" {
		t.Errorf("got %+v", md)
	}
}

func TestParseMessage(t *testing.T) {
	m, err := ParseMessage([]byte(escargotMessage))
	if err != nil {
		t.Fatal(err)
	}
	want := Message{From: "bob@example.com", FromName: "Bob", Time: time.Date(2024, 5, 1, 11, 20, 30, 0, time.UTC),
		Text: "Hello Alice, are you there?", RunID: "3A6B1C2D-4E5F-6071-8293-A4B5C6D7E8F9", Sequence: 1}
	if *m != want {
		t.Errorf("got  %+v\nwant %+v", *m, want)
	}
}

func TestParseMessageEncodings(t *testing.T) {
	head := func(ct, cte string) string {
		return "From: =?iso-8859-1?Q?Ren=E9?= <rene@example.com>\r\nDate: Wed, 01 May 2024 10:20:30 +0000\r\nContent-Type: " + ct + "\r\nContent-Transfer-Encoding: " + cte + "\r\n\r\n"
	}
	cases := map[string]struct{ raw, text string }{
		"quoted-printable latin1": {head("text/plain; charset=ISO-8859-1", "quoted-printable") + "Caf=E9 =\r\nau lait\r\nligne 2", "Café au lait\nligne 2"},
		"base64 wrapped":          {head("text/plain; charset=UTF-8", "base64") + "SGVsbG8g\r\n8J+Zgg==\r\n", "Hello 🙂"},
		"windows-1252 8bit":       {head("text/plain; charset=windows-1252", "8bit") + "\x93quoted\x94", "“quoted”"},
		"shift_jis":               {head("text/plain; charset=Shift_JIS", "base64") + "grGC8YLJgr+CzQ==", "こんにちは"},
		"no content type":         {"From: a@b.c\r\n\r\nplain", "plain"},
		"LF line ends":            {"From: a@b.c\nContent-Type: text/plain\n\nline1\nline2", "line1\nline2"},
		"multipart": {head(`multipart/alternative; boundary="XX"`, "7bit") +
			"--XX\r\nContent-Type: text/html\r\n\r\n<b>no</b>\r\n--XX\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\neWVz\r\n--XX--\r\n", "yes"},
		"invalid utf-8 replaced": {head("text/plain; charset=utf-8", "8bit") + "a\xffb", "a\uFFFDb"},
		"controls dropped":       {head("text/plain", "7bit") + "a\x00\x1bb", "ab"},
	}
	for name, c := range cases {
		m, err := ParseMessage([]byte(c.raw))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if m.Text != c.text {
			t.Errorf("%s: text %q, want %q", name, m.Text, c.text)
		}
	}
	m, _ := ParseMessage([]byte(cases["quoted-printable latin1"].raw))
	if m.FromName != "René" || m.From != "rene@example.com" {
		t.Errorf("RFC 2047 ISO-8859-1 name: %+v", m)
	}
}

func TestParseMessageBadInput(t *testing.T) {
	ok := "From: a@b.c\r\nContent-Type: text/plain\r\n\r\nx"
	cases := map[string]string{
		"no from":            "Content-Type: text/plain\r\n\r\nx",
		"bad from":           "From: nobody\r\n\r\nx",
		"unknown charset":    "From: a@b.c\r\nContent-Type: text/plain; charset=x-klingon\r\n\r\nx",
		"bad base64":         "From: a@b.c\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!",
		"unknown encoding":   "From: a@b.c\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nx",
		"broken multipart":   "From: a@b.c\r\nContent-Type: multipart/mixed; boundary=Q\r\n\r\n--Q\r\nContent-Type: text/plain\r\n\r\nno end",
		"multipart no text":  "From: a@b.c\r\nContent-Type: multipart/mixed; boundary=Q\r\n\r\n--Q\r\nContent-Type: image/png\r\n\r\nx\r\n--Q--\r\n",
		"no boundary":        "From: a@b.c\r\nContent-Type: multipart/mixed\r\n\r\nx",
		"html only":          "From: a@b.c\r\nContent-Type: text/html\r\n\r\n<b>x</b>",
		"huge":               ok + strings.Repeat("x", MaxMessage),
		"bad content type":   "From: a@b.c\r\nContent-Type: ;;;\r\n\r\nx",
		"header garbage":     "this is not a header\r\n\r\nx",
		"injection in email": "From: <a@b.c\r\nOUT>\r\n\r\nx",
	}
	for name, raw := range cases {
		if _, err := ParseMessage([]byte(raw)); !errors.Is(err, ErrBadMessage) {
			t.Errorf("%s: err = %v, want ErrBadMessage", name, err)
		}
	}
	if _, err := ParseMessage([]byte(ok)); err != nil {
		t.Errorf("control case failed: %v", err)
	}
}

func TestDecodeWords(t *testing.T) {
	for in, want := range map[string]string{
		"=?utf-8?B?Qm9i?=":           "Bob",
		"=?utf-8?B?Qm9i ?=":          "Bob",
		"=?UTF-8?Q?Caf=C3=A9?= ok":   "Café ok",
		"plain":                      "plain",
		"=?x-unknown?B?QQ==?=":       "=?x-unknown?B?QQ==?=",
		"=?windows-1252?Q?=93q=94?=": "“q”",
		"=?utf-8?B?" + "YQpi" + "?=": "a\nb",
		"=?utf-8?B?" + "YQBi" + "?=": "ab",
	} {
		if got := DecodeWords(in); got != want {
			t.Errorf("DecodeWords(%q) = %q, want %q", in, got, want)
		}
	}
}
