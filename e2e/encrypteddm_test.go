package e2e

import (
	"strings"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/mautrix-msn/mautrix-msn/e2e/stack"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
)

// TestEncryptedNewDM starts an encrypted DM the way Element does (the
// room is created encrypted with the ghost invited, the first message sent
// at once) with end-to-bridge encryption allowed. The test client has no
// Olm machine, so its message is an m.room.encrypted event the bridge
// cannot decrypt: the point is that the bridge sees it (through the
// first-message catch-up) and tells the user it could not be bridged,
// instead of the message vanishing without a trace.
func TestEncryptedNewDM(t *testing.T) {
	e := newEnvEdits(t, stack.SQLite(), func(*msntest.Server) map[string]any { return map[string]any{"encryption.allow": true} })
	w := &world{env: e}
	const pal = "encpal@msn.test"
	for _, a := range [][3]string{{meEmail, mePassword, "Matrix Me"}, {pal, peerPass, "Enc Pal"}} {
		if err := e.srv.AddAccount(a[0], a[1], a[2]); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.srv.AddContact(meEmail, pal, mutual); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.AddContact(pal, meEmail, mutual); err != nil {
		t.Fatal(err)
	}
	w.mustLogin(t)
	connectPeer(e.ctx, t, e.srv, pal, peerPass, "Enc Pal")

	cursor := e.user.Cursor()
	resp, err := e.user.CreateRoom(e.ctx, &mautrix.ReqCreateRoom{
		Preset:   "trusted_private_chat",
		IsDirect: true,
		Invite:   []id.UserID{e.br.GhostMXID(pal)},
		InitialState: []*event.Event{{
			Type:    event.StateEncryption,
			Content: event.Content{Parsed: &event.EncryptionEventContent{Algorithm: id.AlgorithmMegolmV1}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	sent, err := e.user.SendMessageEvent(e.ctx, resp.RoomID, event.EventEncrypted, map[string]any{
		"algorithm":  id.AlgorithmMegolmV1,
		"ciphertext": "AwgAEnB3b3QgY2lwaGVydGV4dA",
		"device_id":  "TESTDEVICE",
		"sender_key": "Z5yKmbZ0bXjuMYhCcx3eMuGHZhkcXmQnZbNuF6QXn0Q",
		"session_id": "c2Vzc2lvbi1ub3Qta25vd24tdG8tdGhlLWJyaWRnZQ",
	})
	if err != nil {
		t.Fatal(err)
	}
	reason, err := e.waitFailure(cursor, resp.RoomID, sent.EventID)
	if err != nil {
		t.Fatalf("the first (encrypted) message of a new DM vanished without a status: %v", err)
	}
	if !strings.Contains(strings.ToLower(reason), "decrypt") && !strings.Contains(strings.ToLower(reason), "encrypt") {
		t.Errorf("failure %q does not say the message could not be decrypted", reason)
	}
	t.Logf("encrypted first message reported: %s", reason)
}
