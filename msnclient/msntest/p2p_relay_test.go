package msntest

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// TestSBRelaysP2PVerbatim: a P2P message with every byte value, CR/LF and
// NULs in its binary part, at the payload limit, reaches the other
// participant byte for byte, as Escargot relays it.
func TestSBRelaysP2PVerbatim(t *testing.T) {
	s := sbTestServer(t)
	a, b := aliceAndBobOnSB(t, s)

	payload := []byte("MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\nP2P-Dest: alice@example.com\r\n\r\n")
	for i := 0; len(payload) < sbMaxPayload; i++ {
		payload = append(payload, byte(i))
	}
	b.send(msnp.NewPayload("MSG", payload, "2", "D"))
	b.expect("ACK 2")
	got := a.expect(fmt.Sprintf("MSG bob@example.com Bob <%d bytes>", len(payload)))
	if got.Arg(0) != "bob@example.com" || !bytes.Equal(got.Payload, payload) {
		t.Fatalf("relayed %d bytes from %s, want the %d bytes sent, unchanged", len(got.Payload), got.Arg(0), len(payload))
	}
}

// aliceAndBobOnSB opens a switchboard session of alice (USR) that bob
// joins (ANS), both in MSNP15.
func aliceAndBobOnSB(t *testing.T, s *Server) (a, b *rawSB) {
	t.Helper()
	alice := ident("alice@example.com", 15, "")
	bob := ident("bob@example.com", 15, "")
	a, sid := usr(t, s, alice, "alice@example.com")
	b = dialSB(t, s)
	b.send(msnp.New("ANS", "1", "bob@example.com", s.testCookie(bob, sid), sid))
	b.expect("IRO 1 1 1 alice@example.com Alice 2789003324")
	b.expect("ANS 1 OK")
	a.expect("JOI bob@example.com Bob 2789003324")
	return a, b
}
