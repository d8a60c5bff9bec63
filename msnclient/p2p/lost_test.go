package p2p

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestFetchFailsWhenDataStartLost: the owner's data chunks reach us
// without the first one (lost with a switchboard, or overtaken on another
// one). The message can never be whole: the fetch fails at once with a
// clear error instead of waiting out its timeout.
func TestFetchFailsWhenDataStartLost(t *testing.T) {
	p := newScriptedPeer(t, Config{}) // call timeout: minutes
	pic := randomBytes(t, 4000)
	obj := NewMSNObject(buddy, ObjectDisplayPicture, pic, "", "")
	res, inv, m := fetch(t, p, obj)
	sid := ownerReply(p, inv, m)
	p.id++
	for off := 1202; off < len(pic); off += 1202 {
		end := min(off+1202, len(pic))
		p.m.HandleMessage(buddy, rawPacket(me, sid, p.id, uint64(off), 4000, FlagMSNObjData, 1, 0, 0, pic[off:end], 1))
	}
	wantFetchErr(t, res, ErrBadPacket, "the fetch still waits for data whose start was lost")
	p.expectBye(m.CallID()) // the owner is told we gave up: it stops sending
	waitIdle(t, p.m)
}

// TestServeSaysByeWhenDataFails: the data of a picture we serve cannot be
// sent (its switchboard closed in the middle). The requester is told with
// BYE, so that it fails at once instead of waiting for the rest.
func TestServeSaysByeWhenDataFails(t *testing.T) {
	p := newScriptedPeer(t, Config{})
	send := p.m.cfg.Send
	p.m.cfg.Send = func(ctx context.Context, peer string, payload []byte) error {
		env, err := ParseEnvelope(payload)
		if err == nil {
			if pkt, err := ParsePacket(env.Body); err == nil && pkt.Flags&FlagMSNObjData != 0 && pkt.Offset > 0 {
				return errors.New("switchboard closed")
			}
		}
		return send(ctx, peer, payload)
	}
	const callID = "{9D79AE57-1BD5-444B-B14E-3FC9BB2B5D59}"
	askServedPicture(t, p, callID, 1980590)
	ok, _ := p.nextSLP()
	p.ack(ok)
	prep, _, _ := p.nextMessage()
	p.ack(prep)
	p.expectBye(callID)
	waitIdle(t, p.m)
}

// expectBye reads what the manager sends, skipping acks and data, until
// an MSNSLP message, which must be our BYE of the call.
func (p *scriptedPeer) expectBye(callID string) {
	p.t.Helper()
	for {
		pkt := p.next()
		if pkt.IsAck() || pkt.SessionID != 0 {
			continue
		}
		bye, err := ParseSLP(pkt.Data)
		if err != nil || bye.Method != "BYE" || bye.CallID() != callID || bye.To() != buddy || bye.From() != me {
			p.t.Fatalf("expected BYE of the call, got %v %+v", err, bye)
		}
		return
	}
}

// wantFetchErr waits for a fetch to fail with want; stuck describes a
// fetch that does not end in time.
func wantFetchErr(t *testing.T, res <-chan fetchResult, want error, stuck string) {
	t.Helper()
	select {
	case r := <-res:
		if !errors.Is(r.err, want) {
			t.Fatalf("got %v, want %v", r.err, want)
		}
	case <-time.After(testTimeout):
		t.Fatal(stuck)
	}
}
