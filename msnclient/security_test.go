package msnclient_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// countingListener listens on a loopback address and counts connections.
func countingListener(t *testing.T, addr string) (net.Listener, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	return ln, &n
}

// A server naming a switchboard on another host is not followed, unless
// that host is allowed in the config.
func TestSwitchboardAddressOutsideServerRefused(t *testing.T) {
	t.Parallel()
	srv := chatServer(t, "alice@example.com", "bob@example.com")
	// Another loopback address stands for "any other host".
	ln, dials := countingListener(t, "127.0.0.2:0")
	alice := chatConnect(t, srv, "alice@example.com", 18, nil)
	bob := chatConnect(t, srv, "bob@example.com", 18, nil)
	ctx := chatCtx(t)
	srv.SetAdvertisedSwitchboardAddr(ln.Addr().String())

	err := alice.Conversation("bob@example.com").SendText(ctx, msnclient.TextMessage{Text: "hi"})
	if !errors.Is(err, msnclient.ErrAddressRefused) {
		t.Errorf("XFR SB to another host gave %v, want ErrAddressRefused", err)
	}
	// A host in AllowedHosts is dialled.
	allowed := chatConnect(t, srv, "bob@example.com", 18, func(c *msnclient.Config) { c.AllowedHosts = []string{"127.0.0.2"} })
	_ = allowed.Conversation("alice@example.com").SendText(ctx, msnclient.TextMessage{Text: "ring"})
	if dials.Load() != 1 {
		t.Errorf("a host in AllowedHosts was dialled %d times, want once", dials.Load())
	}

	// An invitation (RNG) naming the other host is not followed either.
	srv.SetAdvertisedSwitchboardAddr("")
	release := srv.HoldRings("alice@example.com")
	defer release()
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = bob.Conversation("alice@example.com").SendText(bctx, msnclient.TextMessage{Text: "hi"}) }()
	if err := srv.WaitSwitchboards(ctx, func(s [][]string) bool { return len(s) == 1 }); err != nil {
		t.Fatal(err)
	}
	srv.SetAdvertisedSwitchboardAddr(ln.Addr().String())
	release()               // the RNG names the other host now
	time.Sleep(time.Second) // the refusal is silent: give a wrong dial the time to show
	if n := dials.Load(); n != 1 {
		t.Errorf("alice followed an invitation to another host (%d dials)", n-1)
	}
}

// The password never goes to a plain-HTTP login URL unless allowed: not a
// configured one, and not one a nexus answers with.
func TestPlainHTTPLoginRefused(t *testing.T) {
	t.Parallel()
	srv := chatServer(t, "alice@example.com")
	for _, v := range []int{8, 18} {
		cfg := chatConfig(srv, "alice@example.com", v)
		cfg.AllowPlainHTTP = false
		err := msnclient.NewClient(cfg, nil).Connect(chatCtx(t))
		if !errors.Is(err, msnclient.ErrInsecureURL) {
			t.Errorf("MSNP%d with http:// login URLs gave %v, want ErrInsecureURL", v, err)
		}
	}

	var loginHits atomic.Int32
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		loginHits.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer plain.Close()
	nexus := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("PassportURLs", "DARealm=Passport.Net,DALogin="+plain.URL+"/login,DAReg=x")
	}))
	defer nexus.Close()
	cfg := chatConfig(srv, "alice@example.com", 8)
	cfg.AllowPlainHTTP = false
	cfg.NexusURL = nexus.URL + "/rdr/pprdr.asp"
	cfg.HTTPClient = nexus.Client()
	err := msnclient.NewClient(cfg, nil).Connect(chatCtx(t))
	if !errors.Is(err, msnclient.ErrInsecureURL) {
		t.Errorf("nexus DALogin over http gave %v, want ErrInsecureURL", err)
	}
	if n := loginHits.Load(); n != 0 {
		t.Errorf("the password was sent to the plain-HTTP DALogin %d times", n)
	}
}

// A notification server redirecting the login (XFR NS) to another host is
// not followed unless that host is allowed.
func TestRedirectOutsideServerRefused(t *testing.T) {
	t.Parallel()
	target, dials := countingListener(t, "127.0.0.2:0")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				r := bufio.NewReader(conn)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					f := strings.Fields(line)
					switch {
					case len(f) >= 2 && f[0] == "VER":
						_, _ = conn.Write([]byte("VER " + f[1] + " MSNP8 CVR0\r\n"))
					case len(f) >= 2 && f[0] == "CVR":
						_, _ = conn.Write([]byte("CVR " + f[1] + " 8.5.1288 8.5.1288 8.5.1288 http://x http://x\r\n"))
					case len(f) >= 2 && f[0] == "USR":
						// Send the login elsewhere, as a dispatch server does.
						_, _ = conn.Write([]byte("XFR " + f[1] + " NS " + target.Addr().String() + " 0 127.0.0.1:1863\r\n"))
					}
				}
			}()
		}
	}()
	for _, allowed := range []bool{false, true} {
		cfg := msnclient.Config{Email: "me@example.com", Password: "pw", Server: ln.Addr().String(), Versions: []int{8},
			DialTimeout: 5 * time.Second, RequestTimeout: 5 * time.Second}
		if allowed {
			cfg.AllowedHosts = []string{"127.0.0.2"}
		}
		err := msnclient.NewClient(cfg, nil).Connect(chatCtx(t))
		switch {
		case !allowed && !errors.Is(err, msnclient.ErrAddressRefused):
			t.Errorf("redirect to another host gave %v, want ErrAddressRefused", err)
		case !allowed && dials.Load() != 0:
			t.Errorf("the refused redirect was dialled")
		case allowed && dials.Load() == 0:
			t.Errorf("a redirect to an allowed host was not followed (%v)", err)
		}
	}
}
