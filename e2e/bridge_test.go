package e2e

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

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
}

// newWorld starts a stack and puts the accounts on the fake server: bob,
// carol and dave are mutual contacts of me; bob and carol are online.
func newWorld(t *testing.T, db stack.Database) *world {
	e := newEnv(t, db)
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
		{"LoginWrongPassword", w.testLoginWrongPassword},
		{"Login", w.mustLogin},
		{"ContactsInSpace", w.testContactsInSpace},
		{"IncomingMessage", w.testIncomingMessage},
		{"Reply", w.testReply},
		{"Formatting", w.testFormatting},
		{"LongMessage", w.testLongMessage},
		{"Nudge", w.testNudge},
		{"ThreePeople", w.testThreePeople},
		{"OfflineContact", w.testOfflineContact},
		{"Reconnect", w.testReconnect},
		{"Restart", w.testRestart},
		{"Figures", w.testFigures},
		{"Logout", w.testLogout},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.fn) && (s.name == "Login" || s.name == "IncomingMessage") {
			t.Fatalf("%s failed; the later scenarios depend on it", s.name)
		}
	}
}

func (w *world) testLoginWrongPassword(t *testing.T) {
	answer, err := w.login(meEmail, "not-my-password")
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	if !strings.Contains(strings.ToLower(answer), "wrong email or password") {
		t.Fatalf("bot answered %q to a wrong password, want a clear wrong-password error", answer)
	}
	if w.srv.IsOnline(meEmail) {
		t.Fatal("account is online on MSN after a failed login")
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

func (w *world) testIncomingMessage(t *testing.T) {
	evt := w.incoming(t, "hello from MSN")
	w.bobRoom = evt.RoomID
	msg := evt.Content.AsMessage()
	if msg.Body != "hello from MSN" {
		t.Errorf("body %q, want exactly the MSN text", msg.Body)
	}
	members, err := w.user.JoinedMembers(w.ctx, w.bobRoom)
	if err != nil {
		t.Fatalf("members of the portal: %v", err)
	}
	if _, ok := members.Joined[w.user.UserID]; !ok {
		t.Error("the Matrix user is not joined to the portal")
	}
	if m, ok := members.Joined[w.br.GhostMXID(bobEmail)]; !ok || !strings.Contains(m.DisplayName, "Bob Builder") {
		t.Errorf("bob's ghost in the portal: %+v (present %v), want named after Bob", m, ok)
	}
}

func (w *world) testReply(t *testing.T) {
	cursor := w.user.Cursor()
	bobCursor := w.bob.cursor()
	resp, err := w.user.SendText(w.ctx, w.bobRoom, "hello from Matrix")
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	msg, err := w.bob.waitText(w.ctx, bobCursor, meEmail, "hello from Matrix")
	if err != nil {
		t.Fatal(err)
	}
	if msg.Message.Text != "hello from Matrix" {
		t.Errorf("bob got %q, want exactly the Matrix text", msg.Message.Text)
	}
	if err := w.waitSuccess(cursor, w.bobRoom, resp.EventID); err != nil {
		t.Error(err)
	}
}

func (w *world) testFormatting(t *testing.T) {
	// MSN to Matrix: whole-message bold red text.
	cursor := w.user.Cursor()
	err := w.bob.send(w.ctx, msnclient.TextMessage{
		Text:   "bold red words",
		Format: msnclient.Format{Font: "Arial", Bold: true, Color: 0xff0000},
	}, meEmail)
	if err != nil {
		t.Fatal(err)
	}
	evt, err := w.waitGhostText(cursor, w.br.GhostMXID(bobEmail), w.bobRoom, "bold red words")
	if err != nil {
		t.Fatal(err)
	}
	html := strings.ToLower(evt.Content.AsMessage().FormattedBody)
	if !strings.Contains(html, "<b>") && !strings.Contains(html, "<strong>") {
		t.Errorf("formatted body %q is not bold", html)
	}
	if !strings.Contains(html, "#ff0000") {
		t.Errorf("formatted body %q is not red", html)
	}

	// Matrix to MSN: a bold message arrives bold; italic too.
	for _, tc := range []struct {
		html string
		want func(msnclient.Format) bool
	}{
		{"<strong>all of it bold</strong>", func(f msnclient.Format) bool { return f.Bold }},
		{"<em>all of it italic</em>", func(f msnclient.Format) bool { return f.Italic }},
	} {
		body := strings.TrimSuffix(strings.SplitN(tc.html, ">", 2)[1], "</strong>")
		body = strings.TrimSuffix(body, "</em>")
		bobCursor := w.bob.cursor()
		if _, err := w.sendHTML(w.bobRoom, body, tc.html); err != nil {
			t.Fatal(err)
		}
		msg, err := w.bob.waitText(w.ctx, bobCursor, meEmail, body)
		if err != nil {
			t.Fatal(err)
		}
		if !tc.want(msg.Message.Format) || msg.Message.Text != body {
			t.Errorf("Matrix %q reached MSN as %q with format %+v", tc.html, msg.Message.Text, msg.Message.Format)
		}
	}
}

func (w *world) testLongMessage(t *testing.T) {
	var sb strings.Builder
	for i := 0; sb.Len() < 5000; i++ {
		fmt.Fprintf(&sb, "word%04d ", i)
	}
	long := strings.TrimSpace(sb.String())
	words := strings.Fields(long)

	// Matrix to MSN: all words arrive, in order, possibly in several messages.
	bobCursor := w.bob.cursor()
	if _, err := w.user.SendText(w.ctx, w.bobRoom, long); err != nil {
		t.Fatal(err)
	}
	var got []string
	_, err := w.bob.waitAfter(w.ctx, bobCursor, msgTimeout, "the whole long message", func(evt any) bool {
		if msg, ok := evt.(*msnclient.MessageReceived); ok && msg.From == meEmail {
			got = append(got, strings.Fields(msg.Message.Text)...)
		}
		return len(got) >= len(words)
	})
	if err != nil {
		t.Fatalf("%v (got %d of %d words)", err, len(got), len(words))
	}
	if !slices.Equal(got, words) {
		t.Errorf("long message reached MSN changed: %d words, first difference at %d", len(got), firstDiff(got, words))
	}

	// MSN to Matrix: the same.
	cursor := w.user.Cursor()
	if err := w.bob.send(w.ctx, msnclient.TextMessage{Text: long}, meEmail); err != nil {
		t.Fatal(err)
	}
	got = nil
	ghost := w.br.GhostMXID(bobEmail)
	_, err = w.user.WaitEventAfter(w.ctx, cursor, msgTimeout, func(evt *event.Event) bool {
		if evt.Sender == ghost && evt.RoomID == w.bobRoom && evt.Type == event.EventMessage {
			got = append(got, strings.Fields(evt.Content.AsMessage().Body)...)
		}
		return len(got) >= len(words)
	})
	if err != nil {
		t.Fatalf("long MSN message: %v (got %d of %d words)", err, len(got), len(words))
	}
	if !slices.Equal(got, words) {
		t.Errorf("long message reached Matrix changed: first difference at word %d", firstDiff(got, words))
	}

	// Over the configured limit (7000 characters): refused with a reason.
	tooLong := strings.Repeat("x", 8000)
	cursor = w.user.Cursor()
	resp, err := w.user.SendText(w.ctx, w.bobRoom, tooLong)
	if err != nil {
		t.Fatal(err)
	}
	reason, err := w.waitFailure(cursor, w.bobRoom, resp.EventID)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("over-long message refused: %s", reason)
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func (w *world) testNudge(t *testing.T) {
	// MSN to Matrix: the user sees that bob nudged.
	cursor := w.user.Cursor()
	ctx, cancel := context.WithTimeout(w.ctx, msgTimeout)
	defer cancel()
	if err := w.bob.Conversation(meEmail).SendNudge(ctx); err != nil {
		t.Fatalf("bob nudge: %v", err)
	}
	evt, err := w.user.WaitEventAfter(w.ctx, cursor, msgTimeout, func(evt *event.Event) bool {
		return evt.RoomID == w.bobRoom && evt.Sender == w.br.GhostMXID(bobEmail) &&
			evt.Type == event.EventMessage && strings.Contains(strings.ToLower(evt.Content.AsMessage().Body), "nudge")
	})
	if err != nil {
		t.Fatalf("bob's nudge never showed in Matrix: %v", err)
	}
	t.Logf("nudge shown as %s %q", evt.Content.AsMessage().MsgType, evt.Content.AsMessage().Body)

	// Matrix to MSN: the nudge command in the portal nudges bob.
	bobCursor := w.bob.cursor()
	if _, err := w.user.SendText(w.ctx, w.bobRoom, "!msn nudge"); err != nil {
		t.Fatal(err)
	}
	_, err = w.bob.waitAfter(w.ctx, bobCursor, msgTimeout, "a nudge", func(evt any) bool {
		n, ok := evt.(*msnclient.Nudge)
		return ok && n.From == meEmail
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (w *world) testThreePeople(t *testing.T) {
	text := "hello both of you"
	cursor := w.user.Cursor()
	if err := w.bob.send(w.ctx, msnclient.TextMessage{Text: text}, meEmail, carolEmail); err != nil {
		t.Fatal(err)
	}
	evt, err := w.waitGhostText(cursor, w.br.GhostMXID(bobEmail), "", text)
	if err != nil {
		t.Fatal(err)
	}
	group := evt.RoomID
	if group == w.bobRoom {
		t.Fatal("a three-person conversation landed in bob's private portal")
	}
	err = eventually(w.ctx, msgTimeout, func() error {
		members, err := w.user.JoinedMembers(w.ctx, group)
		if err != nil {
			return err
		}
		var have []string
		for m := range members.Joined {
			have = append(have, m.String())
		}
		sort.Strings(have)
		for _, want := range []id.UserID{w.br.GhostMXID(bobEmail), w.br.GhostMXID(carolEmail), w.user.UserID} {
			if _, ok := members.Joined[want]; !ok {
				return fmt.Errorf("group portal members %v lack %s", have, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	// carol speaks in the same conversation: same room.
	cursor = w.user.Cursor()
	if err := w.carol.send(w.ctx, msnclient.TextMessage{Text: "carol here"}, meEmail, bobEmail); err != nil {
		t.Fatal(err)
	}
	if _, err := w.waitGhostText(cursor, w.br.GhostMXID(carolEmail), group, "carol here"); err != nil {
		t.Error(err)
	}
	w.reply(t, group, "hi bob and carol", w.bob, w.carol)
}

func (w *world) testOfflineContact(t *testing.T) {
	// dave talks to us, then signs out; our next message cannot be delivered.
	ctx, cancel := context.WithTimeout(w.ctx, setupTimeout)
	defer cancel()
	dave := connectPeer(ctx, t, w.srv, daveEmail, peerPass, "Dave Offline")
	cursor := w.user.Cursor()
	if err := dave.send(ctx, msnclient.TextMessage{Text: "dave says bye"}, meEmail); err != nil {
		t.Fatal(err)
	}
	evt, err := w.waitGhostText(cursor, w.br.GhostMXID(daveEmail), "", "dave says bye")
	if err != nil {
		t.Fatal(err)
	}
	daveRoom := evt.RoomID
	if err := dave.Close(); err != nil {
		t.Fatalf("dave sign out: %v", err)
	}
	err = eventually(w.ctx, msgTimeout, func() error {
		if w.srv.IsOnline(daveEmail) {
			return fmt.Errorf("dave still online on the server")
		}
		if p, err := w.ghostPresence(w.br.GhostMXID(daveEmail)); err != nil || p != event.PresenceOffline {
			return fmt.Errorf("dave's ghost presence %q (%v), want offline", p, err)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	cursor = w.user.Cursor()
	resp, err := w.user.SendText(w.ctx, daveRoom, "are you there?")
	if err != nil {
		t.Fatal(err)
	}
	reason, err := w.waitFailure(cursor, daveRoom, resp.EventID)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("message to offline contact: %s", reason)
}

func (w *world) testReconnect(t *testing.T) {
	w.srv.DropConnections(meEmail)
	ctx, cancel := context.WithTimeout(w.ctx, msgTimeout)
	defer cancel()
	if err := w.srv.WaitOnline(ctx, meEmail); err != nil {
		t.Fatalf("bridge did not reconnect: %v", err)
	}
	// bob may try while the bridge is still signing in again: retry until
	// the server accepts the conversation.
	text := "still there after the drop?"
	cursor := w.user.Cursor()
	err := eventually(w.ctx, msgTimeout, func() error {
		return w.bob.send(w.ctx, msnclient.TextMessage{Text: text}, meEmail)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.waitGhostText(cursor, w.br.GhostMXID(bobEmail), w.bobRoom, text); err != nil {
		t.Fatal(err)
	}
	w.reply(t, w.bobRoom, "yes, reconnected", w.bob)
}

func (w *world) testRestart(t *testing.T) {
	before, err := w.joinedRooms()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.br.Stop(); err != nil {
		t.Fatalf("stop bridge: %v", err)
	}
	err = eventually(w.ctx, msgTimeout, func() error {
		if w.srv.IsOnline(meEmail) {
			return fmt.Errorf("MSN session still online after the bridge stopped")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(w.ctx, setupTimeout)
	defer cancel()
	if err := w.br.Start(ctx); err != nil {
		t.Fatalf("restart bridge: %v", err)
	}
	if err := w.srv.WaitOnline(ctx, meEmail); err != nil {
		t.Fatalf("login did not resume after restart: %v", err)
	}
	text := "after the restart"
	cursor := w.user.Cursor()
	err = eventually(w.ctx, msgTimeout, func() error {
		return w.bob.send(w.ctx, msnclient.TextMessage{Text: text}, meEmail)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.waitGhostText(cursor, w.br.GhostMXID(bobEmail), w.bobRoom, text); err != nil {
		t.Fatalf("message after restart not in the same portal: %v", err)
	}
	w.reply(t, w.bobRoom, "and back", w.bob)
	after, err := w.joinedRooms()
	if err != nil {
		t.Fatal(err)
	}
	for room := range after {
		if !before[room] {
			t.Errorf("restart created a new room %s", room)
		}
	}
}

func (w *world) testFigures(t *testing.T) {
	const n = 100
	ghost := w.br.GhostMXID(bobEmail)
	latencies := make([]time.Duration, 0, n)
	for i := range n {
		text := fmt.Sprintf("latency probe %03d", i)
		cursor := w.user.Cursor()
		start := time.Now()
		if err := w.bob.send(w.ctx, msnclient.TextMessage{Text: text}, meEmail); err != nil {
			t.Fatal(err)
		}
		evt, err := w.waitGhostText(cursor, ghost, w.bobRoom, text)
		if err != nil {
			t.Fatal(err)
		}
		latencies = append(latencies, evt.Seen.Sub(start))
	}
	slices.Sort(latencies)
	rss, err := w.br.Process().RSSKiB()
	if err != nil {
		t.Fatal(err)
	}
	recordFigure(t, "msn_to_matrix_latency_median", latencies[n/2].Round(time.Millisecond).String())
	recordFigure(t, "msn_to_matrix_latency_p90", latencies[n*9/10].Round(time.Millisecond).String())
	recordFigure(t, "bridge_rss_one_login", fmt.Sprintf("%.1f MiB", float64(rss)/1024))
}

func (w *world) testLogout(t *testing.T) {
	answer, err := w.command("logout " + meEmail)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(answer, "Logged out") {
		t.Fatalf("bot answered %q to logout", answer)
	}
	err = eventually(w.ctx, msgTimeout, func() error {
		if w.srv.IsOnline(meEmail) {
			return fmt.Errorf("still signed in to MSN after logout")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	answer, err = w.command("list-logins")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(answer, meEmail) {
		t.Errorf("login still listed after logout: %q", answer)
	}
}
