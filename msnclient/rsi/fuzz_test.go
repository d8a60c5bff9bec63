package rsi

import (
	"errors"
	"testing"
	"unicode/utf8"
)

// FuzzParseMailData feeds arbitrary Mail-Data values to the parser: it must
// never panic, and every entry it returns has a valid id and sender. Seeds:
// testdata/fuzz/FuzzParseMailData (Escargot's initial and live forms).
func FuzzParseMailData(f *testing.F) {
	f.Add(escargotInitialMD)
	f.Add(escargotLiveMD)
	f.Add("too-large")
	f.Fuzz(func(t *testing.T, value string) {
		md, err := ParseMailData(value)
		if err != nil {
			if md != nil || !errors.Is(err, ErrMalformed) {
				t.Fatalf("result %v with error %v", md, err)
			}
			return
		}
		for _, m := range md.Messages {
			if !ValidID(m.ID) {
				t.Fatalf("invalid id %q accepted", m.ID)
			}
			if _, err := CheckEmail(m.From); err != nil {
				t.Fatalf("invalid sender %q accepted", m.From)
			}
			if !utf8.ValidString(m.FromName) {
				t.Fatalf("invalid UTF-8 name %q", m.FromName)
			}
		}
	})
}

// FuzzParseMessage feeds arbitrary offline message texts to the decoder:
// it must never panic; a decoded message has a valid sender and valid
// UTF-8 text without NUL or CR. Seeds: testdata/fuzz/FuzzParseMessage.
func FuzzParseMessage(f *testing.F) {
	f.Add([]byte(escargotMessage))
	f.Add([]byte("From: a@b.c\r\nContent-Type: multipart/mixed; boundary=Q\r\n\r\n--Q\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9\r\n--Q--\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := ParseMessage(raw)
		if err != nil {
			if m != nil || !errors.Is(err, ErrBadMessage) {
				t.Fatalf("result %v with error %v", m, err)
			}
			return
		}
		if _, err := CheckEmail(m.From); err != nil {
			t.Fatalf("invalid sender %q accepted", m.From)
		}
		if !utf8.ValidString(m.Text) || !utf8.ValidString(m.FromName) {
			t.Fatal("invalid UTF-8 in a decoded message")
		}
		for _, r := range m.Text {
			if r == 0 || r == '\r' {
				t.Fatalf("control character %q left in text", r)
			}
		}
	})
}
