package p2p

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// TestHandleBare: a data message on a session no call opened (WLM's
// one-to-one ink, session 64) is reassembled from its chunks, acked and
// handed over; one announced over the limit is reported, not passed on;
// other unknown sessions are still dropped.
func TestHandleBare(t *testing.T) {
	p := newScriptedPeer(t, Config{})
	type got struct {
		peer string
		data []byte
		err  error
	}
	ch := make(chan got, 4)
	p.m.HandleBare(64, 5000, func(peer string, data []byte, err error) { ch <- got{peer, data, err} })
	wait := func() got {
		select {
		case g := <-ch:
			return g
		case <-time.After(testTimeout):
			t.Fatal("nothing handed over")
			return got{}
		}
	}
	data := randomBytes(t, 3000)
	id := p.send(64, 0, 0, data, 1202)
	if g := wait(); g.err != nil || g.peer != buddy || !bytes.Equal(g.data, data) {
		t.Fatalf("got %d bytes from %s: %v", len(g.data), g.peer, g.err)
	}
	p.sawAck(id) // fails the test when no ack comes
	p.send(64, 0, 0, randomBytes(t, 6000), 1202)
	if g := wait(); !errors.Is(g.err, ErrTooLarge) || g.data != nil {
		t.Fatalf("oversized: %d bytes, %v", len(g.data), g.err)
	}
	p.send(65, 0, 0, randomBytes(t, 100), 1202)
	select {
	case g := <-ch:
		t.Fatalf("session 65 handed over: %+v", g)
	case <-time.After(200 * time.Millisecond):
	}
}
