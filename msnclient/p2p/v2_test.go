package p2p

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	v2Me       = "me@example.com"
	v2MyGUID   = "11111111-2222-3333-4444-555555555555"
	v2Peer     = "wlm@example.com"
	v2PeerGUID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
)

// wlm2009Packet builds a P2P version 2 packet the way WLM 2009 sends it,
// byte by byte from the layout (not with AppendV2): TLP header with the
// given TLVs, data header with TF, session 0 and the data-remaining TLV
// when remaining > 0, the data, and the footer.
func wlm2009Packet(op byte, seq uint32, peerInfo bool, tf byte, remaining uint64, data []byte) []byte {
	tlp := []byte{0, op, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(tlp[4:], seq)
	if peerInfo {
		tlp = append(tlp, 0x01, 12, 0x00, 0x02, 0x00, 0x00, 0x00, 0x0E, 0x00, 0x00, 0x0F, 0x01, 0x00, 0x00)
	}
	for len(tlp)%4 != 0 {
		tlp = append(tlp, 0)
	}
	tlp[0] = byte(len(tlp))
	dh := []byte{8, tf, 0, 1, 0, 0, 0, 0}
	if remaining > 0 {
		dh = append(dh, 0x01, 8)
		dh = binary.BigEndian.AppendUint64(dh, remaining)
		for len(dh)%4 != 0 {
			dh = append(dh, 0)
		}
		dh[0] = byte(len(dh))
	}
	binary.BigEndian.PutUint16(tlp[2:], uint16(len(dh)+len(data)))
	b := append(tlp, dh...)
	b = append(b, data...)
	return append(b, 0, 0, 0, 0)
}

func v2Envelope(body []byte) []byte {
	return append([]byte("MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\n"+
		"P2P-Dest: "+v2Me+";{"+v2MyGUID+"}\r\nP2P-Src: "+v2Peer+";{"+v2PeerGUID+"}\r\n\r\n"), body...)
}

// v2Sent is what a manager sent to a version 2 peer.
type v2Sent struct {
	t    *testing.T
	ch   chan []byte
	acks []*V2Packet
}

func newV2Manager(t *testing.T) (*Manager, *v2Sent) {
	sent := &v2Sent{t: t, ch: make(chan []byte, 256)}
	m := NewManager(Config{
		Self: v2Me, SelfGUID: "{" + strings.ToUpper(v2MyGUID) + "}", AckTimeout: 5 * time.Second,
		Send: func(_ context.Context, peer string, payload []byte) error {
			if peer != v2Peer {
				t.Errorf("sent to %q", peer)
			}
			sent.ch <- bytes.Clone(payload)
			return nil
		},
	})
	t.Cleanup(m.Stop)
	return m, sent
}

// next returns the next MSNSLP message the manager sent, checking that it
// went to the peer's endpoint over version 2 and keeping the acks seen on
// the way.
func (s *v2Sent) next() (*V2Packet, *SLPMessage) {
	s.t.Helper()
	deadline := time.After(testTimeout)
	for {
		select {
		case payload := <-s.ch:
			env, err := ParseEnvelope(payload)
			if err != nil {
				s.t.Fatal(err)
			}
			if env.DestEmail() != v2Peer || env.DestGUID() != v2PeerGUID || !strings.HasPrefix(strings.ToLower(env.Src), v2Me+";{"+v2MyGUID) {
				s.t.Fatalf("sent from %q to %q", env.Src, env.Dest)
			}
			pkt, err := ParseV2(env.Body)
			if err != nil {
				s.t.Fatalf("we sent a malformed version 2 packet: %v", err)
			}
			if pkt.HasAck {
				s.acks = append(s.acks, pkt)
				continue
			}
			slp, err := ParseSLP(pkt.Data)
			if err != nil {
				s.t.Fatalf("our MSNSLP message: %v", err)
			}
			if pkt.SessionID != 0 || pkt.TF&v2TFFirst == 0 || pkt.OpCode&V2OpRAK == 0 {
				s.t.Errorf("MSNSLP sent as %+v", pkt)
			}
			return pkt, slp
		case <-deadline:
			s.t.Fatalf("nothing more sent (%d acks)", len(s.acks))
		}
	}
}

// v2Invite is an INVITE from the WLM 2009 endpoint.
func v2Invite(eufGUID, callID string, sid int, appID int, context []byte) string {
	body := "EUF-GUID: " + eufGUID + "\r\nSessionID: " + strconv.Itoa(sid) + "\r\nAppID: " + strconv.Itoa(appID) + "\r\n"
	if context != nil {
		body += "Context: " + base64.StdEncoding.EncodeToString(context) + "\r\n"
	}
	body += "\r\n"
	return "INVITE MSNMSGR:" + v2Me + ";{" + v2MyGUID + "} MSNSLP/1.0\r\n" +
		"To: <msnmsgr:" + v2Me + ";{" + v2MyGUID + "}>\r\nFrom: <msnmsgr:" + v2Peer + ";{" + v2PeerGUID + "}>\r\n" +
		"Via: MSNSLP/1.0/TLPv2 ;branch={A0D624A6-6C0C-4283-A9E0-BC97B4B46D32}\r\nCSeq: 0 \r\n" +
		"Call-ID: " + callID + "\r\nMax-Forwards: 0\r\n" +
		"Content-Type: application/x-msnmsgr-sessionreqbody\r\nContent-Length: " + strconv.Itoa(len(body)+1) + "\r\n\r\n" + body + "\x00"
}

const v2CallID = "{D1DD4C3E-1A28-4C3B-9C4B-8F0A8E5F2C11}"

// fileReceiver is a streamed receive answer recording what it got.
type fileReceiver struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	done chan error
}

func (r *fileReceiver) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.Write(p)
}

func (r *fileReceiver) answer(size int64) Answer {
	return Answer{Accept: true, Receive: true, MaxSize: size, Sink: r, StallTimeout: 2 * time.Second,
		OnData: func(_ []byte, err error) { r.done <- err }}
}

// TestP2Pv2FileReceived: a file WLM 2009 sends over P2P version 2, its
// INVITE in two chunks, is acknowledged the version 2 way (our SYN with
// peer info in the ack of its SYN), accepted with 200 OK to the inviting
// endpoint, received whole from data packets of any size, and the session
// closed with BYE.
func TestP2Pv2FileReceived(t *testing.T) {
	m, sent := newV2Manager(t)
	data := make([]byte, 5000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	r := &fileReceiver{done: make(chan error, 1)}
	m.HandleInvites(EUFGUIDFile, func(_ context.Context, peer string, inv *Invite) Answer {
		fc, err := ParseFileContext(inv.Context)
		if peer != v2Peer || err != nil || fc.Name != "holiday.jpg" || fc.Size != uint64(len(data)) || inv.SessionID != 4242 {
			t.Errorf("invite from %s: %+v (%+v, %v)", peer, inv, fc, err)
		}
		return r.answer(int64(fc.Size))
	})
	invite := v2Invite(EUFGUIDFile, v2CallID, 4242, 2, (&FileContext{Name: "holiday.jpg", Size: uint64(len(data))}).Marshal())
	half := len(invite) / 2
	const seq = 0x01000000
	m.HandleMessage(v2Peer, v2Envelope(wlm2009Packet(V2OpSYN|V2OpRAK, seq, true, v2TFFirst, uint64(len(invite)-half), []byte(invite[:half]))))
	second := uint32(seq + 8 + 12 + half) // sequence advances by the payload (data header with TLV, data)
	m.HandleMessage(v2Peer, v2Envelope(wlm2009Packet(V2OpRAK, second, false, 0, 0, []byte(invite[half:]))))

	_, ok := sent.next()
	if len(sent.acks) == 0 || sent.acks[0].OpCode != V2OpSYN|V2OpRAK {
		t.Errorf("our SYN (the ack of the peer's) did not come before the 200 OK: %+v", sent.acks)
	}
	if ok.StatusCode != 200 || ok.CallID() != v2CallID || !strings.Contains(ok.Get("To"), v2PeerGUID) || ok.BodyFields()["sessionid"] != "4242" {
		t.Fatalf("answered with %+v", ok)
	}
	if first := sent.waitAck(second); first.OpCode != V2OpSYN|V2OpRAK || len(first.PeerInfo) != 12 {
		t.Errorf("the SYN was not acked with our SYN: %+v", first)
	}
	if last := sent.waitAck(second + uint32(8+len(invite)-half)); last.OpCode != 0 {
		t.Errorf("the second chunk was not acked plainly: %+v", last)
	}

	// The data, as WLM 2009 sends it: session packets of uneven size,
	// the file-transfer TF, the last one asking for an ack.
	dataSeq := uint32(0x02000000)
	for i, cut := range [][2]int{{0, 1300}, {1300, 2600}, {2600, 5000}} {
		tf := byte(0x06)
		if i == 0 {
			tf |= v2TFFirst
		}
		op := byte(0)
		if i == 2 {
			op = V2OpRAK
		}
		pkt := &V2Packet{OpCode: op, Sequence: dataSeq, TF: tf, SessionID: 4242, DataRemaining: uint64(len(data) - cut[1]), Data: data[cut[0]:cut[1]], Footer: 2}
		m.HandleMessage(v2Peer, v2Envelope(pkt.AppendV2(nil, true)))
		dataSeq += uint32(binary.BigEndian.Uint16(pkt.AppendV2(nil, true)[2:]))
	}
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(testTimeout):
		t.Fatal("the file never completed")
	}
	r.mu.Lock()
	got := bytes.Clone(r.buf.Bytes())
	r.mu.Unlock()
	if !bytes.Equal(got, data) {
		t.Fatalf("received %d bytes differing from the %d sent", len(got), len(data))
	}
	_, bye := sent.next()
	if bye.Method != "BYE" || bye.CallID() != v2CallID || !strings.Contains(bye.Get("To"), v2PeerGUID) {
		t.Errorf("closed with %+v", bye)
	}
	sent.waitAck(dataSeq)
	waitIdle(t, m)
}

// waitAck waits for our ack of everything up to seq and returns it.
func (s *v2Sent) waitAck(seq uint32) *V2Packet {
	s.t.Helper()
	deadline := time.After(testTimeout)
	for {
		for _, a := range s.acks {
			if a.AckSeq == seq {
				return a
			}
		}
		select {
		case payload := <-s.ch:
			env, err := ParseEnvelope(payload)
			if err != nil {
				s.t.Fatal(err)
			}
			if pkt, err := ParseV2(env.Body); err == nil && pkt.HasAck {
				s.acks = append(s.acks, pkt)
			}
		case <-deadline:
			s.t.Fatalf("no ack of %d among %d acks", seq, len(s.acks))
		}
	}
}

// TestP2Pv2MoreThanAnnounced: a sender that sends more data over version
// 2 than its offer announced gets no file through: the receive fails
// with ErrTooLarge and the session is closed.
func TestP2Pv2MoreThanAnnounced(t *testing.T) {
	m, sent := newV2Manager(t)
	r := &fileReceiver{done: make(chan error, 1)}
	m.HandleInvites(EUFGUIDFile, func(context.Context, string, *Invite) Answer { return r.answer(100) })
	invite := v2Invite(EUFGUIDFile, v2CallID, 77, 2, (&FileContext{Name: "a.bin", Size: 100}).Marshal())
	m.HandleMessage(v2Peer, v2Envelope(wlm2009Packet(V2OpSYN|V2OpRAK, 1, true, v2TFFirst, 0, []byte(invite))))
	if _, ok := sent.next(); ok.StatusCode != 200 {
		t.Fatalf("answered %d", ok.StatusCode)
	}
	pkt := &V2Packet{Sequence: 500, TF: 0x07, SessionID: 77, Data: make([]byte, 150)}
	m.HandleMessage(v2Peer, v2Envelope(pkt.AppendV2(nil, true)))
	select {
	case err := <-r.done:
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("receive ended with %v, want ErrTooLarge", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("the receive never ended")
	}
	if _, bye := sent.next(); bye.Method != "BYE" {
		t.Errorf("closed with %s", bye.Method)
	}
	waitIdle(t, m)
}

// TestP2Pv2OtherInvitesDeclined: invitations other than files (here a
// request for our display picture, which would need us to send data over
// version 2) are declined with 603 over version 2, so the sender does not
// wait.
func TestP2Pv2OtherInvitesDeclined(t *testing.T) {
	m, sent := newV2Manager(t)
	NewObjects(m).Serve(NewMSNObject(v2Me, ObjectDisplayPicture, []byte("png"), "", ""), []byte("png"))
	invite := v2Invite("{A4268EEC-FEC5-49E5-95C3-F126696BDBF6}", v2CallID, 9, 12, []byte("<msnobj/>"))
	m.HandleMessage(v2Peer, v2Envelope(wlm2009Packet(V2OpSYN|V2OpRAK, 1, true, v2TFFirst, 0, []byte(invite))))
	_, decline := sent.next()
	if decline.StatusCode != 603 || decline.CallID() != v2CallID || decline.BodyFields()["sessionid"] != "9" {
		t.Fatalf("answered %+v", decline)
	}
	waitIdle(t, m)
}

// TestP2Pv2Malformed: version 2 packets with lengths that do not add up,
// TLVs past their header or an oversized MSNSLP message are dropped
// without an answer.
func TestP2Pv2Malformed(t *testing.T) {
	m, sent := newV2Manager(t)
	good := wlm2009Packet(0, 7, false, v2TFFirst, 0, []byte("INVITE x"))
	for _, b := range [][]byte{
		good[:7],                                        // cut in the TLP header
		append([]byte{12}, good[1:]...),                 // header length past the TLVs there are
		append([]byte{9}, good[1:]...),                  // header length not a multiple of 4
		append(good[:len(good)-4], 0xff, 0, 0, 0, 0, 0), // more bytes than announced
		{12, 0, 0, 0, 0, 0, 0, 0, 0x01, 200, 0, 0},      // TLV longer than the header
	} {
		m.HandleMessage(v2Peer, v2Envelope(b))
	}
	// An MSNSLP message over the size limit, as chunks without an end.
	chunk := bytes.Repeat([]byte("A"), 60000)
	m.HandleMessage(v2Peer, v2Envelope(wlm2009Packet(0, 100, false, v2TFFirst, 60000, chunk)))
	m.HandleMessage(v2Peer, v2Envelope(wlm2009Packet(0, 200, false, 0, 0, chunk)))
	// Data for a session that does not exist.
	stray := &V2Packet{Sequence: 300, TF: 0x07, SessionID: 1234, Data: []byte("data")}
	m.HandleMessage(v2Peer, v2Envelope(stray.AppendV2(nil, true)))
	select {
	case p := <-sent.ch:
		t.Fatalf("answered bad input: %q", p)
	case <-time.After(200 * time.Millisecond):
	}
	waitIdle(t, m)
}

// FuzzParseV2: any bytes parse or fail cleanly; what parses has its data
// within the input and re-encodes to a packet that parses the same.
func FuzzParseV2(f *testing.F) {
	f.Add(wlm2009Packet(V2OpSYN|V2OpRAK, 1, true, v2TFFirst, 10, []byte("INVITE MSNMSGR:x MSNSLP/1.0\r\n")))
	f.Add(wlm2009Packet(0, 5, false, 0, 0, nil))
	f.Add([]byte{8, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseV2(b)
		if err != nil {
			return
		}
		again, err := ParseV2(p.AppendV2(nil, p.PayloadLen > 0))
		if err != nil {
			t.Fatalf("re-parse of our own encoding: %v", err)
		}
		if !bytes.Equal(again.Data, p.Data) || again.SessionID != p.SessionID || again.Sequence != p.Sequence ||
			again.HasAck != p.HasAck || again.AckSeq != p.AckSeq || again.DataRemaining != p.DataRemaining {
			t.Fatalf("re-encoding changed the packet: %+v vs %+v", again, p)
		}
	})
}

// TestP2Pv2StateBounded: packets from ever new endpoints do not grow the
// version 2 state without bound.
func TestP2Pv2StateBounded(t *testing.T) {
	m := NewManager(Config{Self: v2Me, SelfGUID: v2MyGUID, Send: func(context.Context, string, []byte) error { return nil }})
	defer m.Stop()
	for i := range 500 {
		env := "MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\nP2P-Dest: " + v2Me + ";{" + v2MyGUID + "}\r\n" +
			"P2P-Src: " + v2Peer + ";{" + strconv.Itoa(i) + "}\r\n\r\n"
		m.HandleMessage(v2Peer, append([]byte(env), wlm2009Packet(V2OpRAK, uint32(i), false, v2TFFirst, 100, []byte("INVITE"))...))
	}
	m.mu.Lock()
	n := len(m.v2)
	m.mu.Unlock()
	if n > maxV2Links {
		t.Fatalf("version 2 state for %d endpoints", n)
	}
}
