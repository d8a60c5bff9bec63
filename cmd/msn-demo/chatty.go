package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
)

// greeting is what the chatty contact says when the demo user comes online.
const greeting = "Hi! I'm Chatty, the demo contact. Say something and I'll answer."

// chatty is the demo contact: it greets the demo user when they sign in,
// answers every message and goes away and comes back periodically.
type chatty struct {
	client *msnclient.Client
	logf   func(format string, args ...any)
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	closed   bool
	userSeen bool // demo user online (greeted once per sign-in)
}

func startChatty(parent context.Context, srv *msntest.Server, awayEvery time.Duration, logf func(string, ...any)) (*chatty, error) {
	ctx, cancel := context.WithCancel(parent)
	c := &chatty{ctx: ctx, cancel: cancel, logf: logf}
	c.client = msnclient.NewClient(peerConfig(srv, chattyEmail), c.handle)
	if err := c.client.Connect(ctx); err != nil {
		cancel()
		return nil, fmt.Errorf("demo contact %s: %w", chattyEmail, err)
	}
	if awayEvery > 0 {
		c.goSafe(func() { c.awayLoop(awayEvery) })
	}
	return c, nil
}

// Close signs the contact out and waits for its goroutines.
func (c *chatty) Close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	_ = c.client.Close()
	c.wg.Wait()
}

// handle runs on the client's event goroutine: anything that talks to the
// server goes to its own goroutine so the event stream never blocks.
func (c *chatty) handle(evt any) {
	switch evt := evt.(type) {
	case *msnclient.ContactPresence:
		if !strings.EqualFold(evt.Email, demoUserEmail) {
			return
		}
		online := evt.Status != msnclient.StatusOffline
		c.mu.Lock()
		greet := online && !c.userSeen
		c.userSeen = online
		c.mu.Unlock()
		if greet {
			c.say([]string{demoUserEmail}, greeting)
		}
	case *msnclient.MessageReceived:
		if evt.FromSelf {
			return
		}
		c.say(evt.Participants, answer(evt.FromName, evt.Message.Text))
	case *msnclient.Nudge:
		if !evt.FromSelf {
			c.say(evt.Participants, "Hey, no need to shake me!")
		}
	}
}

// answer is the chatty contact's reply to a message.
func answer(fromName, text string) string {
	if fromName == "" {
		return "Thanks! You said: " + text
	}
	return fmt.Sprintf("Thanks %s! You said: %s", fromName, text)
}

// goSafe runs fn in a goroutine that Close waits for, unless closed.
func (c *chatty) goSafe(fn func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		fn()
	}()
}

func (c *chatty) say(participants []string, text string) {
	c.goSafe(func() {
		ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
		defer cancel()
		err := c.client.Conversation(participants...).SendText(ctx, msnclient.TextMessage{Text: text})
		if err != nil && c.ctx.Err() == nil {
			c.logf("demo contact could not send to %v: %v", participants, err)
		}
	})
}

// awayLoop toggles between away and online.
func (c *chatty) awayLoop(every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	away := false
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-tick.C:
		}
		away = !away
		status := msnclient.StatusOnline
		if away {
			status = msnclient.StatusAway
		}
		ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
		if err := c.client.SetStatus(ctx, status); err != nil && c.ctx.Err() == nil {
			c.logf("demo contact could not set status %s: %v", status, err)
		}
		cancel()
	}
}
