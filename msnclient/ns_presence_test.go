package msnclient_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
)

// friends creates the accounts and puts each on the other's FL and AL.
func friends(t *testing.T, srv *msntest.Server, emails ...string) {
	t.Helper()
	for _, e := range emails {
		addAccount(t, srv, e, strings.Split(e, "@")[0])
	}
	for _, a := range emails {
		for _, b := range emails {
			if a != b {
				addContact(t, srv, a, b, fl|al)
			}
		}
	}
}

func TestPresenceAcrossDialects(t *testing.T) {
	tests := []struct{ sender, watcher int }{
		{18, 8}, {8, 18}, {11, 15}, {15, 11}, {16, 13}, {14, 9}, {12, 17}, {10, 18},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("MSNP%d_seen_by_MSNP%d", tt.sender, tt.watcher), func(t *testing.T) {
			srv := startServer(t, msntest.Options{})
			friends(t, srv, "alice@example.com", "bob@example.com")
			bob := nsConnect(t, config(srv, "bob@example.com", tt.watcher))
			mark := bob.rec.mark()
			alice := nsConnect(t, config(srv, "alice@example.com", tt.sender))
			ctx := ctxT(t)
			isAlice := func(st msnclient.Status) func(*msnclient.ContactPresence) bool {
				return func(p *msnclient.ContactPresence) bool { return p.Email == "alice@example.com" && p.Status == st }
			}
			waitFrom(t, bob.rec, mark, "alice online", isAlice(msnclient.StatusOnline))

			mark = bob.rec.mark()
			if err := alice.SetStatus(ctx, msnclient.StatusAway); err != nil {
				t.Fatal(err)
			}
			waitFrom(t, bob.rec, mark, "alice away", isAlice(msnclient.StatusAway))

			mark = bob.rec.mark()
			if err := alice.SetFriendlyName(ctx, "Alice\r\nOUT 100% "); err != nil {
				t.Fatal(err)
			}
			p := waitFrom(t, bob.rec, mark, "alice renamed", func(p *msnclient.ContactPresence) bool {
				return p.Email == "alice@example.com" && p.FriendlyName != "alice"
			})
			if p.FriendlyName != "Alice  OUT 100%" {
				t.Errorf("name %q", p.FriendlyName)
			}
			if srv.FriendlyName("alice@example.com") != "Alice  OUT 100%" {
				t.Errorf("server has name %q", srv.FriendlyName("alice@example.com"))
			}

			if tt.sender >= 11 {
				mark = bob.rec.mark()
				if err := alice.SetPersonalMessage(ctx, "At <work> & \"play\"", ""); err != nil {
					t.Fatal(err)
				}
				if tt.watcher >= 11 {
					pm := waitFrom(t, bob.rec, mark, "alice's PSM", func(p *msnclient.PersonalMessage) bool { return p.Email == "alice@example.com" })
					if pm.Message != "At <work> & \"play\"" {
						t.Errorf("PSM %q", pm.Message)
					}
				}
			} else if err := alice.SetPersonalMessage(ctx, "x", ""); err == nil {
				t.Errorf("MSNP%d accepted a personal message", tt.sender)
			}

			mark = bob.rec.mark()
			if err := alice.SetStatus(ctx, msnclient.StatusInvisible); err != nil {
				t.Fatal(err)
			}
			waitFrom(t, bob.rec, mark, "alice offline", isAlice(msnclient.StatusOffline))
			if ct, _ := bob.Contact("alice@example.com"); ct.Status != msnclient.StatusOffline {
				t.Errorf("Contacts() shows %s", ct.Status)
			}
			if err := alice.SetStatus(ctx, msnclient.StatusOffline); err == nil {
				t.Error("FLN accepted as own status")
			}
		})
	}
}

func TestInitialPresence(t *testing.T) {
	for _, v := range []int{8, 15, 18} {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			srv := startServer(t, msntest.Options{})
			friends(t, srv, "alice@example.com", "bob@example.com")
			bob := nsConnect(t, config(srv, "bob@example.com", 18))
			if err := bob.SetStatus(ctxT(t), msnclient.StatusBusy); err != nil {
				t.Fatal(err)
			}
			if v >= 11 {
				if err := bob.SetPersonalMessage(ctxT(t), "hello", ""); err != nil {
					t.Fatal(err)
				}
			}
			alice := nsConnect(t, config(srv, "alice@example.com", v))
			p := waitFrom(t, alice.rec, 0, "bob's presence", func(p *msnclient.ContactPresence) bool { return p.Email == "bob@example.com" })
			if p.Status != msnclient.StatusBusy || !p.Initial || p.FriendlyName != "bob" {
				t.Errorf("got %+v", p)
			}
			if v >= 11 {
				waitFrom(t, alice.rec, 0, "bob's PSM", func(p *msnclient.PersonalMessage) bool { return p.Message == "hello" })
			}
			for _, evt := range alice.rec.all() {
				if _, ok := evt.(*msnclient.Connected); ok {
					break
				}
				t.Errorf("%T%+v before Connected", evt, evt)
			}
			ct, _ := alice.Contact("bob@example.com")
			if ct.Status != msnclient.StatusBusy {
				t.Errorf("Contacts() shows %s", ct.Status)
			}
			for _, evt := range alice.rec.all() {
				if p, ok := evt.(*msnclient.ContactPresence); ok && p.Email == "alice@example.com" {
					t.Errorf("own presence reported as a contact: %+v", p)
				}
			}
		})
	}
}

func TestDisplayPictureSeenByContact(t *testing.T) {
	const obj = `<msnobj Creator="alice@example.com" Size="24539" Type="3" Location="TFR2C2.tmp" Friendly="AAA=" SHA1D="trC8SlFx2sWQxZMIBAWSEnXc8oQ=" SHA1C="U32o6bosZzluJq82eAtMpx5dIEI="/>`
	for _, v := range []int{9, 18} {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			srv := startServer(t, msntest.Options{})
			friends(t, srv, "alice@example.com", "bob@example.com")
			bob := nsConnect(t, config(srv, "bob@example.com", 15))
			alice := nsConnect(t, config(srv, "alice@example.com", v))
			if err := alice.SetDisplayPicture(ctxT(t), obj); err != nil {
				t.Fatal(err)
			}
			mark := bob.rec.mark()
			// Escargot passes a new picture on with the next status change.
			if err := alice.SetStatus(ctxT(t), msnclient.StatusBusy); err != nil {
				t.Fatal(err)
			}
			p := waitFrom(t, bob.rec, mark, "busy with picture", func(p *msnclient.ContactPresence) bool {
				return p.Email == "alice@example.com" && p.Status == msnclient.StatusBusy
			})
			if p.MSNObject != obj {
				t.Errorf("MSNObject %q", p.MSNObject)
			}
			if err := alice.SetDisplayPicture(ctxT(t), "not xml"); err == nil {
				t.Error("invalid MSNObject accepted")
			}
		})
	}
}

func TestLaterSignInIsNotInitial(t *testing.T) {
	for _, v := range []int{11, 18} {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			srv := startServer(t, msntest.Options{})
			friends(t, srv, "alice@example.com", "bob@example.com")
			alice := nsConnect(t, config(srv, "alice@example.com", v))
			mark := alice.rec.mark()
			nsConnect(t, config(srv, "bob@example.com", 18))
			p := waitFrom(t, alice.rec, mark, "bob online", func(p *msnclient.ContactPresence) bool { return p.Email == "bob@example.com" })
			if p.Initial || p.Status != msnclient.StatusOnline {
				t.Errorf("got %+v", p)
			}
		})
	}
}

func TestInitialStatusInvisible(t *testing.T) {
	srv := startServer(t, msntest.Options{})
	friends(t, srv, "alice@example.com", "bob@example.com")
	bob := nsConnect(t, config(srv, "bob@example.com", 11))
	cfg := config(srv, "alice@example.com", 18)
	cfg.InitialStatus = msnclient.StatusInvisible
	mark := bob.rec.mark()
	alice := nsConnect(t, cfg)
	if !srv.IsOnline("alice@example.com") || srv.Status("alice@example.com") != "FLN" {
		t.Fatalf("server: online %v, status %s", srv.IsOnline("alice@example.com"), srv.Status("alice@example.com"))
	}
	if err := alice.SetStatus(ctxT(t), msnclient.StatusOnline); err != nil {
		t.Fatal(err)
	}
	waitFrom(t, bob.rec, mark, "alice online", func(p *msnclient.ContactPresence) bool {
		return p.Email == "alice@example.com" && p.Status == msnclient.StatusOnline
	})
	for _, evt := range bob.rec.all()[mark:] {
		if p, ok := evt.(*msnclient.ContactPresence); ok && p.Email == "alice@example.com" {
			if p.Status != msnclient.StatusOffline && p.Status != msnclient.StatusOnline {
				t.Errorf("bob saw %+v", p)
			}
			if p.Status == msnclient.StatusOnline {
				break
			}
		}
	}
}
