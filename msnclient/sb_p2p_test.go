package msnclient_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
	"github.com/mautrix-msn/mautrix-msn/msnclient/p2p"
)

// randomPicture returns n random bytes standing for a PNG.
func randomPicture(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// waitPictureObject waits until watcher sees owner's presence with an
// MSNObject whose SHA1D is that of data, and returns the object.
func waitPictureObject(t testing.TB, watcher *chatPeer, owner string, data []byte) string {
	t.Helper()
	want := p2p.SHA1D(data)
	evt := chatWait(t, watcher, 1, func(e *msnclient.ContactPresence) bool {
		if e.Email != owner || e.MSNObject == "" {
			return false
		}
		o, err := p2p.ParseMSNObject(e.MSNObject)
		return err == nil && o.SHA1D == want
	})
	return evt.MSNObject
}

// TestDisplayPictureRoundTrip: a picture set by one client reaches the
// other through the fake switchboard, both ways, in the dialect pairs of a
// WLM 8.5/2009 era mix.
func TestDisplayPictureRoundTrip(t *testing.T) {
	for _, pair := range [][2]int{{11, 18}, {15, 15}, {18, 18}} {
		t.Run(fmt.Sprintf("MSNP%d-MSNP%d", pair[0], pair[1]), func(t *testing.T) {
			t.Parallel()
			a, b := "alice@example.com", "bob@example.com"
			srv := chatServer(t, a, b)
			alice := chatConnect(t, srv, a, pair[0], nil)
			picA := randomPicture(t, 5000) // several chunks
			picB := randomPicture(t, 700)  // one chunk
			ctx, cancel := context.WithTimeout(context.Background(), chatTimeout)
			defer cancel()
			if _, err := alice.SetDisplayPictureData(ctx, picA); err != nil {
				t.Fatal(err)
			}
			bob := chatConnect(t, srv, b, pair[1], nil)
			if _, err := bob.SetDisplayPictureData(ctx, picB); err != nil {
				t.Fatal(err)
			}
			objA := waitPictureObject(t, bob, a, picA)
			// Bob's new MSNObject alone is not passed on (Escargot quirk
			// 37): a status change carries it.
			if err := bob.SetStatus(ctx, msnclient.StatusAway); err != nil {
				t.Fatal(err)
			}
			objB := waitPictureObject(t, alice, b, picB)

			var wg sync.WaitGroup
			var gotA, gotB []byte
			var errA, errB error
			wg.Add(2)
			go func() { defer wg.Done(); gotA, errA = bob.FetchDisplayPicture(ctx, a, objA) }()
			go func() { defer wg.Done(); gotB, errB = alice.FetchDisplayPicture(ctx, b, objB) }()
			wg.Wait()
			if errA != nil || errB != nil {
				t.Fatalf("fetch: bob got %v, alice got %v", errA, errB)
			}
			if !bytes.Equal(gotA, picA) || !bytes.Equal(gotB, picB) {
				t.Fatalf("pictures differ: %d/%d and %d/%d bytes", len(gotA), len(picA), len(gotB), len(picB))
			}
			// Text still flows on the same switchboard afterwards.
			if err := bob.Conversation(a).SendText(ctx, msnclient.TextMessage{Text: "nice picture"}); err != nil {
				t.Fatal(err)
			}
			chatWait(t, alice, 1, func(e *msnclient.MessageReceived) bool { return e.Message.Text == "nice picture" })
			waitNoP2P(t, alice.Client, bob.Client)
		})
	}
}

// waitNoP2P waits until the clients hold no P2P state (calls closed,
// buffers released).
func waitNoP2P(t testing.TB, clients ...*msnclient.Client) {
	t.Helper()
	deadline := time.Now().Add(chatTimeout)
	for _, c := range clients {
		for {
			msgs, calls := c.P2PInFlight()
			if msgs == 0 && calls == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still has %d P2P messages and %d calls in flight", c.Email(), msgs, calls)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// TestDisplayPictureManyAtOnce: several transfers in both directions on one
// switchboard at the same time.
func TestDisplayPictureManyAtOnce(t *testing.T) {
	a, b := "alice@example.com", "bob@example.com"
	srv := chatServer(t, a, b)
	alice := chatConnect(t, srv, a, 15, nil)
	bob := chatConnect(t, srv, b, 15, nil)
	ctx, cancel := context.WithTimeout(context.Background(), chatTimeout)
	defer cancel()
	picA, picB := randomPicture(t, 9000), randomPicture(t, 4000)
	objA, err := alice.SetDisplayPictureData(ctx, picA)
	if err != nil {
		t.Fatal(err)
	}
	objB, err := bob.SetDisplayPictureData(ctx, picB)
	if err != nil {
		t.Fatal(err)
	}
	// The conversation's switchboard exists first, as when two people chat.
	if err := bob.Conversation(a).SendText(ctx, msnclient.TextMessage{Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	chatWait(t, alice, 1, func(e *msnclient.MessageReceived) bool { return e.Message.Text == "hi" })
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 4; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			got, err := bob.FetchDisplayPicture(ctx, a, objA)
			if err == nil && !bytes.Equal(got, picA) {
				err = errors.New("alice's picture differs")
			}
			errs <- err
		}()
		go func() {
			defer wg.Done()
			got, err := alice.FetchDisplayPicture(ctx, b, objB)
			if err == nil && !bytes.Equal(got, picB) {
				err = errors.New("bob's picture differs")
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := srv.SwitchboardSessions(); n != 1 {
		t.Errorf("%d switchboard sessions, want the transfers to share one", n)
	}
}

// TestDisplayPictureWithScriptedPeer: a WLM-like peer (the fake server's
// own hand-written P2P) serves its picture to the client and fetches the
// client's.
func TestDisplayPictureWithScriptedPeer(t *testing.T) {
	for _, v := range []int{11, 15, 18} {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			t.Parallel()
			a, w := "alice@example.com", "wlm@example.com"
			ctx, cancel := context.WithTimeout(context.Background(), chatTimeout)
			defer cancel()
			picW := randomPicture(t, 6000)
			peer, alice := scriptedPeerAndClient(ctx, t, a, w, v, picW)
			picA := randomPicture(t, 3000)
			objA, err := alice.SetDisplayPictureData(ctx, picA)
			if err != nil {
				t.Fatal(err)
			}
			objW := waitPictureObject(t, alice, w, picW)
			got, err := alice.FetchDisplayPicture(ctx, w, objW)
			if err != nil || !bytes.Equal(got, picW) {
				t.Fatalf("alice fetched %d bytes: %v", len(got), err)
			}
			got, err = peer.RequestPicture(ctx, a, objA)
			if err != nil || !bytes.Equal(got, picA) {
				t.Fatalf("the scripted peer fetched %d bytes: %v", len(got), err)
			}
			// The peer counts a picture served when its last data message
			// is acknowledged; alice's ACK may still be on its way (through
			// the server) when her fetch has returned.
			deadline := time.Now().Add(5 * time.Second)
			for peer.Served() < 1 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if n := peer.Served(); n != 1 {
				t.Fatalf("served %d times, want 1 (alice acknowledges the data once)", n)
			}
		})
	}
}

// TestMSNObjectInPresenceEveryDialect: a contact's MSNObject is read from
// the initial presence (ILN, or NLN in MSNP18) and from a later change
// (NLN) in every dialect that carries one.
func TestMSNObjectInPresenceEveryDialect(t *testing.T) {
	for v := 9; v <= 18; v++ {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			t.Parallel()
			a, w := "alice@example.com", "wlm@example.com"
			ctx, cancel := context.WithTimeout(context.Background(), chatTimeout)
			defer cancel()
			first := randomPicture(t, 100)
			peer, alice := scriptedPeerAndClient(ctx, t, a, w, v, first)
			obj := waitPictureObject(t, alice, w, first)
			if obj != peer.MSNObject() {
				t.Fatalf("initial presence has\n%s\nthe peer announced\n%s", obj, peer.MSNObject())
			}
			second := randomPicture(t, 200)
			if err := peer.SetPicture(ctx, second, "AWY"); err != nil {
				t.Fatal(err)
			}
			if obj := waitPictureObject(t, alice, w, second); obj != peer.MSNObject() {
				t.Fatalf("changed presence has %s", obj)
			}
		})
	}
}

// scriptedPeerAndClient starts a server with a scripted peer w showing
// picture and a client a logged in with MSNP version v.
func scriptedPeerAndClient(ctx context.Context, t *testing.T, a, w string, v int, picture []byte) (*msntest.ScriptedPeer, *chatPeer) {
	t.Helper()
	srv := chatServer(t, a, w)
	peer, err := srv.StartScriptedPeer(ctx, w, picture)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(peer.Close)
	return peer, chatConnect(t, srv, a, v, nil)
}

// TestDisplayPictureFetchEndsOnDisconnect: a fetch in progress when the
// connection is lost fails at once, not after the P2P timeout, so that it
// does not hold a fetch slot of the bridge.
func TestDisplayPictureFetchEndsOnDisconnect(t *testing.T) {
	a, b := "alice@example.com", "bob@example.com"
	srv := chatServer(t, a, b)
	big := func(c *msnclient.Config) { c.MaxPictureSize = 4 << 20; c.P2PTimeout = 10 * time.Minute }
	alice := chatConnect(t, srv, a, 15, big)
	bob := chatConnect(t, srv, b, 15, big)
	ctx, cancel := context.WithTimeout(context.Background(), chatTimeout)
	defer cancel()
	obj, err := bob.SetDisplayPictureData(ctx, randomPicture(t, 3<<20))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := alice.FetchDisplayPicture(context.Background(), b, obj)
		done <- err
	}()
	// Let the transfer start, then cut alice off.
	deadline := time.Now().Add(chatTimeout)
	for {
		if msgs, _ := alice.P2PInFlight(); msgs > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	srv.DropConnections(a)
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the fetch succeeded although the connection was dropped")
		}
	case <-time.After(chatTimeout):
		t.Fatal("the fetch did not end after the connection was lost")
	}
}
