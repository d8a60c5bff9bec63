package msnclient_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
)

// msgCounter counts received text messages without keeping them.
type msgCounter struct {
	n    atomic.Int64
	mu   sync.Mutex
	want int64
	done chan struct{}
}

func (m *msgCounter) handle(evt any) {
	if _, ok := evt.(*msnclient.MessageReceived); !ok {
		return
	}
	n := m.n.Add(1)
	m.mu.Lock()
	if m.done != nil && n >= m.want {
		close(m.done)
		m.done = nil
	}
	m.mu.Unlock()
}

// waitFor waits until total messages were received.
func (m *msgCounter) waitFor(b *testing.B, total int64) {
	m.mu.Lock()
	if m.n.Load() >= total {
		m.mu.Unlock()
		return
	}
	done := make(chan struct{})
	m.want, m.done = total, done
	m.mu.Unlock()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("received %d of %d messages", m.n.Load(), total)
	}
}

func benchLogin(b *testing.B, srv *msntest.Server, email string, version int, handler msnclient.EventHandler) *msnclient.Client {
	c, err := tryLogin(srv, email, version, handler)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

func tryLogin(srv *msntest.Server, email string, version int, handler msnclient.EventHandler) (*msnclient.Client, error) {
	c := msnclient.NewClient(chatConfig(srv, email, version), handler)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		return nil, fmt.Errorf("log in %s: %w", email, err)
	}
	return c, nil
}

// BenchmarkSendTextOneSwitchboard sends acknowledged messages one after the
// other through one switchboard; the receiver parses every one.
func BenchmarkSendTextOneSwitchboard(b *testing.B) {
	srv := chatServer(b, "alice@example.com", "bob@example.com")
	alice := benchLogin(b, srv, "alice@example.com", 18, func(any) {})
	recv := &msgCounter{}
	benchLogin(b, srv, "bob@example.com", 18, recv.handle)
	ctx := context.Background()
	conv := alice.Conversation("bob@example.com")
	msg := msnclient.TextMessage{Text: "The quick brown fox jumps over the lazy dog", Format: msnclient.Format{Font: "Segoe UI", Color: 0x336699}}
	if err := conv.SendText(ctx, msg); err != nil {
		b.Fatal(err)
	}
	recv.waitFor(b, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := conv.SendText(ctx, msg); err != nil {
			b.Fatal(err)
		}
	}
	recv.waitFor(b, int64(b.N)+1)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkSendText100Conversations sends from one account into 100
// conversations (100 contacts) in parallel.
func BenchmarkSendText100Conversations(b *testing.B) {
	const n = 100
	emails := []string{"alice@example.com"}
	for i := 0; i < n; i++ {
		emails = append(emails, fmt.Sprintf("peer%03d@example.com", i))
	}
	srv, err := msntest.Start(msntest.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	for _, e := range emails {
		if err := srv.AddAccount(e, "pw-"+e, e); err != nil {
			b.Fatal(err)
		}
	}
	for _, e := range emails[1:] {
		if err := srv.AddContact("alice@example.com", e, msntest.ListFL|msntest.ListAL); err != nil {
			b.Fatal(err)
		}
		if err := srv.AddContact(e, "alice@example.com", msntest.ListFL|msntest.ListAL); err != nil {
			b.Fatal(err)
		}
	}
	recv := &msgCounter{}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, e := range emails[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := tryLogin(srv, e, 8, recv.handle)
			if err != nil {
				errs <- err
				return
			}
			b.Cleanup(func() { c.Close() })
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	alice := benchLogin(b, srv, "alice@example.com", 18, func(any) {})
	ctx := context.Background()
	convs := make([]*msnclient.Conversation, n)
	for i, e := range emails[1:] {
		convs[i] = alice.Conversation(e)
	}
	msg := msnclient.TextMessage{Text: "The quick brown fox jumps over the lazy dog"}
	// Open every switchboard before timing.
	for _, cv := range convs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := cv.SendText(ctx, msg); err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
	recv.waitFor(b, n)
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	for _, cv := range convs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if err := cv.SendText(ctx, msg); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	recv.waitFor(b, int64(b.N)+n)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
