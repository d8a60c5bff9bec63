package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
)

// peer is an MSN contact played by an msnclient logged in to the fake server,
// as a person on the MSN side of the bridge.
type peer struct {
	Email string
	Name  string
	*msnclient.Client

	mu      sync.Mutex
	events  []any
	changed chan struct{}
}

// msnConfig is the client config for an account of srv.
func msnConfig(srv *msntest.Server, email, password string) msnclient.Config {
	cfg := msnclient.Config{Email: email, Password: password, Server: srv.NSAddr(), RequestTimeout: 30 * time.Second}
	cfg.UseEscargotURLs(srv.HTTPURL())
	cfg.AllowPlainHTTP = true // msntest's plain HTTP on loopback
	return cfg
}

// connectPeer logs email in and keeps its events. The client is closed when
// the test ends.
func connectPeer(ctx context.Context, t *testing.T, srv *msntest.Server, email, password, name string) *peer {
	t.Helper()
	p := newPeer(email, name)
	p.Client = msnclient.NewClient(msnConfig(srv, email, password), p.handle)
	if err := p.Connect(ctx); err != nil {
		t.Fatalf("MSN contact %s could not log in: %v", email, err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func newPeer(email, name string) *peer {
	return &peer{Email: email, Name: name, changed: make(chan struct{})}
}

func (p *peer) handle(evt any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, evt)
	close(p.changed)
	p.changed = make(chan struct{})
}

// cursor marks the current end of the event log.
func (p *peer) cursor() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.events)
}

// waitAfter waits for an event after cursor that match accepts.
func (p *peer) waitAfter(ctx context.Context, cursor int, timeout time.Duration, what string, match func(any) bool) (any, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	next := cursor
	for {
		p.mu.Lock()
		evts := p.events[next:]
		changed := p.changed
		p.mu.Unlock()
		for _, evt := range evts {
			if match(evt) {
				return evt, nil
			}
		}
		next += len(evts)
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("%s never got %s within %s", p.Email, what, timeout)
		}
	}
}

// waitText waits for a text message after cursor from sender containing text.
func (p *peer) waitText(ctx context.Context, cursor int, from, text string) (*msnclient.MessageReceived, error) {
	evt, err := p.waitAfter(ctx, cursor, msgTimeout, fmt.Sprintf("message %q from %s", text, from), func(evt any) bool {
		msg, ok := evt.(*msnclient.MessageReceived)
		return ok && strings.EqualFold(msg.From, from) && strings.Contains(msg.Message.Text, text)
	})
	if err != nil {
		return nil, err
	}
	return evt.(*msnclient.MessageReceived), nil
}

// send sends text to a conversation with participants.
func (p *peer) send(ctx context.Context, msg msnclient.TextMessage, participants ...string) error {
	ctx, cancel := context.WithTimeout(ctx, msgTimeout)
	defer cancel()
	if err := p.Conversation(participants...).SendText(ctx, msg); err != nil {
		return fmt.Errorf("%s sending to %v: %w", p.Email, participants, err)
	}
	return nil
}
