package msnclient_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
)

// Helpers shared by the NS and conversation tests.

// serverConfig returns a client config for email on every service of srv,
// offering only version.
func serverConfig(srv *msntest.Server, email, password string, version int) msnclient.Config {
	cfg := msnclient.Config{Email: email, Password: password, Server: srv.NSAddr(), Versions: []int{version}}
	cfg.UseEscargotURLs(srv.HTTPURL())
	cfg.AllowPlainHTTP = true // msntest's plain HTTP on loopback
	return cfg
}

// recorder collects a client's events.
type recorder struct {
	mu      sync.Mutex
	events  []any
	changed chan struct{} // closed and replaced on every event
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{})} }

func (r *recorder) handle(evt any) {
	r.mu.Lock()
	r.events = append(r.events, evt)
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// mark returns the number of events so far, for waitFrom.
func (r *recorder) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// all returns a copy of the events so far.
func (r *recorder) all() []any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]any(nil), r.events...)
}

// nth returns the n-th (1-based) event at index >= from that is a T
// matching match (nil matches all), and the number of such events when
// there are fewer than n.
func nth[T any](r *recorder, from, n int, match func(T) bool) (T, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	count := 0
	for _, evt := range r.events[min(from, len(r.events)):] {
		if e, ok := evt.(T); ok && (match == nil || match(e)) {
			if count++; count == n {
				return e, count
			}
		}
	}
	var zero T
	return zero, count
}

// waitNth waits up to timeout for the n-th event at index >= from that is
// a T matching match; what names it in the failure.
func waitNth[T any](t testing.TB, r *recorder, from, n int, timeout time.Duration, what string, match func(T) bool) T {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		ch := r.changed
		r.mu.Unlock()
		if e, count := nth(r, from, n, match); count == n {
			return e
		}
		select {
		case <-ch:
		case <-deadline.C:
			var zero T
			t.Fatalf("timed out waiting for %s (%T); events: %s", what, zero, nsDescribe(r.all()))
			return zero
		}
	}
}

// waitFrom waits for an event at index >= from matching match.
func waitFrom[T any](t testing.TB, r *recorder, from int, what string, match func(T) bool) T {
	t.Helper()
	return waitNth(t, r, from, 1, testTimeout, what, match)
}

func nsDescribe(events []any) string {
	var b strings.Builder
	for _, e := range events {
		fmt.Fprintf(&b, "\n  %T%+v", e, e)
	}
	return b.String()
}
