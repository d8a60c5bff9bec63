package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/mautrix-msn/mautrix-msn/e2e/stack"
	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// Accounts on the fake MSN server. "me" is the Matrix user's MSN account.
const (
	meEmail    = "me@msn.test"
	mePassword = "my-msn-password"
	bobEmail   = "bob@msn.test"
	carolEmail = "carol@msn.test"
	daveEmail  = "dave@msn.test"
	peerPass   = "peer-password"
)

// world is the shared state of the scenarios: one stack, one login, the
// contacts as MSN clients and the portal rooms found so far.
type world struct {
	*env
	bob, carol *peer
	bobRoom    id.RoomID
	bookClub   id.RoomID // the circle room of TestBridge/CircleRoom
}

// newWorld starts a stack and puts the accounts on the fake server: bob,
// carol and dave are mutual contacts of me; bob and carol are online.
func newWorld(t *testing.T, db stack.Database) *world {
	return newWorldWith(t, db, nil)
}

// newWorldWith is newWorld with extra bridge config edits.
func newWorldWith(t *testing.T, db stack.Database, edits map[string]any) *world {
	e := newEnvWith(t, db, edits)
	w := &world{env: e}
	accounts := []struct{ email, password, name string }{
		{meEmail, mePassword, "Matrix Me"},
		{bobEmail, peerPass, "Bob Builder"},
		{carolEmail, peerPass, "Carol Singer"},
		{daveEmail, peerPass, "Dave Offline"},
	}
	for _, a := range accounts {
		if err := e.srv.AddAccount(a.email, a.password, a.name); err != nil {
			t.Fatalf("add account %s: %v", a.email, err)
		}
	}
	for _, c := range []string{bobEmail, carolEmail, daveEmail} {
		if err := e.srv.AddContact(meEmail, c, mutual); err != nil {
			t.Fatalf("add contact: %v", err)
		}
		if err := e.srv.AddContact(c, meEmail, mutual); err != nil {
			t.Fatalf("add contact: %v", err)
		}
	}
	for _, pair := range [][2]string{{bobEmail, carolEmail}, {carolEmail, bobEmail}} {
		if err := e.srv.AddContact(pair[0], pair[1], mutual); err != nil {
			t.Fatalf("add contact: %v", err)
		}
	}
	w.bob = connectPeer(e.ctx, t, e.srv, bobEmail, peerPass, "Bob Builder")
	w.carol = connectPeer(e.ctx, t, e.srv, carolEmail, peerPass, "Carol Singer")
	return w
}

// mustLogin logs me in through the bot and fails the test otherwise.
func (w *world) mustLogin(t *testing.T) {
	t.Helper()
	answer, err := w.login(meEmail, mePassword)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	if !strings.Contains(answer, "Successfully logged in as "+meEmail) {
		t.Fatalf("bot answered %q to a correct login, want a success message", answer)
	}
	ctx, cancel := context.WithTimeout(w.ctx, msgTimeout)
	defer cancel()
	if err := w.srv.WaitOnline(ctx, meEmail); err != nil {
		t.Fatalf("bridge login never appeared on the MSN server: %v", err)
	}
}

// incoming has bob send text to me and returns the Matrix event.
func (w *world) incoming(t *testing.T, text string) stack.SeenEvent {
	t.Helper()
	cursor := w.user.Cursor()
	if err := w.bob.send(w.ctx, msnclient.TextMessage{Text: text}, meEmail); err != nil {
		t.Fatal(err)
	}
	evt, err := w.waitGhostText(cursor, w.br.GhostMXID(bobEmail), w.bobRoom, text)
	if err != nil {
		t.Fatal(err)
	}
	return evt
}

// reply sends text from Matrix into room and checks that each peer gets it.
func (w *world) reply(t *testing.T, room id.RoomID, text string, peers ...*peer) {
	t.Helper()
	cursors := make([]int, len(peers))
	for i, p := range peers {
		cursors[i] = p.cursor()
	}
	if _, err := w.user.SendText(w.ctx, room, text); err != nil {
		t.Fatalf("send from Matrix: %v", err)
	}
	for i, p := range peers {
		if _, err := p.waitText(w.ctx, cursors[i], meEmail, text); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBridge runs every user-visible scenario on one stack with SQLite, in
// the order a person would meet them.
func TestBridge(t *testing.T) {
	w := newWorld(t, stack.SQLite())
	steps := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"HelpBeforeLogin", w.testHelpBeforeLogin},
		{"LoginMistakes", w.testLoginMistakes},
		{"Login", w.mustLogin},
		{"ContactsInSpace", w.testContactsInSpace},
		{"IncomingMessage", w.testIncomingMessage},
		{"NewDM", w.testNewDM},
		{"Reply", w.testReply},
		{"Formatting", w.testFormatting},
		{"LongMessage", w.testLongMessage},
		{"Nudge", w.testNudge},
		{"ThreePeople", w.testThreePeople},
		{"Commands", w.testCommands},
		{"ContactGroups", w.testContactGroups},
		{"GroupChatFromMatrix", w.testGroupChatFromMatrix},
		{"GroupChatFromMatrixFails", w.testGroupChatFromMatrixFails},
		{"InviteIntoDM", w.testInviteIntoDM},
		{"GroupDMFromElement", w.testGroupDMFromElement},
		{"GroupDMInvitesOneByOne", w.testGroupDMInvitesOneByOne},
		{"InviteIntoNewDM", w.testInviteIntoNewDM},
		{"CircleRoom", w.testCircleRoom},
		{"CircleCreateGroup", w.testCircleCreateGroup},
		{"CircleFromRoom", w.testCircleFromRoom},
		{"CircleLeave", w.testCircleLeave},
		{"ContactPicture", w.testContactPicture},
		{"UserPicture", w.testUserPicture},
		{"SetPictureFromImage", w.testSetPictureFromImage},
		{"PictureFigure", w.testPictureFigure},
		{"PictureKeptOffline", w.testPictureKeptOffline},
		{"Files", w.testFiles},
		{"FileDeclined", w.testFileDeclined},
		{"FileFigures", w.testFileFigures},
		{"CustomEmoticon", w.testCustomEmoticon},
		{"RichContent", w.testRich},
		{"ChatCommands", w.testChatCommands},
		{"OfflineContact", w.testOfflineContact},
		{"GroupOfflineMember", w.testGroupOfflineMember},
		{"Reconnect", w.testReconnect},
		{"Restart", w.testRestart},
		{"OfflineWhileStopped", w.testOfflineWhileStopped},
		{"OfflineKilledBeforeDelete", w.testOfflineKilledBeforeDelete},
		{"InvisibleReconnect", w.testInvisibleReconnect},
		{"OfflineFigures", w.testOfflineFigures},
		{"SignedInElsewhere", w.testSignedInElsewhere},
		{"Figures", w.testFigures},
		{"Logout", w.testLogout},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.fn) && (s.name == "Login" || s.name == "IncomingMessage") {
			t.Fatalf("%s failed; the later scenarios depend on it", s.name)
		}
	}
}

func (w *world) testContactsInSpace(t *testing.T) {
	bobGhost := w.br.GhostMXID(bobEmail)
	// Names: the ghost's profile carries the MSN friendly name.
	err := eventually(w.ctx, msgTimeout, func() error {
		resp, err := w.user.GetDisplayName(w.ctx, bobGhost)
		if err != nil {
			return err
		}
		if !strings.Contains(resp.DisplayName, "Bob Builder") {
			return fmt.Errorf("ghost %s is named %q, want Bob's MSN name", bobGhost, resp.DisplayName)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Presence: bob and carol are online, dave is offline.
	for email, want := range map[string]event.Presence{bobEmail: event.PresenceOnline, carolEmail: event.PresenceOnline, daveEmail: event.PresenceOffline} {
		ghost := w.br.GhostMXID(email)
		err := eventually(w.ctx, msgTimeout, func() error {
			got, err := w.ghostPresence(ghost)
			if err != nil {
				return err
			}
			if got != want {
				return fmt.Errorf("%s presence is %q, want %q", ghost, got, want)
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	}
	// Space: every contact's ghost is a member of the login's space, under
	// its MSN name.
	names := map[string]string{bobEmail: "Bob Builder", carolEmail: "Carol Singer", daveEmail: "Dave Offline"}
	err = eventually(w.ctx, msgTimeout, func() error {
		space, err := w.spaceRoom()
		if err != nil {
			return err
		}
		members, err := w.user.JoinedMembers(w.ctx, space)
		if err != nil {
			return fmt.Errorf("members of space %s: %w", space, err)
		}
		for email, name := range names {
			m, ok := members.Joined[w.br.GhostMXID(email)]
			if !ok {
				return fmt.Errorf("%s is not in the space %s", email, space)
			}
			if !strings.Contains(m.DisplayName, name) {
				return fmt.Errorf("%s is named %q in the space, want %q", email, m.DisplayName, name)
			}
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}
