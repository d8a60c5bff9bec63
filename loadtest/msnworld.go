package loadtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
)

const accountPassword = "load-test-password"

// loginEmail is the MSN account of the bridge login number i.
func loginEmail(i int) string { return fmt.Sprintf("user%05d@load.test", i) }

// peerEmail is the MSN account of online contact number i.
func peerEmail(i int) string { return fmt.Sprintf("peer%04d@load.test", i) }

// offlineEmail is the MSN account of offline contact number i.
func offlineEmail(i int) string { return fmt.Sprintf("away%04d@load.test", i) }

// msnWorld is the MSN side: the fake server behind a relay (so it can be
// restarted on the same address), the accounts and contact lists, and the
// online contacts, played by msnclient clients in this process.
type msnWorld struct {
	logins   int // bridge accounts
	peers    int // online contacts (and as many offline ones)
	contacts int // contacts per bridge account (half online)

	srv   *msntest.Server
	ns    *forwarder
	http  *httpCounter
	mu    sync.Mutex
	clnts []*peer

	received atomic.Int64 // text messages peers received from the bridge
	bodyMu   sync.Mutex
	bodies   map[string]int // with keepBodies
	keep     bool
}

// peer is one online contact.
type peer struct {
	email  string
	client *msnclient.Client
}

// peerCount is how many online contacts a run uses: enough that each
// bridge account has contacts/2 of them and each is shared by at most
// about 100 accounts.
func peerCount(logins, contacts int) int {
	half := contacts / 2
	return max(half, (logins*half+99)/100)
}

func startMSNWorld(ctx context.Context, logins, contacts int, keepBodies bool) (*msnWorld, error) {
	w := &msnWorld{logins: logins, contacts: contacts, peers: peerCount(logins, contacts), keep: keepBodies, bodies: map[string]int{}}
	srv, err := w.newServer()
	if err != nil {
		return nil, err
	}
	w.srv = srv
	if w.ns, err = newForwarder(srv.NSAddr()); err != nil {
		srv.Close()
		return nil, fmt.Errorf("NS relay: %w", err)
	}
	if w.http, err = newHTTPCounter(srv.HTTPURL()); err != nil {
		w.ns.close()
		srv.Close()
		return nil, fmt.Errorf("HTTP relay: %w", err)
	}
	if err := w.connectPeers(ctx); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

// newServer starts a fake server with every account and contact list.
func (w *msnWorld) newServer() (*msntest.Server, error) {
	srv, err := msntest.Start(msntest.Options{})
	if err != nil {
		return nil, fmt.Errorf("start fake MSN server: %w", err)
	}
	add := func(email, name string) error {
		return srv.AddAccount(email, accountPassword, name)
	}
	for i := range w.peers {
		if err := errors.Join(add(peerEmail(i), fmt.Sprintf("Peer %d", i)), add(offlineEmail(i), fmt.Sprintf("Away %d", i))); err != nil {
			srv.Close()
			return nil, err
		}
	}
	for i := range w.logins {
		if err := add(loginEmail(i), fmt.Sprintf("User %d", i)); err != nil {
			srv.Close()
			return nil, err
		}
		for _, c := range w.contactsOf(i) {
			// Both ways, as two people who added each other.
			if err := errors.Join(srv.AddContact(loginEmail(i), c, msntest.ListFL|msntest.ListAL),
				srv.AddContact(c, loginEmail(i), msntest.ListFL|msntest.ListAL)); err != nil {
				srv.Close()
				return nil, err
			}
		}
	}
	return srv, nil
}

// onlineContactsOf lists the online contacts of bridge account i.
func (w *msnWorld) onlineContactsOf(i int) []string {
	half := w.contacts / 2
	out := make([]string, 0, half)
	for k := range half {
		out = append(out, peerEmail((i+k*(w.peers/max(1, half)))%w.peers))
	}
	return out
}

// contactsOf lists all contacts of bridge account i, online ones first.
func (w *msnWorld) contactsOf(i int) []string {
	out := w.onlineContactsOf(i)
	for k := range w.contacts - len(out) {
		out = append(out, offlineEmail((i+k*(w.peers/max(1, w.contacts-len(out))))%w.peers))
	}
	return dedupe(out)
}

func dedupe(list []string) []string {
	seen := make(map[string]bool, len(list))
	out := list[:0]
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// serverConfig is the bridge's network.servers entry: the relays.
func (w *msnWorld) serverConfig() map[string]any {
	base := w.http.url()
	return map[string]any{
		"name":                "load",
		"notification_server": w.ns.addr(),
		"nexus_url":           base + "/rdr/pprdr.asp",
		"login_url":           base + "/login",
		"rst_url":             base + "/RST.srf",
		"rst2_url":            base + "/RST2.srf",
		"abservice_url":       base + "/abservice/abservice.asmx",
		"sharing_service_url": base + "/abservice/SharingService.asmx",
		"protocol_versions":   []any{18, 15, 13, 12, 11, 9, 8},
		"ca_file":             "",
		"allow_plain_http":    true, // msntest's plain HTTP on loopback
	}
}

// connectPeers signs every online contact in, straight to the server (not
// through the relays, so their logins are not counted as the bridge's).
func (w *msnWorld) connectPeers(ctx context.Context) error {
	w.mu.Lock()
	srv := w.srv
	w.mu.Unlock()
	clients := make([]*peer, w.peers)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i := range w.peers {
		g.Go(func() error {
			email := peerEmail(i)
			cfg := msnclient.Config{Email: email, Password: accountPassword, Server: srv.NSAddr(), RequestTimeout: time.Minute}
			cfg.UseEscargotURLs(srv.HTTPURL())
			cfg.AllowPlainHTTP = true // msntest's plain HTTP on loopback
			c := msnclient.NewClient(cfg, w.handlePeerEvent)
			if err := c.Connect(gctx); err != nil {
				return fmt.Errorf("contact %s sign-in: %w", email, err)
			}
			clients[i] = &peer{email: email, client: c}
			return nil
		})
	}
	err := g.Wait()
	w.mu.Lock()
	for _, c := range clients {
		if c != nil {
			w.clnts = append(w.clnts, c)
		}
	}
	w.mu.Unlock()
	return err
}

func (w *msnWorld) handlePeerEvent(evt any) {
	msg, ok := evt.(*msnclient.MessageReceived)
	if !ok || !strings.HasPrefix(msg.Message.Text, "x2m ") {
		return
	}
	w.received.Add(1)
	if w.keep {
		w.bodyMu.Lock()
		w.bodies[msg.Message.Text]++
		w.bodyMu.Unlock()
	}
}

// bodyCount is how many times a peer received exactly body (keepBodies).
func (w *msnWorld) bodyCount(body string) int {
	w.bodyMu.Lock()
	defer w.bodyMu.Unlock()
	return w.bodies[body]
}

func (w *msnWorld) peer(i int) *peer {
	w.mu.Lock()
	defer w.mu.Unlock()
	email := peerEmail(i)
	for _, p := range w.clnts {
		if p.email == email {
			return p
		}
	}
	return nil
}

func (w *msnWorld) closePeers() {
	w.mu.Lock()
	peers := w.clnts
	w.clnts = nil
	w.mu.Unlock()
	for _, p := range peers {
		_ = p.client.Close()
	}
}

// restart replaces the fake server as a restart does: a fresh server with
// the same accounts is prepared (and the online contacts sign in to it),
// then the old one stops abruptly (every connection drops), nothing
// answers on the bridge's address for downFor, and the fresh server takes
// over behind the same relay addresses. It returns when the server accepts
// the bridge's connections again.
func (w *msnWorld) restart(ctx context.Context, downFor time.Duration) error {
	srv, err := w.newServer()
	if err != nil {
		return err
	}
	w.mu.Lock()
	old, oldPeers := w.srv, w.clnts
	w.srv, w.clnts = srv, nil
	w.mu.Unlock()
	if err := w.connectPeers(ctx); err != nil {
		return err
	}
	w.ns.set("", true)
	old.Close()
	for _, p := range oldPeers {
		_ = p.client.Close()
	}
	if err := w.http.setTarget(srv.HTTPURL()); err != nil {
		return err
	}
	select {
	case <-time.After(downFor):
	case <-ctx.Done():
		return ctx.Err()
	}
	w.ns.set(srv.NSAddr(), false)
	return nil
}

// onlineLogins counts bridge accounts signed in to the server.
func (w *msnWorld) onlineLogins() int {
	w.mu.Lock()
	srv := w.srv
	w.mu.Unlock()
	n := 0
	for i := range w.logins {
		if srv.IsOnline(loginEmail(i)) {
			n++
		}
	}
	return n
}

func (w *msnWorld) close() {
	w.closePeers()
	w.ns.close()
	_ = w.http.close()
	w.mu.Lock()
	srv := w.srv
	w.mu.Unlock()
	srv.Close()
}
