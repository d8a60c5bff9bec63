package msnclient_test

import (
	"crypto/tls"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/mautrix-msn/mautrix-msn/msnclient/internal/testutil"
	"github.com/rs/zerolog"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
)

func TestLoginEveryDialect(t *testing.T) {
	srv := startServer(t, msntest.Options{})
	addAccount(t, srv, "alice@example.com", "Alice A")
	addAccount(t, srv, "bob@example.com", "Bob B")
	addContact(t, srv, "alice@example.com", "bob@example.com", 3)
	addContact(t, srv, "bob@example.com", "alice@example.com", 3)
	for _, v := range allVersions {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			c := nsConnect(t, config(srv, "alice@example.com", v))
			if got := c.Version(); got != v {
				t.Errorf("Version() = %d, want %d", got, v)
			}
			conn := waitFrom[*msnclient.Connected](t, c.rec, 0, "Connected", nil)
			if conn.Version != v {
				t.Errorf("Connected.Version = %d", conn.Version)
			}
			bob, ok := c.Contact("bob@example.com")
			if !ok || bob.Lists&(msnclient.ListForward|msnclient.ListAllow) != msnclient.ListForward|msnclient.ListAllow {
				t.Errorf("bob missing or wrong lists: %+v %v", bob, ok)
			}
			if !srv.IsOnline("alice@example.com") {
				t.Error("server does not see alice online")
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			d := waitFrom[*msnclient.Disconnected](t, c.rec, 0, "Disconnected", nil)
			if d.Reason != msnclient.ReasonClosed {
				t.Errorf("reason %v", d.Reason)
			}
		})
	}
}

func TestLoginWrongPassword(t *testing.T) {
	srv := startServer(t, msntest.Options{})
	addAccount(t, srv, "alice@example.com", "Alice")
	for _, v := range []int{8, 11, 13, 15, 18} { // Tweener and SSO
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			cfg := config(srv, "alice@example.com", v)
			cfg.Password = "wrong"
			c := newTestClient(cfg)
			err := c.Connect(ctxT(t))
			if !errors.Is(err, msnclient.ErrBadCredentials) {
				t.Fatalf("got %v, want ErrBadCredentials", err)
			}
			if strings.Contains(err.Error(), "wrong\"") || strings.Contains(err.Error(), testPassword) {
				t.Errorf("error leaks the password: %v", err)
			}
			if c.Version() == 0 {
				t.Error("dialect not negotiated before auth")
			}
			if len(c.rec.all()) != 0 {
				t.Errorf("events from a failed login: %s", nsDescribe(c.rec.all()))
			}
		})
	}
}

func TestLoginUnknownServerVersion(t *testing.T) {
	srv := startServer(t, msntest.Options{})
	addAccount(t, srv, "alice@example.com", "Alice")
	cfg := config(srv, "alice@example.com", 18)
	cfg.Versions = []int{7, 19}
	if err := newTestClient(cfg).Connect(ctxT(t)); err == nil || !strings.Contains(err.Error(), "version") {
		t.Fatalf("got %v", err)
	}
}

func TestLoginHTTPSWithCAFile(t *testing.T) {
	srv := startServer(t, msntest.Options{TLS: true})
	addAccount(t, srv, "alice@example.com", "Alice")
	caFile := writeFile(t, "ca.pem", srv.CACertPEM())
	for _, v := range []int{11, 18} {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			cfg := httpsConfig(srv, v)
			cfg.CAFile = caFile
			c := nsConnect(t, cfg)
			_ = c.Close()

			cfg.CAFile = ""
			err := newTestClient(cfg).Connect(ctxT(t))
			var verr *tls.CertificateVerificationError
			if !errors.As(err, &verr) {
				t.Fatalf("without the CA: got %v, want a certificate verification error", err)
			}
		})
	}
}

func httpsConfig(srv *msntest.Server, v int) msnclient.Config {
	cfg := config(srv, "alice@example.com", v)
	cfg.UseEscargotURLs(srv.HTTPSURL())
	return cfg
}

func TestMicrosoftModeChallengeAndRedirect(t *testing.T) {
	srv := startServer(t, msntest.Options{Microsoft: true})
	addAccount(t, srv, "alice@example.com", "Alice")
	addAccount(t, srv, "bob@example.com", "Bob")
	addContact(t, srv, "alice@example.com", "bob@example.com", 3)
	addContact(t, srv, "bob@example.com", "alice@example.com", 3)
	for _, v := range []int{8, 11, 15, 18} {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			// NSAddr is a dispatch server: login only works by following XFR NS.
			alice := nsConnect(t, config(srv, "alice@example.com", v))
			bob := nsConnect(t, config(srv, "bob@example.com", 18))
			// The server sent CHL after login; a wrong or missing QRY closes
			// the connection. A status change seen by bob proves it is alive.
			mark := bob.rec.mark()
			if err := alice.SetStatus(ctxT(t), msnclient.StatusBusy); err != nil {
				t.Fatal(err)
			}
			waitFrom(t, bob.rec, mark, "alice busy", func(p *msnclient.ContactPresence) bool {
				return p.Email == "alice@example.com" && p.Status == msnclient.StatusBusy
			})
			for _, evt := range alice.rec.all() {
				if _, ok := evt.(*msnclient.Disconnected); ok {
					t.Fatalf("alice disconnected: %s", nsDescribe(alice.rec.all()))
				}
			}
			_ = alice.Close()
			_ = bob.Close()
		})
	}
}

func TestLoginRefusedByNotificationServer(t *testing.T) {
	srv := startServer(t, msntest.Options{})
	addAccount(t, srv, "alice@example.com", "Alice")
	for _, v := range []int{11, 18} {
		srv.FailNext("USR", 911)
		err := newTestClient(config(srv, "alice@example.com", v)).Connect(ctxT(t))
		if !errors.Is(err, msnclient.ErrBadCredentials) {
			t.Errorf("MSNP%d: 911 gave %v", v, err)
		}
		srv.FailNext("USR", 500)
		err = newTestClient(config(srv, "alice@example.com", v)).Connect(ctxT(t))
		if errors.Is(err, msnclient.ErrBadCredentials) || err == nil || !strings.Contains(err.Error(), "500") {
			t.Errorf("MSNP%d: 500 gave %v", v, err)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	srv := startServer(t, msntest.Options{})
	friends(t, srv, "alice@example.com", "bob@example.com")
	c := nsConnect(t, config(srv, "alice@example.com", 18))
	errs := make(chan error, 40)
	for i := 0; i < 10; i++ {
		go func() { errs <- c.SetStatus(ctxT(t), msnclient.StatusAway) }()
		go func(i int) { errs <- c.SetFriendlyName(ctxT(t), fmt.Sprintf("Alice %d", i)) }(i)
		go func() { errs <- c.SetPersonalMessage(ctxT(t), "hi", "") }()
		go func() { _ = c.Contacts(); _ = c.Groups(); errs <- nil }()
	}
	for i := 0; i < 40; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if !strings.HasPrefix(srv.FriendlyName("alice@example.com"), "Alice ") {
		t.Errorf("server name %q", srv.FriendlyName("alice@example.com"))
	}
}

func TestLoginLogsNoSecrets(t *testing.T) {
	srv := startServer(t, msntest.Options{})
	friends(t, srv, "alice@example.com", "bob@example.com")
	for _, v := range []int{8, 13, 15, 18} {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			var buf testutil.SyncBuffer
			logger := zerolog.New(&buf).Level(zerolog.TraceLevel)
			cfg := config(srv, "alice@example.com", v)
			cfg.Logger = &logger
			c := nsConnect(t, cfg)
			if err := c.AddContact(ctxT(t), "bob@example.com"); err != nil {
				t.Fatal(err)
			}
			_ = c.Close()
			out := buf.String()
			if !strings.Contains(out, "USR") {
				t.Fatalf("trace log shows no commands:\n%s", out)
			}
			// The password, Tweener/RST tickets ("t=" or 20 hex digits after
			// "S") and the MBI blob (fixed base64 header) must not appear.
			for _, secret := range []string{testPassword, "HAAAAAEAAAADZgAA", "MSPAuth"} {
				if strings.Contains(out, secret) {
					t.Errorf("log contains %q:\n%s", secret, out)
				}
			}
			if tok := regexp.MustCompile(`[0-9a-fA-F]{20}`).FindString(out); tok != "" {
				t.Errorf("log contains a ticket-like token %q:\n%s", tok, out)
			}
		})
	}
}
