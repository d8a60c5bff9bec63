package p2p

import (
	"bytes"
	"context"
	"testing"
	"time"
)

// The seed corpora are in testdata/fuzz/<target>: reference vectors and
// captures of the messages real clients send.

// FuzzParsePacket: any bytes parse or fail cleanly, and what parses
// re-encodes to the same bytes.
func FuzzParsePacket(f *testing.F) {
	f.Add(ackVector)
	f.Add(dataVector())
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePacket(b)
		if err != nil {
			return
		}
		if uint64(len(p.Data)) != uint64(p.MessageSize) || p.Offset+uint64(p.MessageSize) > p.TotalSize {
			t.Fatalf("inconsistent packet accepted: %+v", p.Header)
		}
		if !bytes.Equal(p.AppendPacket(nil), b) {
			t.Fatal("re-encoding differs")
		}
	})
}

// FuzzParseSLP: any bytes parse or fail cleanly; a parsed message survives
// Marshal and a second parse with the same call.
func FuzzParseSLP(f *testing.F) {
	f.Add([]byte(referenceInvite))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseSLP(b)
		if err != nil {
			return
		}
		_ = m.BodyFields()
		_ = m.Branch()
		again, err := ParseSLP(m.Marshal())
		if err != nil {
			t.Fatalf("re-parse of our own encoding: %v", err)
		}
		if again.CallID() != m.CallID() || again.Method != m.Method || again.StatusCode != m.StatusCode {
			t.Fatalf("re-parse changed the call: %+v vs %+v", again, m)
		}
	})
}

// FuzzParseMSNObject: any text parses or fails cleanly; a parsed object's
// rebuilt text parses to the same checksums.
func FuzzParseMSNObject(f *testing.F) {
	f.Add(`<msnobj Creator="buddy1@hotmail.com" Size="24539" Type="3" Location="TFR2C.tmp" Friendly="AAA=" SHA1D="trC8SlFx2sWQxZMIBAWSEnXc8oQ=" SHA1C="U32o6bosZzluJq82eAtMpx5dIEI="/>`)
	f.Fuzz(func(t *testing.T, s string) {
		o, err := ParseMSNObject(s)
		if err != nil {
			return
		}
		back, err := ParseMSNObject(o.String())
		if err != nil {
			t.Fatalf("re-parse of %q: %v", o.String(), err)
		}
		if back.SHA1D != o.SHA1D || back.ComputeSHA1C() != o.ComputeSHA1C() || back.Size != o.Size {
			t.Fatalf("re-parse changed the object: %+v vs %+v", back, o)
		}
	})
}

// FuzzHandleMessage: a manager survives any sequence of payloads from a
// peer without panicking or keeping unbounded state.
func FuzzHandleMessage(f *testing.F) {
	env := []byte("MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\nP2P-Dest: me@example.com\r\n\r\n")
	f.Add(append(append([]byte(nil), env...), ackVector...))
	f.Add(append(append([]byte(nil), env...), dataVector()...))
	f.Fuzz(func(t *testing.T, payload []byte) {
		m := NewManager(Config{
			Self:        "me@example.com",
			Send:        func(context.Context, string, []byte) error { return nil },
			CallTimeout: time.Second,
		})
		defer m.Stop()
		NewObjects(m)
		m.HandleMessage("buddy@example.com", payload)
		if a, _ := m.InFlight(); a > maxAssemblies {
			t.Fatalf("%d messages in flight", a)
		}
	})
}
