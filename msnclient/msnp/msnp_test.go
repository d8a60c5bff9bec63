package msnp

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestMBIVector(t *testing.T) {
	got, err := MBIResponse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYX", strings.Repeat("A", 64), make([]byte, 8))
	if err != nil {
		t.Fatal(err)
	}
	const want = "HAAAAAEAAAADZgAABIAAAAgAAAAUAAAASAAAAAAAAAAAAAAAiS5lInt5VUzk88zaBJlnHPU2lzdqPYD7gluzYhb+ffE6aUBAYCMcVyDY4QVd6g3NI1/daTjdy5OfyKtbEEqDSNaCdG7gfyFGURmweQv2R4Gz1a+YqZDAU9JQ+Zs="
	if got != want {
		t.Fatalf("MBI blob:\n got %s\nwant %s", got, want)
	}
	if !VerifyMBIResponse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYX", strings.Repeat("A", 64), got) {
		t.Fatal("VerifyMBIResponse rejected a correct blob")
	}
	if VerifyMBIResponse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYX", strings.Repeat("B", 64), got) {
		t.Fatal("VerifyMBIResponse accepted a blob for another nonce")
	}
}

func TestChallengeVectors(t *testing.T) {
	if got := ChallengeMD5("15570131571988941333", "Q1P7W2E4J9R8U3S5"); got != "8f2f5a91b72102cd28355e9fc9000d6e" {
		t.Errorf("MD5 challenge = %s", got)
	}
	if got := ChallengeMSNP11("22940274951814684551", "PROD0090YUAUV{2B", "YMM8C_H7KCQ2S_KL"); got != "ffeb4c3cf93db6a4b708b246baade0d9" {
		t.Errorf("MSNP11 challenge = %s", got)
	}
}

func TestReadCommands(t *testing.T) {
	in := "VER 1 MSNP18 CVR0\r\nMSG Hotmail Hotmail 5\r\nhelloADL 3 OK\r\nADL 0 3\r\n<a>LST a b \r\n\r\nNLN NLN 1:bob@x.com Bob 1:0 %3Cmsnobj%2F%3E\r\n911 4\r\n"
	r := NewReader(strings.NewReader(in), FromServer)
	var got []string
	for {
		c, err := r.ReadCommand()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, c.String()+"|"+string(c.Payload))
	}
	want := []string{
		"VER 1 MSNP18 CVR0|",
		"MSG Hotmail Hotmail <5 bytes>|hello",
		"ADL 3 OK|",
		"ADL 0 <3 bytes>|<a>",
		"LST a b|",
		"NLN NLN 1:bob@x.com Bob 1:0 %3Cmsnobj%2F%3E|",
		"911 4|",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestReaderRejects(t *testing.T) {
	cases := map[string]error{
		"MSG a b -1\r\n":           ErrBadLength,
		"MSG a b 99999999999\r\n":  ErrPayloadTooLarge,
		"MSG a b 2000000\r\n":      ErrPayloadTooLarge,
		strings.Repeat("A", 20000): ErrLineTooLong,
		"MSG a b 10\r\nshort":      io.ErrUnexpectedEOF,
	}
	for in, want := range cases {
		r := NewReader(strings.NewReader(in), FromServer)
		_, err := r.ReadCommand()
		if !errors.Is(err, want) {
			t.Errorf("%.30q: err = %v, want %v", in, err, want)
		}
	}
	r := NewReader(strings.NewReader("b@d line\r\nQNG 60\r\n"), FromServer)
	_, err := r.ReadCommand()
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("want SyntaxError, got %v", err)
	}
	c, err := r.ReadCommand()
	if err != nil || c.Name != "QNG" {
		t.Fatalf("reader did not continue after a malformed line: %v %v", c, err)
	}
}

func TestWriterRejectsInjection(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, arg := range []string{"a b", "a\r\nOUT", "", "x\n"} {
		if err := w.WriteCommand(New("PRP", "1", "MFN", arg)); !errors.Is(err, ErrInvalidParam) {
			t.Errorf("%q: err = %v", arg, err)
		}
	}
	if buf.Len() != 0 {
		t.Fatalf("wrote %q", buf.String())
	}
	if err := w.WriteCommand(NewPayload("UUX", []byte("<Data/>"), "7")); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "UUX 7 7\r\n<Data/>" {
		t.Fatalf("wrote %q", buf.String())
	}
}

func TestParamEncoding(t *testing.T) {
	name := "Bob 100% \r\nOUT <b>é"
	enc := EncodeParam(name)
	if strings.ContainsAny(enc, " \r\n") {
		t.Fatalf("encoded %q still has separators", enc)
	}
	if DecodeParam(enc) != name {
		t.Fatalf("round trip: %q", DecodeParam(enc))
	}
	if DecodeParam("100%zz+%") != "100%zz+%" {
		t.Fatal("invalid escapes must stay literal")
	}
	if got := DecodeParam("%FF%FE"); got != "\uFFFD" && got != "\uFFFD\uFFFD" {
		t.Fatalf("invalid UTF-8 not replaced: %q", got)
	}
	if EncodeParamFull("<msnobj/>") != "%3Cmsnobj%2F%3E" {
		t.Fatal(EncodeParamFull("<msnobj/>"))
	}
}

func TestRedacted(t *testing.T) {
	c := New("USR", "4", "SSO", "S", "t=0123456789abcdef0123Y6&p=", "HAAAAAEAAAADZgAA", "{F52973B6-C926-4BAD-9BA8-7C1E840E4AB0}")
	r := c.Redacted()
	if strings.Contains(r, "t=0123") || strings.Contains(r, "HAAAA") || !strings.Contains(r, "{F52973B6") {
		t.Fatalf("Redacted = %s", r)
	}
	x := New("XFR", "5", "SB", "127.0.0.1:1864", "CKI", "0123456789abcdef0123")
	if strings.Contains(x.Redacted(), "0123456789abcdef0123") {
		t.Fatalf("Redacted = %s", x.Redacted())
	}
}

// A small read buffer still reads lines longer than itself whole, and
// payloads larger than itself.
func TestReaderSmallBuffer(t *testing.T) {
	long := strings.Repeat("x", 3000)
	payload := strings.Repeat("p", 2000)
	in := "ILN 1 NLN " + long + "\r\nUBX a@b.c 2000\r\n" + payload + "QNG 50\r\n"
	r := NewReaderSize(strings.NewReader(in), FromServer, 64)
	cmd, err := r.ReadCommand()
	if err != nil || cmd.Name != "ILN" || cmd.Arg(2) != long {
		t.Fatalf("long line: %v %v", cmd, err)
	}
	cmd, err = r.ReadCommand()
	if err != nil || cmd.Name != "UBX" || string(cmd.Payload) != payload {
		t.Fatalf("payload: %v %v", cmd, err)
	}
	cmd, err = r.ReadCommand()
	if err != nil || cmd.Name != "QNG" || cmd.Arg(0) != "50" {
		t.Fatalf("after the payload: %v %v", cmd, err)
	}
}

// A Writer does not keep the buffer of a large command (the contact list
// of a sign-in) for the rest of the connection.
func TestWriterDropsLargeBuffer(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out)
	if err := w.WriteCommand(NewPayload("ADL", bytes.Repeat([]byte("c"), 8000), "3")); err != nil {
		t.Fatal(err)
	}
	if cap(w.buf) > DefaultMaxKeptBuffer {
		t.Errorf("the writer keeps %d bytes after a large command", cap(w.buf))
	}
	if err := w.WriteCommand(New("PNG")); err != nil {
		t.Fatal(err)
	}
	if cap(w.buf) == 0 {
		t.Error("the writer does not keep a small buffer for the next command")
	}
}

// A Writer keeps no buffer above its MaxKeptBuffer: the notification
// server's, which sends little but keep-alives once signed in, does not
// hold the contact list it sent at sign-in.
func TestWriterMaxKeptBuffer(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out)
	w.MaxKeptBuffer = 256
	if err := w.WriteCommand(NewPayload("ADL", bytes.Repeat([]byte("c"), 600), "3")); err != nil {
		t.Fatal(err)
	}
	if cap(w.buf) != 0 {
		t.Errorf("the writer keeps %d bytes after a command above its limit", cap(w.buf))
	}
	if err := w.WriteCommand(New("PNG")); err != nil {
		t.Fatal(err)
	}
	if cap(w.buf) == 0 || cap(w.buf) > 256 {
		t.Errorf("the writer keeps %d bytes after a small command", cap(w.buf))
	}
	if !strings.HasSuffix(out.String(), "PNG\r\n") || !strings.HasPrefix(out.String(), "ADL 3 600\r\n") {
		t.Errorf("written %q", out.String())
	}
}
