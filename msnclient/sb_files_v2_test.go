package msnclient_test

import (
	"encoding/base64"
	"errors"
	"strconv"
	"testing"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/p2p"
)

// TestFileOverP2Pv2Declined: a WLM 2009 endpoint that offers a file over
// P2P version 2 through the switchboard (MSNP18, both sides with endpoint
// GUIDs) gets its offer declined, and the receiver reports the file by
// name as one the bridge cannot receive, instead of losing it silently.
func TestFileOverP2Pv2Declined(t *testing.T) {
	_, alice, bob, ctx := chatPair(t, 18, 18, nil)
	fc := (&p2p.FileContext{Name: "party.avi", Size: 7 << 20}).Marshal()
	body := "EUF-GUID: " + p2p.EUFGUIDFile + "\r\nSessionID: 99\r\nAppID: 2\r\nContext: " + base64.StdEncoding.EncodeToString(fc) + "\r\n\r\n"
	aliceEP := "alice@example.com;{" + msnclient.EndpointGUID(alice.Client) + "}"
	bobEP := "bob@example.com;{" + msnclient.EndpointGUID(bob.Client) + "}"
	invite := "INVITE MSNMSGR:" + bobEP + " MSNSLP/1.0\r\nTo: <msnmsgr:" + bobEP + ">\r\nFrom: <msnmsgr:" + aliceEP + ">\r\n" +
		"Via: MSNSLP/1.0/TLPv2 ;branch={5C9E5A7E-3E2B-4E4D-9D59-0C4E2A7B1D11}\r\nCSeq: 0 \r\nCall-ID: {0C2B1C44-7F0B-4F7B-8E0E-3C1C9D6C7A22}\r\n" +
		"Max-Forwards: 0\r\nContent-Type: application/x-msnmsgr-sessionreqbody\r\nContent-Length: " + strconv.Itoa(len(body)+1) + "\r\n\r\n" + body + "\x00"
	pkt := &p2p.V2Packet{OpCode: p2p.V2OpSYN | p2p.V2OpRAK, Sequence: 1000, TF: 1, Data: []byte(invite)}
	payload := p2p.AppendEnvelopeV2(nil, bobEP, aliceEP, pkt.AppendV2(nil, true))
	if err := msnclient.SendRawP2P(ctx, alice.Client, bob.email, payload); err != nil {
		t.Fatal(err)
	}
	e := chatWait(t, bob, 1, func(*msnclient.FileFailed) bool { return true })
	if !e.Declined || !errors.Is(e.Err, msnclient.ErrFileNewerTransfer) || e.Name != "party.avi" || e.Size != 7<<20 || e.From != "alice@example.com" {
		t.Fatalf("bob reported %+v", e)
	}
	if n := chatCount(bob, func(*msnclient.FileReceived) bool { return true }); n != 0 {
		t.Fatalf("%d files received", n)
	}
}
