package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/mautrix-msn/mautrix-msn/e2e/stack"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
)

// All contact-list bits a mutual contact has.
const mutual = uint8(1 | 2 | 8) // FL | AL | RL

// env is one complete stack: fake MSN server, Dendrite, the bridge and a
// Matrix user with a management room.
type env struct {
	t    *testing.T
	ctx  context.Context
	dir  string
	srv  *msntest.Server
	hs   *stack.Dendrite
	br   *stack.Bridge
	user *stack.User
	bot  id.UserID
	mgmt id.RoomID // DM with the bridge bot
}

// newEnv starts everything; db selects the bridge database.
func newEnv(t *testing.T, db stack.Database) *env {
	t.Helper()
	return newEnvEdits(t, db, nil)
}

// newEnvEdits is newEnv with extra bridge config edits made from the fake
// MSN server (nil: none).
func newEnvEdits(t *testing.T, db stack.Database, edits func(srv *msntest.Server) map[string]any) *env {
	t.Helper()
	needStack(t)
	ctx := context.Background()
	setupCtx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	e := &env{t: t, ctx: ctx, dir: t.TempDir()}

	srv, err := msntest.Start(msntest.Options{})
	if err != nil {
		t.Fatalf("start fake MSN server: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	e.srv = srv

	st, err := stack.Start(setupCtx, stack.Options{
		Dir:         e.dir,
		DendriteBin: suite.dendriteBin,
		BridgeBin:   suite.bridgeBin,
		MSN:         srv,
		DB:          db,
		Edits:       extraEdits(srv, edits),
	})
	if err != nil {
		logTail(t, filepath.Join(e.dir, "bridge", "bridge.log"), 40)
		t.Fatalf("start stack: %v", err)
	}
	e.hs, e.br, e.bot = st.HS, st.Bridge, st.Bridge.BotMXID
	t.Cleanup(func() {
		if err := e.hs.Stop(); err != nil {
			t.Logf("stop dendrite: %v", err)
		}
	})
	t.Cleanup(func() {
		if err := e.br.Stop(); err != nil {
			t.Errorf("bridge did not stop cleanly: %v", err)
		}
		if t.Failed() {
			logTail(t, e.br.LogPath, 60)
			keepLog(t, e.br.LogPath)
		}
		logErrors(t, e.br.LogPath)
	})

	cli, err := stack.RegisterUser(setupCtx, e.hs.URL, e.hs.SharedSecret,
		fmt.Sprintf("tester%d", time.Now().UnixNano()), "matrix-password")
	if err != nil {
		t.Fatalf("register Matrix user: %v", err)
	}
	e.user = stack.NewUser(cli)
	t.Cleanup(e.user.Close)
	e.mgmt = e.openManagementRoom(setupCtx)
	return e
}

func extraEdits(srv *msntest.Server, edits func(srv *msntest.Server) map[string]any) map[string]any {
	if edits == nil {
		return nil
	}
	return edits(srv)
}

// openManagementRoom creates a DM with the bridge bot and waits for it to join.
func (e *env) openManagementRoom(ctx context.Context) id.RoomID {
	e.t.Helper()
	resp, err := e.user.CreateRoom(ctx, &mautrix.ReqCreateRoom{
		Preset:   "trusted_private_chat",
		IsDirect: true,
		Invite:   []id.UserID{e.bot},
	})
	if err != nil {
		e.t.Fatalf("create DM with the bridge bot: %v", err)
	}
	_, err = e.user.WaitEvent(ctx, msgTimeout, func(evt *event.Event) bool {
		return evt.RoomID == resp.RoomID && evt.Type == event.StateMember &&
			evt.GetStateKey() == e.bot.String() && evt.Content.AsMember().Membership == event.MembershipJoin
	})
	if err != nil {
		e.t.Fatalf("bridge bot did not join its DM: %v", err)
	}
	// The bot greets in a new management room; wait for it so that it is
	// not taken for the answer to the first command.
	_, err = e.user.WaitEvent(ctx, msgTimeout, func(evt *event.Event) bool {
		return evt.RoomID == resp.RoomID && evt.Sender == e.bot && evt.Type == event.EventMessage &&
			strings.Contains(evt.Content.AsMessage().Body, "management room")
	})
	if err != nil {
		e.t.Fatalf("bridge bot did not greet in its DM: %v", err)
	}
	return resp.RoomID
}

// botSays waits for the next message from the bot in the management room after cursor.
func (e *env) botSays(cursor int) (stack.SeenEvent, error) {
	return e.user.WaitEventAfter(e.ctx, cursor, msgTimeout, func(evt *event.Event) bool {
		return evt.RoomID == e.mgmt && evt.Sender == e.bot && evt.Type == event.EventMessage
	})
}

// command sends text in the management room and returns the bot's first
// answer.
func (e *env) command(text string) (string, error) {
	evt, err := e.send(text)
	if err != nil {
		return "", err
	}
	return evt.Content.AsMessage().Body, nil
}

// send sends text in the management room and returns the bot's first answer.
func (e *env) send(text string) (stack.SeenEvent, error) {
	cursor := e.user.Cursor()
	if _, err := e.user.SendText(e.ctx, e.mgmt, text); err != nil {
		return stack.SeenEvent{}, fmt.Errorf("send %q: %w", text, err)
	}
	reply, err := e.botSays(cursor)
	if err != nil {
		return reply, fmt.Errorf("no answer to %q: %w", text, err)
	}
	return reply, nil
}

var optionsRe = regexp.MustCompile("Options: `([^`]*)`")

// login runs the bot's login command as a person would: it reads the bot's
// messages, answers every prompt (email, password, server) and returns the
// bot's final answer (success or error).
func (e *env) login(email, password string) (string, error) {
	evt, err := e.send("login")
	for step := 0; err == nil && step < 10; step++ {
		answer := evt.Content.AsMessage().Body
		prompt, isPrompt := strings.CutPrefix(answer, "Please enter your ")
		if !isPrompt {
			if isFinal(answer) {
				return answer, nil
			}
			// Instructions: the prompt follows.
			evt, err = e.botSays(evt.Index + 1)
			continue
		}
		field := strings.ToLower(strings.SplitN(prompt, "\n", 2)[0])
		var value string
		switch {
		case strings.Contains(field, "password"):
			value = password
		case strings.Contains(field, "server"):
			m := optionsRe.FindStringSubmatch(prompt)
			if m == nil {
				return "", fmt.Errorf("server prompt without options: %q", answer)
			}
			value = m[1]
		case strings.Contains(field, "email"), strings.Contains(field, "address"),
			strings.Contains(field, "passport"), strings.Contains(field, "user"):
			value = email
		default:
			return "", fmt.Errorf("unexpected login prompt %q", answer)
		}
		evt, err = e.send(value)
	}
	if err != nil {
		return "", err
	}
	return "", fmt.Errorf("login never finished; last answer %q", evt.Content.AsMessage().Body)
}

// isFinal tells whether a bot answer ends the login command.
func isFinal(answer string) bool {
	for _, s := range []string{"Successfully", "Failed", "Invalid", "You already have", "No login flows"} {
		if strings.Contains(answer, s) {
			return true
		}
	}
	return false
}

// keepLog copies a log of a failed test out of its temp dir, so the whole
// of it can be read after the run.
func keepLog(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Logf("keep log: %v", err)
		return
	}
	f, err := os.CreateTemp("", "mautrix-msn-e2e-failed-*.log")
	if err != nil {
		t.Logf("keep log: %v", err)
		return
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		t.Logf("keep log: %v", err)
		return
	}
	t.Logf("full bridge log kept in %s", f.Name())
}

// knownErrors are bridge log errors expected in these tests.
var knownErrors = []string{
	"The homeserver is outdated", // Dendrite advertises spec v1.2
}

// logErrors logs the bridge's error-level log lines (not a failure: they
// are for whoever reads a verbose run).
func logErrors(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		return
	}
	var found []string
lines:
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.Contains(line, `"level":"error"`) && !strings.Contains(line, `"level":"fatal"`) {
			continue
		}
		for _, known := range knownErrors {
			if strings.Contains(line, known) {
				continue lines
			}
		}
		found = append(found, line)
	}
	if len(found) > 0 {
		t.Logf("%d error lines in the bridge log, first ones:\n%s", len(found), strings.Join(found[:min(len(found), 10)], "\n"))
	}
}

// logTail logs the last n lines of a log file.
func logTail(t *testing.T, path string, n int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Logf("no log %s: %v", path, err)
		return
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	t.Logf("last %d lines of %s:\n%s", len(lines), path, strings.Join(lines, "\n"))
}
