package p2p

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"strconv"
	"strings"
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

// TestP2Pv2FileInviteDeclined: a file offered over P2P version 2 by a WLM
// 2009 endpoint, its INVITE in two chunks, is acknowledged the version 2
// way (our SYN with peer info in the ack of its SYN), declined with a 603
// over version 2 to the inviting endpoint, and reported with the offered
// file's context so the application can name it.
func TestP2Pv2FileInviteDeclined(t *testing.T) {
	sent := make(chan []byte, 16)
	reported := make(chan *UnsupportedInvite, 1)
	m := NewManager(Config{
		Self: v2Me, SelfGUID: "{" + strings.ToUpper(v2MyGUID) + "}",
		Send: func(_ context.Context, peer string, payload []byte) error {
			if peer != v2Peer {
				t.Errorf("sent to %q", peer)
			}
			sent <- bytes.Clone(payload)
			return nil
		},
		OnUnsupportedInvite: func(_ string, inv *UnsupportedInvite) { reported <- inv },
	})
	defer m.Stop()
	fc := (&FileContext{Name: "holiday.jpg", Size: 123456}).Marshal()
	body := "EUF-GUID: " + EUFGUIDFile + "\r\nSessionID: 4242\r\nAppID: 2\r\nContext: " + base64.StdEncoding.EncodeToString(fc) + "\r\n\r\n"
	invite := "INVITE MSNMSGR:" + v2Me + ";{" + v2MyGUID + "} MSNSLP/1.0\r\n" +
		"To: <msnmsgr:" + v2Me + ";{" + v2MyGUID + "}>\r\nFrom: <msnmsgr:" + v2Peer + ";{" + v2PeerGUID + "}>\r\n" +
		"Via: MSNSLP/1.0/TLPv2 ;branch={A0D624A6-6C0C-4283-A9E0-BC97B4B46D32}\r\nCSeq: 0 \r\n" +
		"Call-ID: {D1DD4C3E-1A28-4C3B-9C4B-8F0A8E5F2C11}\r\nMax-Forwards: 0\r\n" +
		"Content-Type: application/x-msnmsgr-sessionreqbody\r\nContent-Length: " + strconv.Itoa(len(body)+1) + "\r\n\r\n" + body + "\x00"
	half := len(invite) / 2
	const seq = 0x01000000
	m.HandleMessage(v2Peer, v2Envelope(wlm2009Packet(V2OpSYN|V2OpRAK, seq, true, v2TFFirst, uint64(len(invite)-half), []byte(invite[:half]))))
	second := uint32(seq + 8 + 12 + half) // sequence advances by the payload (data header with TLV, data)
	m.HandleMessage(v2Peer, v2Envelope(wlm2009Packet(V2OpRAK, second, false, 0, 0, []byte(invite[half:]))))

	var acks []*V2Packet
	var decline *SLPMessage
	deadline := time.After(5 * time.Second)
	for decline == nil || len(acks) < 2 {
		select {
		case payload := <-sent:
			env, err := ParseEnvelope(payload)
			if err != nil {
				t.Fatal(err)
			}
			if env.DestEmail() != v2Peer || env.DestGUID() != v2PeerGUID || !strings.HasPrefix(strings.ToLower(env.Src), v2Me+";{"+v2MyGUID) {
				t.Fatalf("sent from %q to %q", env.Src, env.Dest)
			}
			pkt, err := ParseV2(env.Body)
			if err != nil {
				t.Fatalf("we sent a malformed version 2 packet: %v", err)
			}
			if pkt.HasAck {
				acks = append(acks, pkt)
				continue
			}
			if decline, err = ParseSLP(pkt.Data); err != nil {
				t.Fatalf("our answer: %v", err)
			}
			if pkt.SessionID != 0 || pkt.TF&v2TFFirst == 0 || pkt.OpCode&V2OpRAK == 0 {
				t.Errorf("decline sent as %+v", pkt)
			}
		case <-deadline:
			t.Fatalf("got %d acks and decline %v", len(acks), decline)
		}
	}
	byAck := map[uint32]*V2Packet{}
	for _, a := range acks {
		byAck[a.AckSeq] = a
	}
	first := byAck[second]
	if first == nil || first.OpCode != V2OpSYN|V2OpRAK || len(first.PeerInfo) != 12 {
		t.Errorf("the SYN was not acked with our SYN: %+v", acks)
	}
	if last := byAck[second+uint32(8+len(invite)-half)]; last == nil || last.OpCode != 0 {
		t.Errorf("the second chunk was not acked plainly: %+v", acks)
	}
	if decline.StatusCode != 603 || decline.CallID() != "{D1DD4C3E-1A28-4C3B-9C4B-8F0A8E5F2C11}" ||
		!strings.Contains(decline.Get("To"), v2PeerGUID) || decline.BodyFields()["sessionid"] != "4242" {
		t.Errorf("declined with %+v", decline)
	}
	select {
	case inv := <-reported:
		got, err := ParseFileContext(inv.Context)
		if inv.EUFGUID != EUFGUIDFile || inv.AppID != 2 || err != nil || got.Name != "holiday.jpg" || got.Size != 123456 {
			t.Errorf("reported %+v (%+v, %v)", inv, got, err)
		}
	case <-deadline:
		t.Fatal("the declined offer was not reported")
	}
}

// TestP2Pv2Malformed: version 2 packets with lengths that do not add up,
// TLVs past their header or an oversized MSNSLP message are dropped
// without an answer or a report.
func TestP2Pv2Malformed(t *testing.T) {
	sent := make(chan []byte, 64)
	reported := make(chan *UnsupportedInvite, 1)
	m := NewManager(Config{Self: v2Me, SelfGUID: v2MyGUID,
		Send:                func(_ context.Context, _ string, p []byte) error { sent <- p; return nil },
		OnUnsupportedInvite: func(_ string, inv *UnsupportedInvite) { reported <- inv }})
	defer m.Stop()
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
	select {
	case p := <-sent:
		t.Fatalf("answered bad input: %q", p)
	case inv := <-reported:
		t.Fatalf("reported %+v", inv)
	case <-time.After(200 * time.Millisecond):
	}
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
