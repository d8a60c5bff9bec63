package msnclient_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
)

func disconnects(r *recorder) []*msnclient.Disconnected {
	var out []*msnclient.Disconnected
	for _, evt := range r.all() {
		if d, ok := evt.(*msnclient.Disconnected); ok {
			out = append(out, d)
		}
	}
	return out
}

func TestMPOPTwoEndpointsStayConnected(t *testing.T) {
	srv := startServer(t, msntest.Options{})
	friends(t, srv, "alice@example.com", "bob@example.com")
	bob := nsConnect(t, config(srv, "bob@example.com", 18))

	cfg1 := config(srv, "alice@example.com", 18)
	cfg1.MachineGUID = "{11111111-1111-4111-8111-111111111111}"
	home := nsConnect(t, cfg1)
	cfg2 := config(srv, "alice@example.com", 18)
	work := nsConnect(t, cfg2)
	if work.MachineGUID() == "" || work.MachineGUID() == home.MachineGUID() {
		t.Fatalf("GUIDs %q %q", home.MachineGUID(), work.MachineGUID())
	}

	// A name change on one endpoint reaches the other as OwnProfile.
	mark := home.rec.mark()
	bobMark := bob.rec.mark()
	if err := work.SetFriendlyName(ctxT(t), "Alice at work"); err != nil {
		t.Fatal(err)
	}
	own := waitFrom(t, home.rec, mark, "own profile", func(p *msnclient.OwnProfile) bool { return p.FriendlyName == "Alice at work" })
	if home.FriendlyName() != own.FriendlyName {
		t.Errorf("FriendlyName() = %q", home.FriendlyName())
	}
	mark = home.rec.mark()
	if err := work.SetPersonalMessage(ctxT(t), "busy day", ""); err != nil {
		t.Fatal(err)
	}
	waitFrom(t, home.rec, mark, "own PSM", func(p *msnclient.OwnProfile) bool { return p.PersonalMessage == "busy day" })
	// bob sees the rename once; both endpoints stay up.
	waitFrom(t, bob.rec, bobMark, "rename", func(p *msnclient.ContactPresence) bool { return p.FriendlyName == "Alice at work" })
	for _, c := range []*testClient{home, work} {
		if d := disconnects(c.rec); len(d) != 0 {
			t.Fatalf("endpoint disconnected: %+v", d[0])
		}
		for _, evt := range c.rec.all() {
			switch e := evt.(type) {
			case *msnclient.ContactPresence:
				if e.Email == "alice@example.com" {
					t.Errorf("own echo as contact presence: %+v", e)
				}
			case *msnclient.PersonalMessage:
				if e.Email == "alice@example.com" {
					t.Errorf("own echo as contact PSM: %+v", e)
				}
			}
		}
	}
	renames := 0
	for _, evt := range bob.rec.all()[bobMark:] {
		if p, ok := evt.(*msnclient.ContactPresence); ok && p.FriendlyName == "Alice at work" {
			renames++
		}
	}
	if renames != 1 {
		t.Errorf("bob got %d rename events, want 1", renames)
	}
}

func TestOtherLoginSignsOutOldDialect(t *testing.T) {
	for _, v := range []int{11, 15} {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			srv := startServer(t, msntest.Options{})
			addAccount(t, srv, "alice@example.com", "Alice")
			old := nsConnect(t, config(srv, "alice@example.com", v))
			nsConnect(t, config(srv, "alice@example.com", v))
			d := waitFrom[*msnclient.Disconnected](t, old.rec, 0, "Disconnected", nil)
			if d.Reason != msnclient.ReasonOtherLogin || !errors.Is(d.Err, msnclient.ErrSignedInElsewhere) {
				t.Errorf("got %+v", d)
			}
			if err := old.SetStatus(ctxT(t), msnclient.StatusAway); !errors.Is(err, msnclient.ErrNotConnected) {
				t.Errorf("SetStatus after sign-out: %v", err)
			}
		})
	}
}

func TestServerSignOuts(t *testing.T) {
	tests := []struct {
		name   string
		do     func(srv *msntest.Server)
		reason msnclient.DisconnectReason
	}{
		{"OUT SSD", func(srv *msntest.Server) { srv.SendOUT("alice@example.com", "SSD") }, msnclient.ReasonServerShutdown},
		{"OUT OTH", func(srv *msntest.Server) { srv.SendOUT("alice@example.com", "OTH") }, msnclient.ReasonOtherLogin},
		{"dropped", func(srv *msntest.Server) { srv.DropConnections("alice@example.com") }, msnclient.ReasonConnectionLost},
	}
	for _, v := range []int{8, 18} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("MSNP%d/%s", v, tt.name), func(t *testing.T) {
				srv := startServer(t, msntest.Options{})
				addAccount(t, srv, "alice@example.com", "Alice")
				c := nsConnect(t, config(srv, "alice@example.com", v))
				tt.do(srv)
				d := waitFrom[*msnclient.Disconnected](t, c.rec, 0, "Disconnected", nil)
				if d.Reason != tt.reason || d.Err == nil {
					t.Errorf("got %+v, want reason %d with an error", d, tt.reason)
				}
				// Reconnect on the same client; Close ends the new session.
				if err := c.Connect(ctxT(t)); err != nil {
					t.Fatalf("reconnect: %v", err)
				}
				mark := c.rec.mark()
				waitFrom[*msnclient.Connected](t, c.rec, mark-1, "Connected again", nil)
				_ = c.Close()
				waitFrom(t, c.rec, mark, "closed", func(d *msnclient.Disconnected) bool { return d.Reason == msnclient.ReasonClosed })
				_ = c.Close() // idempotent
				if n := len(disconnects(c.rec)); n != 2 {
					t.Errorf("%d Disconnected events for two sessions", n)
				}
			})
		}
	}
}

func TestDeadConnectionDetected(t *testing.T) {
	srv := startServer(t, msntest.Options{})
	addAccount(t, srv, "alice@example.com", "Alice")
	cfg := config(srv, "alice@example.com", 18)
	cfg.PingInterval = 100 * time.Millisecond
	cfg.DeadTimeout = 2 * time.Second
	c := nsConnect(t, cfg)

	srv.SetAnswerPings(false)
	start := time.Now()
	d := waitFrom[*msnclient.Disconnected](t, c.rec, 0, "Disconnected", nil)
	if d.Reason != msnclient.ReasonConnectionLost {
		t.Errorf("got %+v", d)
	}
	if elapsed := time.Since(start); elapsed > 2*cfg.DeadTimeout+testTimeout/2 {
		t.Errorf("detected after %s", elapsed)
	}
}

func TestPingsKeepIdleConnectionAlive(t *testing.T) {
	srv := startServer(t, msntest.Options{})
	addAccount(t, srv, "alice@example.com", "Alice")
	cfg := config(srv, "alice@example.com", 11)
	cfg.PingInterval = 100 * time.Millisecond
	cfg.DeadTimeout = 1500 * time.Millisecond
	c := nsConnect(t, cfg)
	// Idle for several dead timeouts: only QNG replies keep it alive.
	timer := time.NewTimer(3 * cfg.DeadTimeout)
	<-timer.C
	if d := disconnects(c.rec); len(d) != 0 {
		t.Fatalf("idle connection with answered pings died: %+v", d[0])
	}
	if err := c.SetStatus(ctxT(t), msnclient.StatusAway); err != nil {
		t.Fatal(err)
	}
}
