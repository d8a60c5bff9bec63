package msnclient

import (
	"strconv"
	"strings"
	"testing"
)

func TestIsP2PPayload(t *testing.T) {
	for payload, want := range map[string]bool{
		"MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\nP2P-Dest: a@b.c\r\n\r\nxx":     true,
		"MIME-Version: 1.0\r\ncontent-type:APPLICATION/X-MSNMSGRP2P\r\n\r\n":                           true,
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\napplication/x-msnmsgrp2p": false,
		"MIME-Version: 1.0\r\nX-Note: application/x-msnmsgrp2p\r\nContent-Type: text/plain\r\n\r\nhi":  false,
		"": false,
	} {
		if got := isP2PPayload([]byte(payload)); got != want {
			t.Errorf("isP2PPayload(%q) = %v, want %v", payload, got, want)
		}
	}
}

// TestCapabilitiesAskForP2PVersion1: peers (WLM 2009) use P2P version 2
// only with contacts whose extended capabilities announce it (0x20); we
// announce P2P version 1 support (an MSNC version) and not version 2.
func TestCapabilitiesAskForP2PVersion1(t *testing.T) {
	for v := 9; v <= 18; v++ {
		d, err := dialectFor(v)
		if err != nil {
			t.Fatal(err)
		}
		caps, ex, _ := strings.Cut(d.caps, ":")
		c, err := strconv.ParseUint(caps, 10, 32)
		if err != nil || c>>28 == 0 {
			t.Errorf("MSNP%d caps %q announce no MSNC (P2P) version", v, d.caps)
		}
		if ex != "" {
			e, err := strconv.ParseUint(ex, 10, 32)
			if err != nil || e&0x20 != 0 {
				t.Errorf("MSNP%d capsex %q announce P2P version 2", v, ex)
			}
		}
	}
}

// TestMovesRoute: a late acknowledgement on an old switchboard must not
// pull our answers away from the switchboard the peer's new call is on
// (seen under load: the 200 OK to a new INVITE went to the old
// switchboard, where the peer was not listening for it).
func TestMovesRoute(t *testing.T) {
	packet := func(flags uint32) []byte {
		body := make([]byte, 48+4) // header (48 bytes, little-endian) and footer
		body[28] = byte(flags)     // Flags at offset 28
		return append([]byte("MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\nP2P-Dest: me@example.com\r\n\r\n"), body...)
	}
	if movesRoute(packet(0x02)) {
		t.Error("an acknowledgement moved the route")
	}
	if !movesRoute(packet(0x00)) {
		t.Error("an MSNSLP message (an INVITE) did not move the route")
	}
	if movesRoute([]byte("MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\n\r\nshort")) {
		t.Error("a malformed packet moved the route")
	}
}
