package p2p

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
)

// connectedManagers returns two managers, me and buddy, whose messages reach
// each other as through a switchboard.
func connectedManagers(t *testing.T) (mine, theirs *Manager) {
	t.Helper()
	// Each direction delivers in order, later, as a switchboard does.
	relay := func(to **Manager, from string) SendFunc {
		q := make(chan []byte, 4096)
		done := make(chan struct{})
		t.Cleanup(func() { close(done) })
		go func() {
			for {
				select {
				case p := <-q:
					(*to).HandleMessage(from, p)
				case <-done:
					return
				}
			}
		}()
		return func(_ context.Context, _ string, payload []byte) error {
			q <- append([]byte(nil), payload...)
			return nil
		}
	}
	mine = NewManager(Config{Self: me, Send: relay(&theirs, me), AckTimeout: 5 * time.Second})
	theirs = NewManager(Config{Self: buddy, Send: relay(&mine, buddy), AckTimeout: 5 * time.Second})
	t.Cleanup(mine.Stop)
	t.Cleanup(theirs.Stop)
	return mine, theirs
}

const fileGUID = "{5D3E02AB-6190-11D3-BBBB-00C04F795683}"

// TestOfferReceive: the transport's other direction, for applications such
// as file transfer: we offer data, the peer accepts and receives it.
func TestOfferReceive(t *testing.T) {
	mine, theirs := connectedManagers(t)
	got := make(chan []byte, 1)
	theirs.HandleInvites(fileGUID, func(_ context.Context, peer string, inv *Invite) Answer {
		if peer != me || inv.AppID != 2 || string(inv.Context) != "file context" {
			t.Errorf("invite from %s: %+v", peer, inv)
		}
		return Answer{Accept: true, Receive: true, OnData: func(data []byte, err error) {
			if err != nil {
				t.Error(err)
			}
			got <- data
		}}
	})
	data := bytes.Repeat([]byte("0123456789"), 1000)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	err := mine.Offer(ctx, buddy, Offer{EUFGUID: fileGUID, AppID: 2, Context: []byte("file context"), Data: data, DataFlags: FlagFileData})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-got:
		if !bytes.Equal(d, data) {
			t.Fatalf("received %d bytes, want %d", len(d), len(data))
		}
	case <-time.After(testTimeout):
		t.Fatal("nothing received")
	}
	waitIdle(t, mine)
	waitIdle(t, theirs)
}

func TestOfferDeclined(t *testing.T) {
	mine, _ := connectedManagers(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	err := mine.Offer(ctx, buddy, Offer{EUFGUID: fileGUID, AppID: 2, Data: []byte("x")})
	if !errors.Is(err, ErrDeclined) {
		t.Fatalf("got %v, want ErrDeclined (the peer runs no file application)", err)
	}
}

// TestObjectsBetweenManagers: our own encoder and parser agree end to end
// (the other tests use hand-built peers).
func TestObjectsBetweenManagers(t *testing.T) {
	mine, theirs := connectedManagers(t)
	pic := bytes.Repeat([]byte{1, 2, 3}, 2000)
	obj := NewMSNObject(buddy, ObjectDisplayPicture, pic, "", "")
	NewObjects(theirs).Serve(obj, pic)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	got, err := NewObjects(mine).Fetch(ctx, buddy, obj, 0)
	if err != nil || !bytes.Equal(got, pic) {
		t.Fatalf("fetched %d bytes: %v", len(got), err)
	}
}
