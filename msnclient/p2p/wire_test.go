package p2p

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

// Vectors below are written byte by byte from the layout tables of the P2P
// reference (shared/msnp/p2p.md §2, libpurple's MsnP2PHeader): every field
// little-endian, the footer big-endian. They do not come from our encoder.

// ackVector is an acknowledgement of message 0x0A0B0C0D (unique id
// 0x11223344, 5,000 bytes) in session 1980589, sent as message 0x99.
var ackVector = mustHex(
	"ad381e00" + // SessionID 1980589
		"99000000" + // Identifier 0x99
		"0000000000000000" + // Offset 0
		"8813000000000000" + // TotalSize 5000
		"00000000" + // MessageSize 0
		"02000000" + // Flags: ack
		"0d0c0b0a" + // AckSessionID = acked Identifier
		"44332211" + // AckUniqueID = acked AckSessionID
		"8813000000000000" + // AckDataSize 5000
		"00000000") // footer 0

// dataVector is the second chunk of a 1,500-byte display picture: 298
// bytes at offset 1202, flags 0x20, footer AppID 1.
func dataVector() []byte {
	b := mustHex(
		"ad381e00" + // SessionID
			"01000100" + // Identifier 0x00010001
			"b204000000000000" + // Offset 1202
			"dc05000000000000" + // TotalSize 1500
			"2a010000" + // MessageSize 298
			"20000000" + // Flags: MSN object data
			"78563412" + // AckSessionID (unique id)
			"00000000" + "0000000000000000")
	b = append(b, bytes.Repeat([]byte{0xAB}, 298)...)
	return append(b, 0, 0, 0, 1) // footer: AppID 1, big-endian
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestParsePacketReferenceAck(t *testing.T) {
	p, err := ParsePacket(ackVector)
	if err != nil {
		t.Fatal(err)
	}
	want := Header{SessionID: 1980589, Identifier: 0x99, TotalSize: 5000, Flags: FlagAck,
		AckSessionID: 0x0A0B0C0D, AckUniqueID: 0x11223344, AckDataSize: 5000}
	if p.Header != want || len(p.Data) != 0 || p.Footer != 0 || !p.IsAck() {
		t.Fatalf("got %+v footer %d", p.Header, p.Footer)
	}
	if got := p.AppendPacket(nil); !bytes.Equal(got, ackVector) {
		t.Fatalf("re-encoded ack differs:\n%x\n%x", got, ackVector)
	}
}

func TestParsePacketReferenceDataChunk(t *testing.T) {
	v := dataVector()
	p, err := ParsePacket(v)
	if err != nil {
		t.Fatal(err)
	}
	if p.SessionID != 1980589 || p.Identifier != 0x00010001 || p.Offset != 1202 || p.TotalSize != 1500 ||
		p.MessageSize != 298 || p.Flags != FlagMSNObjData || p.AckSessionID != 0x12345678 || p.Footer != 1 {
		t.Fatalf("got %+v footer %d", p.Header, p.Footer)
	}
	if len(p.Data) != 298 || p.Data[0] != 0xAB {
		t.Fatalf("data of %d bytes", len(p.Data))
	}
	if !bytes.Equal(p.AppendPacket(nil), v) {
		t.Fatal("re-encoded chunk differs")
	}
}

func TestParsePacketRejects(t *testing.T) {
	overflow := dataVector()
	overflow[16] = 0x00 // TotalSize 1280: the chunk at 1202 of 298 bytes does not fit
	overflow[17] = 0x05
	short := dataVector()[:40]
	lying := dataVector()
	lying[24] = 0x2b // MessageSize 299, but 298 bytes follow
	for name, b := range map[string][]byte{"overflow": overflow, "short": short, "size mismatch": lying} {
		if _, err := ParsePacket(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// referenceInvite is the display-picture INVITE of the reference (p2p.md
// §4), as a libpurple or WLM client sends it, with its NUL.
const referenceInvite = "INVITE MSNMSGR:bob@example.com MSNSLP/1.0\r\n" +
	"To: <msnmsgr:bob@example.com>\r\n" +
	"From: <msnmsgr:alice@example.com>\r\n" +
	"Via: MSNSLP/1.0/TLP ;branch={33517CE4-02FC-4428-B6F4-39927229B722}\r\n" +
	"CSeq: 0 \r\n" +
	"Call-ID: {9D79AE57-1BD5-444B-B14E-3FC9BB2B5D58}\r\n" +
	"Max-Forwards: 0\r\n" +
	"Content-Type: application/x-msnmsgr-sessionreqbody\r\n" +
	"Content-Length: 73\r\n" +
	"\r\n" +
	"EUF-GUID: {A4268EEC-FEC5-49E5-95C3-F126696BDBF6}\r\n" +
	"SessionID: 1980589\r\n" +
	"\r\n\x00"

func TestParseSLPReferenceInvite(t *testing.T) {
	m, err := ParseSLP([]byte(referenceInvite))
	if err != nil {
		t.Fatal(err)
	}
	if m.Method != "INVITE" || m.URI != "MSNMSGR:bob@example.com" || m.IsResponse() {
		t.Fatalf("start line: %q %q", m.Method, m.URI)
	}
	if m.To() != "bob@example.com" || m.From() != "alice@example.com" {
		t.Fatalf("to %q from %q", m.To(), m.From())
	}
	if m.Branch() != "{33517CE4-02FC-4428-B6F4-39927229B722}" || m.CallID() != "{9D79AE57-1BD5-444B-B14E-3FC9BB2B5D58}" {
		t.Fatalf("branch %q call %q", m.Branch(), m.CallID())
	}
	if m.ContentType() != SLPSessionReq {
		t.Fatalf("content type %q", m.ContentType())
	}
	f := m.BodyFields()
	if f["euf-guid"] != EUFGUIDMSNObject || f["sessionid"] != "1980589" {
		t.Fatalf("body fields %v", f)
	}
}

func TestSLPResponseCopiesCall(t *testing.T) {
	req, err := ParseSLP([]byte(referenceInvite))
	if err != nil {
		t.Fatal(err)
	}
	text := string(newSLPResponse(req, 200, "OK", SLPSessionReq, "SessionID: 1980589\r\n\r\n").Marshal())
	for _, want := range []string{
		"MSNSLP/1.0 200 OK\r\n",
		"To: <msnmsgr:alice@example.com>\r\n",
		"From: <msnmsgr:bob@example.com>\r\n",
		"branch={33517CE4-02FC-4428-B6F4-39927229B722}\r\n",
		"CSeq: 1 \r\n",
		"Call-ID: {9D79AE57-1BD5-444B-B14E-3FC9BB2B5D58}\r\n",
		"Content-Length: 23\r\n\r\nSessionID: 1980589\r\n\r\n\x00",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("response lacks %q:\n%s", want, text)
		}
	}
}

func TestParseSLPRejects(t *testing.T) {
	for name, in := range map[string]string{
		"no blank line": "INVITE MSNMSGR:a@b MSNSLP/1.0\r\nCall-ID: {x}\r\n",
		"bad status":    "MSNSLP/1.0 OK fine\r\nCall-ID: {x}\r\n\r\n",
		"no call id":    "BYE MSNMSGR:a@b MSNSLP/1.0\r\n\r\n",
		"bad length":    "BYE MSNMSGR:a@b MSNSLP/1.0\r\nCall-ID: {x}\r\nContent-Length: -3\r\n\r\n",
		"not utf-8":     "BYE MSNMSGR:a@b MSNSLP/1.0\r\nCall-ID: {\xff}\r\n\r\n",
		"garbage":       "\x01\x02\x03",
	} {
		if _, err := ParseSLP([]byte(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestMSNObjectMSNPikiExample checks parsing and SHA1C against the
// well-known example object of the protocol documentation, whose SHA1C was
// computed by the official client.
func TestMSNObjectMSNPikiExample(t *testing.T) {
	const s = `<msnobj Creator="buddy1@hotmail.com" Size="24539" Type="3" Location="TFR2C.tmp" Friendly="AAA=" SHA1D="trC8SlFx2sWQxZMIBAWSEnXc8oQ=" SHA1C="U32o6bosZzluJq82eAtMpx5dIEI="/>`
	o, err := ParseMSNObject(s)
	if err != nil {
		t.Fatal(err)
	}
	if o.Creator != "buddy1@hotmail.com" || o.Size != 24539 || o.Type != ObjectDisplayPicture ||
		o.Location != "TFR2C.tmp" || o.Friendly != "AAA=" || o.SHA1D != "trC8SlFx2sWQxZMIBAWSEnXc8oQ=" {
		t.Fatalf("parsed %+v", o)
	}
	if got := o.ComputeSHA1C(); got != "U32o6bosZzluJq82eAtMpx5dIEI=" {
		t.Fatalf("SHA1C %s, want the official client's U32o6bosZzluJq82eAtMpx5dIEI=", got)
	}
	if o.String() != s {
		t.Fatalf("rebuilt:\n%s\nwant\n%s", o.String(), s)
	}
	if EncodeFriendly("") != "AAA=" {
		t.Fatalf("empty friendly name %q", EncodeFriendly(""))
	}
}

func TestMSNObjectBuildAndVerify(t *testing.T) {
	data := []byte("picture bytes")
	o := NewMSNObject("me@example.com", ObjectDisplayPicture, data, "", "")
	// SHA-1 of "picture bytes", computed independently with sha1sum.
	if o.SHA1D != "aNVRL5YMAadSIFf/AvWtQWNakfA=" {
		t.Fatalf("SHA1D %s", o.SHA1D)
	}
	back, err := ParseMSNObject(o.String())
	if err != nil {
		t.Fatal(err)
	}
	if back.SHA1C != back.ComputeSHA1C() || back.Verify(data) != nil {
		t.Fatal("round trip lost the checksums")
	}
	if back.Verify([]byte("other bytes!!")) == nil {
		t.Fatal("wrong data verified")
	}
}

func TestParseMSNObjectRejects(t *testing.T) {
	for name, in := range map[string]string{
		"placeholder":  "<msnobj/>",
		"other tag":    `<img SHA1D="trC8SlFx2sWQxZMIBAWSEnXc8oQ="/>`,
		"bad sha1d":    `<msnobj SHA1D="not base64!"/>`,
		"short sha1d":  `<msnobj SHA1D="AAAA"/>`,
		"bad size":     `<msnobj Size="-1" SHA1D="trC8SlFx2sWQxZMIBAWSEnXc8oQ="/>`,
		"entity bomb":  `<!DOCTYPE x [<!ENTITY a "aaaa">]><msnobj Creator="&a;" SHA1D="x"/>`,
		"huge":         "<msnobj Creator=\"" + strings.Repeat("a", 10000) + "\"/>",
		"not xml":      "hello",
		"unterminated": `<msnobj Creator="a`,
	} {
		if _, err := ParseMSNObject(in); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
