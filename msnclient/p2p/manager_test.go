package p2p

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

const (
	me    = "me@example.com"
	buddy = "buddy@example.com"
)

// testTimeout is generous: tests run on a loaded machine.
const testTimeout = 30 * time.Second

// scriptedPeer plays the remote client with hand-built packets (the layout
// written out below, not our encoder) and sees what the manager sends.
type scriptedPeer struct {
	t       *testing.T
	m       *Manager
	out     chan []byte // payloads the manager sent
	id      uint32
	acked   map[uint32]*Packet // acks seen, by acked id
	pending []*Packet          // read while looking for an ack
}

func newScriptedPeer(t *testing.T, cfg Config) *scriptedPeer {
	p := &scriptedPeer{t: t, out: make(chan []byte, 1024), id: 5000, acked: make(map[uint32]*Packet)}
	cfg.Self = me
	cfg.Send = func(ctx context.Context, peer string, payload []byte) error {
		if peer != buddy {
			return fmt.Errorf("sent to %s", peer)
		}
		if len(payload) > 1664 {
			t.Errorf("payload of %d bytes is over the switchboard limit", len(payload))
		}
		p.out <- append([]byte(nil), payload...)
		return nil
	}
	p.m = NewManager(cfg)
	t.Cleanup(p.m.Stop)
	return p
}

// rawPacket writes a P2Pv1 packet field by field (reference layout).
func rawPacket(dest string, sid, id uint32, off, total uint64, flags, ackSID, ackUID uint32, ackSize uint64, data []byte, footer uint32) []byte {
	b := []byte("MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\nP2P-Dest: " + dest + "\r\n\r\n")
	h := make([]byte, 48)
	binary.LittleEndian.PutUint32(h[0:], sid)
	binary.LittleEndian.PutUint32(h[4:], id)
	binary.LittleEndian.PutUint64(h[8:], off)
	binary.LittleEndian.PutUint64(h[16:], total)
	binary.LittleEndian.PutUint32(h[24:], uint32(len(data)))
	binary.LittleEndian.PutUint32(h[28:], flags)
	binary.LittleEndian.PutUint32(h[32:], ackSID)
	binary.LittleEndian.PutUint32(h[36:], ackUID)
	binary.LittleEndian.PutUint64(h[40:], ackSize)
	b = append(b, h...)
	b = append(b, data...)
	var f [4]byte
	binary.BigEndian.PutUint32(f[:], footer)
	return append(b, f[:]...)
}

// send sends a whole message in chunks of size bytes; it returns its id.
func (p *scriptedPeer) send(sid, flags, footer uint32, data []byte, size int) uint32 {
	p.id++
	total := uint64(len(data))
	for off := 0; off == 0 || off < len(data); off += size {
		end := min(off+size, len(data))
		p.m.HandleMessage(buddy, rawPacket(me, sid, p.id, uint64(off), total, flags, 0xC0FFEE00+p.id, 0, 0, data[off:end], footer))
		if len(data) == 0 {
			break
		}
	}
	return p.id
}

func (p *scriptedPeer) slp(text string) uint32 { return p.send(0, 0, 0, []byte(text), 1202) }

// ack acknowledges a message the manager sent.
func (p *scriptedPeer) ack(pkt *Packet) {
	p.id++
	p.m.HandleMessage(buddy, rawPacket(me, pkt.SessionID, p.id, 0, pkt.TotalSize, FlagAck, pkt.Identifier, pkt.AckSessionID, pkt.TotalSize, nil, 0))
}

// next returns the next packet the manager sent, checking its envelope.
func (p *scriptedPeer) next() *Packet {
	p.t.Helper()
	if len(p.pending) > 0 {
		pkt := p.pending[0]
		p.pending = p.pending[1:]
		return pkt
	}
	return p.read()
}

// read reads the next packet sent, recording acks.
func (p *scriptedPeer) read() *Packet {
	p.t.Helper()
	select {
	case payload := <-p.out:
		env, err := ParseEnvelope(payload)
		if err != nil || env.Dest != buddy {
			p.t.Fatalf("bad envelope (%v): %q", err, payload[:min(len(payload), 120)])
		}
		pkt, err := ParsePacket(env.Body)
		if err != nil {
			p.t.Fatal(err)
		}
		if pkt.IsAck() {
			p.acked[pkt.AckSessionID] = pkt
		}
		return pkt
	case <-time.After(testTimeout):
		p.t.Fatal("the manager sent nothing")
		return nil
	}
}

// nextMessage returns the next non-ack message, reassembled, and the acks
// seen before it.
func (p *scriptedPeer) nextMessage() (first *Packet, data []byte, acks []*Packet) {
	p.t.Helper()
	for {
		pkt := p.next()
		if pkt.IsAck() {
			acks = append(acks, pkt)
			continue
		}
		if first == nil {
			first = pkt
		} else if pkt.Identifier != first.Identifier || pkt.Offset != uint64(len(data)) {
			p.t.Fatalf("chunk of message %d at %d while reading message %d at %d", pkt.Identifier, pkt.Offset, first.Identifier, len(data))
		}
		data = append(data, pkt.Data...)
		if uint64(len(data)) == first.TotalSize {
			return first, data, acks
		}
	}
}

// nextSLP returns the next MSNSLP message the manager sent.
func (p *scriptedPeer) nextSLP() (*Packet, *SLPMessage) {
	p.t.Helper()
	first, data, _ := p.nextMessage()
	if first.SessionID != 0 || first.Footer != 0 {
		p.t.Fatalf("MSNSLP message with session %d footer %d", first.SessionID, first.Footer)
	}
	if data[len(data)-1] != 0 {
		p.t.Fatal("MSNSLP message without its NUL")
	}
	m, err := ParseSLP(data)
	if err != nil {
		p.t.Fatal(err)
	}
	return first, m
}

func inviteText(from, to, callID string, sid uint32, appID int, context string) string {
	body := "EUF-GUID: {A4268EEC-FEC5-49E5-95C3-F126696BDBF6}\r\nSessionID: " + fmt.Sprint(sid) +
		"\r\nAppID: " + fmt.Sprint(appID) + "\r\nContext: " + context + "\r\n\r\n\x00"
	return "INVITE MSNMSGR:" + to + " MSNSLP/1.0\r\nTo: <msnmsgr:" + to + ">\r\nFrom: <msnmsgr:" + from + ">\r\n" +
		"Via: MSNSLP/1.0/TLP ;branch={0C1D2E3F-0000-4000-8000-000000000001}\r\nCSeq: 0 \r\nCall-ID: " + callID + "\r\n" +
		"Max-Forwards: 0\r\nContent-Type: application/x-msnmsgr-sessionreqbody\r\nContent-Length: " + fmt.Sprint(len(body)) + "\r\n\r\n" + body
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestServePicture: a requester behaving like libpurple asks for our
// picture; we answer 200 OK, send the data-preparation message and the
// data in chunks, each step after the peer's ack.
func TestServePicture(t *testing.T) {
	p := newScriptedPeer(t, Config{})
	const callID = "{9D79AE57-1BD5-444B-B14E-3FC9BB2B5D58}"
	pic, inviteID := askServedPicture(t, p, callID, 1980589)

	ok, resp := p.nextSLP()
	if resp.StatusCode != 200 || resp.CallID() != callID || resp.BodyFields()["sessionid"] != "1980589" ||
		resp.To() != buddy || resp.From() != me {
		t.Fatalf("response %d %+v", resp.StatusCode, resp.Headers)
	}
	p.ack(ok)
	prep, prepData, acks := p.nextMessage()
	_ = acks
	p.sawAck(inviteID)
	if prep.SessionID != 1980589 || prep.Flags != 0 || prep.Footer != 1 || !bytes.Equal(prepData, []byte{0, 0, 0, 0}) {
		t.Fatalf("data preparation %+v footer %d data %x", prep.Header, prep.Footer, prepData)
	}
	p.ack(prep)
	first, data, _ := p.nextMessage()
	if first.SessionID != 1980589 || first.Flags != FlagMSNObjData || first.Footer != 1 || !bytes.Equal(data, pic) {
		t.Fatalf("data %+v footer %d, %d bytes", first.Header, first.Footer, len(data))
	}
	p.ack(first)
	byeID := p.slp("BYE MSNMSGR:" + me + " MSNSLP/1.0\r\nTo: <msnmsgr:" + me + ">\r\nFrom: <msnmsgr:" + buddy + ">\r\n" +
		"Via: MSNSLP/1.0/TLP ;branch={A0000000-0000-4000-8000-000000000002}\r\nCSeq: 0 \r\nCall-ID: " + callID + "\r\n" +
		"Max-Forwards: 0\r\nContent-Type: application/x-msnmsgr-sessionclosebody\r\nContent-Length: 3\r\n\r\n\r\n\x00")
	p.sawAck(byeID)
	waitIdle(t, p.m)
}

// askServedPicture makes the manager serve a picture and sends its
// INVITE as a libpurple requester does; it returns the picture and the
// INVITE's message id.
func askServedPicture(t *testing.T, p *scriptedPeer, callID string, sid uint32) ([]byte, uint32) {
	t.Helper()
	objs := NewObjects(p.m)
	pic := randomBytes(t, 3000)
	obj := NewMSNObject(me, ObjectDisplayPicture, pic, "", "")
	objs.Serve(obj, pic)
	ctx64 := base64.StdEncoding.EncodeToString(append([]byte(obj.String()), 0))
	return pic, p.slp(inviteText(buddy, me, callID, sid, 1, ctx64))
}

// sawAck reads packets until the ack of id and checks its fields; other
// packets are kept for next.
func (p *scriptedPeer) sawAck(id uint32) bool {
	p.t.Helper()
	for p.acked[id] == nil {
		if pkt := p.read(); !pkt.IsAck() {
			p.pending = append(p.pending, pkt)
		}
	}
	pkt := p.acked[id]
	if pkt.AckUniqueID != 0xC0FFEE00+id || pkt.AckDataSize != pkt.TotalSize || pkt.MessageSize != 0 || pkt.Flags != FlagAck {
		p.t.Errorf("ack fields %+v", pkt.Header)
	}
	return true
}

func waitIdle(t *testing.T, m *Manager) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		a, c := m.InFlight()
		if a == 0 && c == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages and %d calls still in flight", a, c)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type fetchResult struct {
	data []byte
	err  error
}

// fetch starts Objects.Fetch of obj from buddy and returns the INVITE.
func fetch(t *testing.T, p *scriptedPeer, obj *MSNObject) (<-chan fetchResult, *Packet, *SLPMessage) {
	t.Helper()
	objs := NewObjects(p.m)
	res := make(chan fetchResult, 1)
	go func() {
		data, err := objs.Fetch(context.Background(), buddy, obj, 0)
		res <- fetchResult{data, err}
	}()
	inv, m := p.nextSLP()
	return res, inv, m
}

// ownerReply answers our INVITE as a WLM owner does: ack, 200 OK,
// data-preparation message.
func ownerReply(p *scriptedPeer, inv *Packet, m *SLPMessage) uint32 {
	p.ack(inv)
	sid := m.BodyFields()["sessionid"]
	body := "SessionID: " + sid + "\r\n\r\n\x00"
	p.slp("MSNSLP/1.0 200 OK\r\nTo: <msnmsgr:" + me + ">\r\nFrom: <msnmsgr:" + buddy + ">\r\nVia: MSNSLP/1.0/TLP ;branch=" + m.Branch() +
		"\r\nCSeq: 1 \r\nCall-ID: " + m.CallID() + "\r\nMax-Forwards: 0\r\nContent-Type: application/x-msnmsgr-sessionreqbody\r\nContent-Length: " +
		fmt.Sprint(len(body)) + "\r\n\r\n" + body)
	var n uint32
	fmt.Sscan(sid, &n)
	p.send(n, 0, 12, []byte{0, 0, 0, 0}, 1202)
	return n
}

// TestFetchPictureFromWLM: we ask a WLM 2009-like owner for its picture; it
// answers with AppID 12, the compatibility flag and 1,344-byte chunks.
func TestFetchPictureFromWLM(t *testing.T) {
	p := newScriptedPeer(t, Config{})
	pic := randomBytes(t, 4000)
	obj := NewMSNObject(buddy, ObjectDisplayPicture, pic, "TFR2C.tmp", "")
	res, inv, m := fetch(t, p, obj)
	f := m.BodyFields()
	ctxBytes, _ := base64.StdEncoding.DecodeString(f["context"])
	if m.Method != "INVITE" || m.To() != buddy || m.From() != me || f["euf-guid"] != EUFGUIDMSNObject ||
		f["appid"] != "1" || string(ctxBytes) != obj.String()+"\x00" || m.Get("CSeq") != "0" {
		t.Fatalf("INVITE %+v body %v", m.Headers, f)
	}
	sid := ownerReply(p, inv, m)
	dataID := p.send(sid, FlagWLM2009Comp|FlagMSNObjData, 12, pic, 1344)
	r := <-res
	if r.err != nil || !bytes.Equal(r.data, pic) {
		t.Fatalf("fetch: %v (%d bytes)", r.err, len(r.data))
	}
	// We ack the data and close the call with BYE.
	var bye *SLPMessage
	sawDataAck := false
	for bye == nil || !sawDataAck {
		pkt := p.next()
		switch {
		case pkt.IsAck() && pkt.AckSessionID == dataID:
			sawDataAck = pkt.AckDataSize == 4000 && pkt.SessionID == sid
		case !pkt.IsAck():
			var err error
			if bye, err = ParseSLP(pkt.Data); err != nil || bye.Method != "BYE" || bye.CallID() != m.CallID() {
				t.Fatalf("expected BYE, got %v %+v", err, bye)
			}
		}
	}
	waitIdle(t, p.m)
}

func TestFetchPictureDeclined(t *testing.T) {
	p := newScriptedPeer(t, Config{})
	obj := NewMSNObject(buddy, ObjectDisplayPicture, []byte("x"), "", "")
	res, _, m := fetch(t, p, obj)
	p.slp("MSNSLP/1.0 603 Decline\r\nTo: <msnmsgr:" + me + ">\r\nFrom: <msnmsgr:" + buddy + ">\r\nVia: MSNSLP/1.0/TLP ;branch=" + m.Branch() +
		"\r\nCSeq: 1 \r\nCall-ID: " + m.CallID() + "\r\nMax-Forwards: 0\r\nContent-Type: application/x-msnmsgr-sessionreqbody\r\nContent-Length: 1\r\n\r\n\x00")
	if r := <-res; !errors.Is(r.err, ErrDeclined) {
		t.Fatalf("got %v, want ErrDeclined", r.err)
	}
	waitIdle(t, p.m)
}

func TestFetchPictureWrongSHA1D(t *testing.T) {
	p := newScriptedPeer(t, Config{})
	obj := NewMSNObject(buddy, ObjectDisplayPicture, []byte("the real picture"), "", "")
	res, inv, m := fetch(t, p, obj)
	sid := ownerReply(p, inv, m)
	p.send(sid, FlagMSNObjData, 1, []byte("another picture!"), 1202) // same size, other bytes
	if r := <-res; r.err == nil || !strings.Contains(r.err.Error(), "SHA1D") {
		t.Fatalf("got %v, want a SHA1D mismatch", r.err)
	}
}

// TestFetchPictureMoreThanAnnounced: the owner announces more data than its
// MSNObject says: the transfer is dropped before anything is buffered.
func TestFetchPictureMoreThanAnnounced(t *testing.T) {
	p := newScriptedPeer(t, Config{})
	obj := NewMSNObject(buddy, ObjectDisplayPicture, randomBytes(t, 2000), "", "")
	res, inv, m := fetch(t, p, obj)
	sid := ownerReply(p, inv, m)
	p.send(sid, FlagMSNObjData, 1, randomBytes(t, 5000), 1202)
	if r := <-res; !errors.Is(r.err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", r.err)
	}
	waitIdle(t, p.m)
}

func TestFetchPictureOverLimit(t *testing.T) {
	p := newScriptedPeer(t, Config{MaxDataSize: 1000})
	obj := NewMSNObject(buddy, ObjectDisplayPicture, randomBytes(t, 2000), "", "")
	_, err := NewObjects(p.m).Fetch(context.Background(), buddy, obj, 0)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
	select {
	case <-p.out:
		t.Fatal("an INVITE was sent for a picture over the limit")
	default:
	}
}

// TestFetchPictureNeverFinishes: the owner stops halfway; the fetch fails
// after the call timeout and nothing stays buffered.
func TestFetchPictureNeverFinishes(t *testing.T) {
	p := newScriptedPeer(t, Config{CallTimeout: 500 * time.Millisecond})
	pic := randomBytes(t, 4000)
	obj := NewMSNObject(buddy, ObjectDisplayPicture, pic, "", "")
	res, inv, m := fetch(t, p, obj)
	sid := ownerReply(p, inv, m)
	p.id++
	p.m.HandleMessage(buddy, rawPacket(me, sid, p.id, 0, 4000, FlagMSNObjData, 1, 0, 0, pic[:1202], 1))
	if r := <-res; !errors.Is(r.err, ErrTimeout) {
		t.Fatalf("got %v, want ErrTimeout", r.err)
	}
	waitIdle(t, p.m)
}

// TestIgnoresMessagesNotForUs: P2P-Dest of someone else (a group
// switchboard relays to everyone) and P2P version 2 are not answered.
func TestIgnoresMessagesNotForUs(t *testing.T) {
	p := newScriptedPeer(t, Config{SelfGUID: "{11111111-2222-3333-4444-555555555555}"})
	text := inviteText(buddy, "other@example.com", "{C0000000-0000-4000-8000-000000000001}", 77, 1, "")
	p.m.HandleMessage(buddy, rawPacket("other@example.com", 0, 900, 0, uint64(len(text)), 0, 1, 0, 0, []byte(text), 0))
	// Another endpoint of ours (MPOP).
	p.m.HandleMessage(buddy, rawPacket(me+";{99999999-2222-3333-4444-555555555555}", 0, 901, 0, uint64(len(text)), 0, 1, 0, 0, []byte(text), 0))
	// A P2P version 2 packet (header length 8, opcode SYN, message size,
	// sequence number, then a data header), addressed by endpoint.
	v2 := []byte("MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\nP2P-Dest: " + me + ";{11111111-2222-3333-4444-555555555555}\r\n" +
		"P2P-Src: " + buddy + ";{aaaaaaaa-2222-3333-4444-555555555555}\r\n\r\n")
	v2 = append(v2, 0x08, 0x01, 0x00, 0x0c, 0x00, 0x00, 0x10, 0x00, 0x08, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05, 'a', 'b', 'c', 'd', 0, 0, 0, 0)
	p.m.HandleMessage(buddy, v2)
	// Then a message for us: the first thing we send is its ack.
	id := p.send(0, 0, 0, []byte("junk that is not MSNSLP"), 1202)
	if pkt := p.next(); !pkt.IsAck() || pkt.AckSessionID != id {
		t.Fatalf("first packet sent %+v, want the ack of message %d", pkt.Header, id)
	}
	// A version 1 packet with endpoint GUIDs on both sides (an MPOP peer
	// using version 1) is handled, not taken for version 2.
	mpop := bytes.Replace(rawPacket(me+";{11111111-2222-3333-4444-555555555555}", 0, 903, 0, 4, 0, 1, 0, 0, []byte("abcd"), 0),
		[]byte("Content-Type"), []byte("P2P-Src: "+buddy+";{aaaaaaaa-2222-3333-4444-555555555555}\r\nContent-Type"), 1)
	p.m.HandleMessage(buddy, mpop)
	if pkt := p.next(); !pkt.IsAck() || pkt.AckSessionID != 903 {
		t.Fatalf("packet sent %+v, want the ack of the MPOP version 1 message", pkt.Header)
	}
}

func TestDeclinesUnknownApplication(t *testing.T) {
	p := newScriptedPeer(t, Config{})
	text := strings.Replace(inviteText(buddy, me, "{C0000000-0000-4000-8000-000000000002}", 78, 2, "AAAA"),
		EUFGUIDMSNObject, "{5D3E02AB-6190-11D3-BBBB-00C04F795683}", 1)
	p.slp(text)
	_, resp := p.nextSLP()
	if resp.StatusCode != 603 || resp.CallID() != "{C0000000-0000-4000-8000-000000000002}" {
		t.Fatalf("got %d for an application we do not run", resp.StatusCode)
	}
}

// TestDeclinesPictureWeDoNotServe: a request for an old picture of ours.
func TestDeclinesPictureWeDoNotServe(t *testing.T) {
	p := newScriptedPeer(t, Config{})
	NewObjects(p.m)
	old := NewMSNObject(me, ObjectDisplayPicture, []byte("old"), "", "")
	p.slp(inviteText(buddy, me, "{C0000000-0000-4000-8000-000000000003}", 79, 1,
		base64.StdEncoding.EncodeToString([]byte(old.String()+"\x00"))))
	if _, resp := p.nextSLP(); resp.StatusCode != 603 {
		t.Fatalf("got %d, want 603", resp.StatusCode)
	}
}

// TestRefusesDirectConnection: a direct-connection offer is answered
// "Listening: false", as libpurple does, so the peer stays on the
// switchboard.
func TestRefusesDirectConnection(t *testing.T) {
	p := newScriptedPeer(t, Config{})
	body := "Bridges: TCPv1 SBBridge\r\nNetID: 0\r\nConn-Type: Direct-Connect\r\nUPnPNat: false\r\nICF: false\r\n" +
		"Hashed-Nonce: {3A5C0D1F-0000-4000-8000-0000000000AA}\r\n\r\n\x00"
	p.slp("INVITE MSNMSGR:" + me + " MSNSLP/1.0\r\nTo: <msnmsgr:" + me + ">\r\nFrom: <msnmsgr:" + buddy + ">\r\n" +
		"Via: MSNSLP/1.0/TLP ;branch={B0000000-0000-4000-8000-000000000004}\r\nCSeq: 0 \r\nCall-ID: {C0000000-0000-4000-8000-000000000004}\r\n" +
		"Max-Forwards: 0\r\nContent-Type: application/x-msnmsgr-transreqbody\r\nContent-Length: " + fmt.Sprint(len(body)) + "\r\n\r\n" + body)
	_, resp := p.nextSLP()
	if resp.StatusCode != 200 || resp.ContentType() != SLPTransResp || resp.BodyFields()["listening"] != "false" ||
		resp.Branch() != "{B0000000-0000-4000-8000-000000000004}" {
		t.Fatalf("got %d %s %q", resp.StatusCode, resp.ContentType(), resp.Body)
	}
}

// TestMalformedInputKeepsWorking: garbage of every kind is dropped and a
// valid request afterwards is still served.
func TestMalformedInputKeepsWorking(t *testing.T) {
	p := newScriptedPeer(t, Config{})
	objs := NewObjects(p.m)
	pic := []byte("small picture")
	obj := NewMSNObject(me, ObjectDisplayPicture, pic, "", "")
	objs.Serve(obj, pic)
	env := "MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\nP2P-Dest: " + me + "\r\n\r\n"
	for _, junk := range [][]byte{
		[]byte(env + "short"),
		[]byte("no headers at all"),
		rawPacket(me, 0, 1, 5000, 100, 0, 0, 0, 0, []byte("x"), 0),              // starts past its end
		rawPacket(me, 0, 2, 10, 100, 0, 0, 0, 0, []byte("x"), 0),                // middle chunk of nothing
		rawPacket(me, 0, 3, 0, 1<<40, 0, 0, 0, 0, []byte("x"), 0),               // absurd size
		rawPacket(me, 99, 4, 0, 10, 0, 0, 0, 0, []byte("0123456789"), 1),        // data for no session
		rawPacket(me, 0, 5, 0, 9, 0, 0, 0, 0, []byte("\xff\xfe\x00garbage"), 0), // not MSNSLP
	} {
		p.m.HandleMessage(buddy, junk)
	}
	// Drain the acks of the complete (but meaningless) messages.
	for len(p.out) > 0 {
		<-p.out
	}
	ctx64 := base64.StdEncoding.EncodeToString(append([]byte(obj.String()), 0))
	p.slp(inviteText(buddy, me, "{C0000000-0000-4000-8000-000000000005}", 80, 1, ctx64))
	_, resp := p.nextSLP()
	if resp.StatusCode != 200 {
		t.Fatalf("got %d after garbage, want 200", resp.StatusCode)
	}
}

// TestDeclinesInviteFlood: a peer cannot open more than maxCallsPerPeer
// sessions at once (each would make us send our picture).
func TestDeclinesInviteFlood(t *testing.T) {
	p := newScriptedPeer(t, Config{AckTimeout: 5 * time.Second})
	objs := NewObjects(p.m)
	pic := []byte("picture")
	obj := NewMSNObject(me, ObjectDisplayPicture, pic, "", "")
	objs.Serve(obj, pic)
	ctx64 := base64.StdEncoding.EncodeToString(append([]byte(obj.String()), 0))
	for i := 0; i < maxCallsPerPeer+3; i++ {
		p.slp(inviteText(buddy, me, fmt.Sprintf("{C0000000-0000-4000-8000-%012d}", i), uint32(100+i), 1, ctx64))
	}
	ok, declined := 0, 0
	for ok+declined < maxCallsPerPeer+3 {
		_, resp := p.nextSLP()
		switch resp.StatusCode {
		case 200:
			ok++
		case 603:
			declined++
		}
	}
	if ok != maxCallsPerPeer || declined != 3 {
		t.Fatalf("%d accepted and %d declined, want %d and 3", ok, declined, maxCallsPerPeer)
	}
}

// TestAbortEndsCalls: when the connection is lost, a fetch waiting for its
// answer ends at once instead of at the call timeout.
func TestAbortEndsCalls(t *testing.T) {
	p := newScriptedPeer(t, Config{})
	obj := NewMSNObject(buddy, ObjectDisplayPicture, []byte("x"), "", "")
	res, _, _ := fetch(t, p, obj)
	gone := errors.New("connection lost")
	p.m.Abort(gone)
	wantFetchErr(t, res, gone, "the fetch did not end")
	waitIdle(t, p.m)
}
