package bridge

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/bridgev2/status"
)

// loginGoroutines counts the goroutines started by the bridge's and the
// MSN library's code (not the fake server's, not the tests'), with the
// functions that started them.
func loginGoroutines(t *testing.T) (int, []string) {
	t.Helper()
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	var creators []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		_, creator, ok := strings.Cut(g, "\ncreated by ")
		if !ok {
			continue
		}
		creator, _, _ = strings.Cut(creator, " in goroutine")
		creator, _, _ = strings.Cut(creator, "\n")
		switch {
		case strings.Contains(creator, "/msntest"), strings.Contains(creator, ".Test"), strings.Contains(creator, "testing."):
			continue
		case strings.HasPrefix(creator, "github.com/mautrix-msn/mautrix-msn/bridge."),
			strings.HasPrefix(creator, "github.com/mautrix-msn/mautrix-msn/msnclient"):
			creators = append(creators, creator)
		}
	}
	return len(creators), creators
}

// An idle login keeps one goroutine of ours: the notification server's
// read loop (bridgev2 adds its bridge state queue). The connect loop runs
// on a goroutine only while signing in or backing off; while connected,
// the session's end calls back into it (connectloop.go).
// It replaces TestIdleLoginBridgeGoroutines, which counted only the
// goroutines started by MSNClient methods and missed the side work's. Everything else (the side work after
// MSN events, the presence refresh, the address book refresh) runs on
// timers or on goroutines started when there is work, so 1,000 idle
// logins do not pay for idle stacks (docs/performance.md).
func TestIdleLoginGoroutines(t *testing.T) {
	_, c := testServer(t)
	c.Config.Presence.Enabled = true
	c.Config.ContactGroups.RefreshIntervalSeconds = 60
	m, states := testClient(t, c, testPassword)
	m.refreshEvery = time.Minute
	m.Connect(context.Background())
	expectState(t, states, status.StateConnected, "")
	deadline := time.Now().Add(testTimeout)
	for {
		n, creators := loginGoroutines(t)
		if n <= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines for one idle login, want 1 (NS read loop): %q", n, creators)
		}
		time.Sleep(50 * time.Millisecond) // the contact sync after connecting may still run
	}
	// Work after an event runs and its goroutine ends again.
	m.side.setOwnName("Me")
	deadline = time.Now().Add(testTimeout)
	for n, _ := loginGoroutines(t); n > 1; n, _ = loginGoroutines(t) {
		if time.Now().After(deadline) {
			t.Fatalf("the side work goroutine did not end")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
