package e2e

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

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
