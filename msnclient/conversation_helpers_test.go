package msnclient_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
)

// chatTimeout is generous: tests must pass on a loaded 2-core CI machine.
const chatTimeout = 60 * time.Second

// chatPeer is a logged-in client that records its events.
type chatPeer struct {
	*msnclient.Client
	email string

	mu      sync.Mutex
	events  []any
	changed chan struct{}
}

func (p *chatPeer) handle(evt any) {
	p.mu.Lock()
	p.events = append(p.events, evt)
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// chatWait waits for the n-th (1-based) event matching match and returns it.
func chatWait[T any](t testing.TB, p *chatPeer, n int, match func(T) bool) T {
	t.Helper()
	deadline := time.After(chatTimeout)
	for {
		p.mu.Lock()
		count := 0
		for _, e := range p.events {
			if v, ok := e.(T); ok && (match == nil || match(v)) {
				count++
				if count == n {
					p.mu.Unlock()
					return v
				}
			}
		}
		ch := p.changed
		p.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			var zero T
			t.Fatalf("%s: timed out waiting for event %d of type %T", p.email, n, zero)
			return zero
		}
	}
}

// count returns how many events of type T matching match were received.
func chatCount[T any](p *chatPeer, match func(T) bool) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, e := range p.events {
		if v, ok := e.(T); ok && (match == nil || match(v)) {
			n++
		}
	}
	return n
}

// testServer starts a fake server with the given accounts, all contacts of
// each other.
func chatServer(t testing.TB, emails ...string) *msntest.Server {
	t.Helper()
	srv, err := msntest.Start(msntest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	for _, e := range emails {
		if err := srv.AddAccount(e, "pw-"+e, "Name of "+e); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range emails {
		for _, b := range emails {
			if a != b {
				if err := srv.AddContact(a, b, msntest.ListFL|msntest.ListAL); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return srv
}

func chatConfig(srv *msntest.Server, email string, version int) msnclient.Config {
	base := srv.HTTPURL()
	return msnclient.Config{
		Email:             email,
		Password:          "pw-" + email,
		Server:            srv.NSAddr(),
		NexusURL:          base + "/rdr/pprdr.asp",
		LoginURL:          base + "/login",
		RSTURL:            base + "/RST.srf",
		RST2URL:           base + "/RST2.srf",
		ABServiceURL:      base + "/abservice/abservice.asmx",
		SharingServiceURL: base + "/abservice/SharingService.asmx",
		Versions:          []int{version},
	}
}

// connect logs email in with one dialect; cfgFn may adjust the config.
func chatConnect(t testing.TB, srv *msntest.Server, email string, version int, cfgFn func(*msnclient.Config)) *chatPeer {
	t.Helper()
	cfg := chatConfig(srv, email, version)
	if cfgFn != nil {
		cfgFn(&cfg)
	}
	p := &chatPeer{email: email, changed: make(chan struct{})}
	p.Client = msnclient.NewClient(cfg, p.handle)
	ctx, cancel := context.WithTimeout(context.Background(), chatTimeout)
	defer cancel()
	if err := p.Connect(ctx); err != nil {
		t.Fatalf("log in %s with MSNP%d: %v", email, version, err)
	}
	if got := p.Version(); got != version {
		t.Fatalf("%s negotiated MSNP%d, want %d", email, got, version)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func chatCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), chatTimeout)
	t.Cleanup(cancel)
	return ctx
}
