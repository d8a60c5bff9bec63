package passport

import (
	"errors"
	"testing"
)

// FuzzParseRSTResponse feeds arbitrary documents to the RST response parser:
// it must never panic, and a result is either a fault or tokens keyed by
// their address. Seeds: testdata/fuzz/FuzzParseRSTResponse (Escargot-shaped
// RST and RST2 replies and faults).
func FuzzParseRSTResponse(f *testing.F) {
	f.Add([]byte(escargotRST(false)))
	f.Add([]byte(escargotRST(true)))
	f.Add([]byte(rst1AuthFailed))
	f.Add([]byte(rst2AuthFailed))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := parseRSTResponse(data)
		if err != nil {
			if res != nil {
				t.Fatal("result together with an error")
			}
			return
		}
		if (res.fault == nil) == (res.tokens == nil) {
			t.Fatalf("want exactly one of fault and tokens, got %+v", res)
		}
		if res.fault != nil {
			_ = res.fault.Error()
			if res.fault.IsAuthFailure() != errors.Is(res.fault, ErrBadCredentials) {
				t.Fatal("IsAuthFailure and errors.Is disagree")
			}
			return
		}
		for key, tok := range res.tokens.byAddr {
			if tok.Address == "" || normAddr(tok.Address) != key {
				t.Fatalf("token stored under %q has address %q", key, tok.Address)
			}
			if got, ok := res.tokens.Get(tok.Address); !ok || got.Ticket != tok.Ticket {
				t.Fatalf("Get(%q) does not find the token", tok.Address)
			}
		}
	})
}
