package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
)

// events collects a client's events for waiting.
type events struct {
	mu      sync.Mutex
	list    []any
	changed chan struct{}
}

func newEvents() *events { return &events{changed: make(chan struct{})} }

func (e *events) add(evt any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, evt)
	close(e.changed)
	e.changed = make(chan struct{})
}

// wait waits for an event at index from or later and returns the index
// after it.
func (e *events) wait(t *testing.T, from int, what string, match func(any) bool) int {
	t.Helper()
	deadline := time.After(30 * time.Second)
	next := from
	for {
		e.mu.Lock()
		list, changed := e.list[next:], e.changed
		e.mu.Unlock()
		for i, evt := range list {
			if match(evt) {
				return next + i + 1
			}
		}
		next += len(list)
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("never got %s", what)
		}
	}
}

// TestChatty checks the demo contact as the demo user sees it: a greeting
// on sign-in, an answer to each message and away/online changes.
func TestChatty(t *testing.T) {
	srv, err := msntest.Start(msntest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := addAccounts(srv); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var logged []string
	var logMu sync.Mutex
	c, err := startChatty(ctx, srv, 200*time.Millisecond, func(format string, args ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		logged = append(logged, format)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	evts := newEvents()
	cfg := peerConfig(srv, demoUserEmail)
	cfg.Password = demoUserPassword
	user := msnclient.NewClient(cfg, evts.add)
	if err := user.Connect(ctx); err != nil {
		t.Fatalf("demo user login: %v", err)
	}
	defer user.Close()

	fromChatty := func(text string) func(any) bool {
		return func(evt any) bool {
			msg, ok := evt.(*msnclient.MessageReceived)
			return ok && msg.From == chattyEmail && strings.Contains(msg.Message.Text, text)
		}
	}
	evts.wait(t, 0, "the greeting", fromChatty("I'm Chatty"))

	sendCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := user.Conversation(chattyEmail).SendText(sendCtx, msnclient.TextMessage{Text: "ping 42"}); err != nil {
		t.Fatalf("send to chatty: %v", err)
	}
	evts.wait(t, 0, "the answer", fromChatty("You said: ping 42"))

	status := func(s msnclient.Status) func(any) bool {
		return func(evt any) bool {
			p, ok := evt.(*msnclient.ContactPresence)
			return ok && p.Email == chattyEmail && p.Status == s
		}
	}
	away := evts.wait(t, 0, "chatty going away", status(msnclient.StatusAway))
	evts.wait(t, away, "chatty coming back", status(msnclient.StatusOnline))

	logMu.Lock()
	defer logMu.Unlock()
	if len(logged) > 0 {
		t.Errorf("chatty reported errors: %v", logged)
	}
}

func TestAnswer(t *testing.T) {
	if got := answer("Bob", "hi"); got != "Thanks Bob! You said: hi" {
		t.Errorf("answer = %q", got)
	}
	if got := answer("", "hi"); got != "Thanks! You said: hi" {
		t.Errorf("answer without a name = %q", got)
	}
}
