package msnclient

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// joinScripted joins a scripted switchboard session with bob and returns
// the client's switchboard.
func joinScripted(t *testing.T, cfg Config) (*Client, *scriptedSB, *sbConn) {
	t.Helper()
	c := NewClient(cfg, nil)
	srv := newScriptedSB(t)
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		errc <- c.sb.answer(ctx, "sid", srv.ln.Addr().String(), "c")
	}()
	srv.accept()
	srv.expectLine("ANS 1 " + cfg.Email + " c sid")
	srv.write("IRO 1 1 1 bob@example.com Bob\r\n", "ANS 1 OK\r\n")
	if err := <-errc; err != nil {
		t.Fatalf("answer: %v", err)
	}
	sb := c.sb.find([]string{"bob@example.com"})
	if sb == nil {
		t.Fatal("joined switchboard not found")
	}
	t.Cleanup(sb.close)
	return c, srv, sb
}

func TestSBSendRefusedOnceIdleCloseDecided(t *testing.T) {
	c, srv, sb := joinScripted(t, Config{Email: "me@example.com"})
	// The state right after the idle check decided to close the
	// switchboard, before the connection is closed.
	sb.mu.Lock()
	sb.closing = true
	sb.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sb.sendMessage(ctx, "A", []byte("MIME-Version: 1.0\r\n\r\nhi"), 1); !errors.Is(err, errSBClosed) {
		t.Fatalf("send on a closing switchboard gave %v, want errSBClosed", err)
	}
	if c.sb.find([]string{"bob@example.com"}) != nil {
		t.Error("a closing switchboard is still offered for new messages")
	}
	_ = sb.w.WriteCommand(msnp.New("OUT"))
	_ = sb.conn.Close()
	if line, _ := srv.r.ReadString('\n'); strings.HasPrefix(line, "MSG") {
		t.Errorf("message written to a closing switchboard: %q", line)
	}
}

func TestSBIdleCheckMarksClosing(t *testing.T) {
	_, srv, sb := joinScripted(t, Config{Email: "me@example.com"})
	sb.mu.Lock()
	sb.lastActive = time.Now().Add(-time.Hour)
	sb.mu.Unlock()
	sb.checkIdle()
	if sb.usable() {
		t.Error("idle switchboard still usable")
	}
	srv.expectLine("OUT")
}

func TestSBWriteHonoursRequestTimeout(t *testing.T) {
	_, srv, sb := joinScripted(t, Config{Email: "me@example.com", RequestTimeout: time.Second})
	// The scripted server never reads: the socket buffers fill up and a
	// write blocks until its deadline.
	payload := []byte("MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\n\r\n" + strings.Repeat("x", 1500))
	errc := make(chan error, 1)
	go func() {
		ctx := context.Background()
		for {
			if err := sb.sendMessage(ctx, "U", payload, 0); err != nil {
				errc <- err
				return
			}
		}
	}()
	select {
	case err := <-errc:
		if errors.Is(err, errSBClosed) {
			t.Errorf("blocked write gave %v, want a write timeout", err)
		}
	case <-time.After(60 * time.Second):
		_ = srv.conn.Close() // unblock the writer so the cleanup can finish
		t.Fatal("a write to a server that stopped reading is still blocked")
	}
	if sb.usable() {
		t.Error("switchboard still used after a failed write")
	}
}
