package msnclient

import "testing"

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
