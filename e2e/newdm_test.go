package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// newDMTries is how many DMs testNewDM starts; the first message was lost
// in about half of the tries before the catch-up existed.
const newDMTries = 10

// testNewDM starts DMs the way Element does: one createRoom with is_direct
// and the contact's ghost invited, then the first message at once, without
// waiting for the bridge. Every first message must reach the contact
// exactly once, and so must a second one.
func (w *world) testNewDM(t *testing.T) {
	type try struct {
		peer  *peer
		room  id.RoomID
		first string
		evt   id.EventID
	}
	ctx, cancel := context.WithTimeout(w.ctx, setupTimeout)
	defer cancel()
	tries := make([]*try, newDMTries)
	for i := range tries {
		email := fmt.Sprintf("pal%02d@msn.test", i)
		if err := w.srv.AddAccount(email, peerPass, fmt.Sprintf("Pal %d", i)); err != nil {
			t.Fatal(err)
		}
		// Mutual contacts, as people one starts chats with are (a one-way
		// add would be a contact request, announced by the bot later).
		for _, pair := range [][2]string{{email, meEmail}, {meEmail, email}} {
			if err := w.srv.AddContact(pair[0], pair[1], mutual); err != nil {
				t.Fatal(err)
			}
		}
		tries[i] = &try{peer: connectPeer(ctx, t, w.srv, email, peerPass, fmt.Sprintf("Pal %d", i))}
	}
	cursor := w.user.Cursor()
	cursors := make([]int, len(tries))
	for i, tr := range tries {
		cursors[i] = tr.peer.cursor()
		resp, err := w.user.CreateRoom(w.ctx, &mautrix.ReqCreateRoom{
			Preset:   "trusted_private_chat",
			IsDirect: true,
			Invite:   []id.UserID{w.br.GhostMXID(tr.peer.Email)},
		})
		if err != nil {
			t.Fatalf("create DM %d: %v", i, err)
		}
		tr.room = resp.RoomID
		tr.first = fmt.Sprintf("first message of new DM %d", i)
		sent, err := w.user.SendText(w.ctx, tr.room, tr.first)
		if err != nil {
			t.Fatalf("send first message %d: %v", i, err)
		}
		tr.evt = sent.EventID
	}
	lost := 0
	for i, tr := range tries {
		if _, err := tr.peer.waitText(w.ctx, cursors[i], meEmail, tr.first); err != nil {
			t.Errorf("DM %d: %v", i, err)
			lost++
			continue
		}
		if err := w.waitSuccess(cursor, tr.room, tr.evt); err != nil {
			t.Errorf("DM %d: %v", i, err)
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d first messages in new DMs never reached MSN", lost, len(tries))
	}
	// A second message in each room: arrives once too, and the catch-up
	// of the room (which may still be reading) does not send the first
	// again.
	for i, tr := range tries {
		w.reply(t, tr.room, fmt.Sprintf("second message of new DM %d", i), tr.peer)
	}
	for i, tr := range tries {
		for _, text := range []string{tr.first, fmt.Sprintf("second message of new DM %d", i)} {
			if n := tr.peer.count(meEmail, text); n != 1 {
				t.Errorf("DM %d: %s received %q %d times, want exactly once", i, tr.peer.Email, text, n)
			}
		}
	}
	// The rooms are the contacts' portals: a message from the contact
	// lands in the room the user made.
	for i, tr := range tries {
		text := fmt.Sprintf("pal %d answers", i)
		c := w.user.Cursor()
		if err := tr.peer.send(w.ctx, msnclient.TextMessage{Text: text}, meEmail); err != nil {
			t.Fatal(err)
		}
		evt, err := w.waitGhostText(c, w.br.GhostMXID(tr.peer.Email), "", text)
		if err != nil {
			t.Fatal(err)
		}
		if evt.RoomID != tr.room {
			t.Errorf("DM %d: answer landed in %s, not in the DM the user created (%s)", i, evt.RoomID, tr.room)
		}
	}
	for _, tr := range tries {
		_ = tr.peer.Close()
	}
}

// count tells how many text messages from sender with exactly text the peer
// received so far.
func (p *peer) count(from, text string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, evt := range p.events {
		if msg, ok := evt.(*msnclient.MessageReceived); ok && strings.EqualFold(msg.From, from) && msg.Message.Text == text {
			n++
		}
	}
	return n
}
