package msnclient_test

import (
	"bytes"
	"encoding/base64"
	"strconv"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/p2p"
)

// TestFileOverP2Pv2 : a WLM 2009 endpoint that sends a file over P2P
// version 2 through the switchboard (MSNP18, both sides with endpoint
// GUIDs) gets it accepted and received like a version 1 file.
func TestFileOverP2Pv2(t *testing.T) {
	srv, alice, bob, ctx := chatPair(t, 18, 18, nil)
	data := randomPicture(t, 20_000)
	fc := (&p2p.FileContext{Name: "party.avi", Size: uint64(len(data))}).Marshal()
	body := "EUF-GUID: " + p2p.EUFGUIDFile + "\r\nSessionID: 99\r\nAppID: 2\r\nContext: " + base64.StdEncoding.EncodeToString(fc) + "\r\n\r\n"
	aliceEP := "alice@example.com;{" + msnclient.EndpointGUID(alice.Client) + "}"
	bobEP := "bob@example.com;{" + msnclient.EndpointGUID(bob.Client) + "}"
	invite := "INVITE MSNMSGR:" + bobEP + " MSNSLP/1.0\r\nTo: <msnmsgr:" + bobEP + ">\r\nFrom: <msnmsgr:" + aliceEP + ">\r\n" +
		"Via: MSNSLP/1.0/TLPv2 ;branch={5C9E5A7E-3E2B-4E4D-9D59-0C4E2A7B1D11}\r\nCSeq: 0 \r\nCall-ID: {0C2B1C44-7F0B-4F7B-8E0E-3C1C9D6C7A22}\r\n" +
		"Max-Forwards: 0\r\nContent-Type: application/x-msnmsgr-sessionreqbody\r\nContent-Length: " + strconv.Itoa(len(body)+1) + "\r\n\r\n" + body + "\x00"
	send := func(pkt *p2p.V2Packet) {
		t.Helper()
		if err := msnclient.SendRawP2P(ctx, alice.Client, bob.email, p2p.AppendEnvelopeV2(nil, bobEP, aliceEP, pkt.AppendV2(nil, true))); err != nil {
			t.Fatal(err)
		}
	}
	// Like WLM, alice sends the data once bob answered: before bob's 200
	// OK the switchboard relays at most the INVITE, bob's ack of it and
	// alice's ack of that, so a fourth message means bob accepted.
	before := srv.SwitchboardMessages()
	send(&p2p.V2Packet{OpCode: p2p.V2OpSYN | p2p.V2OpRAK, Sequence: 1000, TF: 1, Data: []byte(invite)})
	for deadline := time.Now().Add(chatTimeout); srv.SwitchboardMessages() < before+4; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("bob never answered the INVITE (%d messages relayed)", srv.SwitchboardMessages()-before)
		}
	}
	seq := uint32(5000)
	for off := 0; off < len(data); off += 1200 {
		end := min(off+1200, len(data))
		tf := byte(6)
		if off == 0 {
			tf |= 1
		}
		send(&p2p.V2Packet{OpCode: p2p.V2OpRAK, Sequence: seq, TF: tf, SessionID: 99, DataRemaining: uint64(len(data) - end), Data: data[off:end], Footer: 2})
		seq += uint32(8 + 12 + end - off)
	}
	e := chatWait(t, bob, 1, func(*msnclient.FileReceived) bool { return true })
	if got := readReceived(t, e); e.Name != "party.avi" || e.From != "alice@example.com" || !bytes.Equal(got, data) {
		t.Fatalf("bob got %q from %s with %d bytes", e.Name, e.From, len(got))
	}
	waitNoP2P(t, bob.Client)
}
