package p2p

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync/atomic"
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

// TestOfferNoAnswer: an offer the peer does not answer fails with
// ErrTimeout after the call timeout, and leaves no call behind.
func TestOfferNoAnswer(t *testing.T) {
	mine, theirs := connectedManagers(t)
	mine.cfg.CallTimeout = 300 * time.Millisecond
	sent := make(chan *SLPMessage, 16)
	send := mine.cfg.Send
	mine.cfg.Send = func(ctx context.Context, peer string, payload []byte) error {
		if env, err := ParseEnvelope(payload); err == nil {
			if pkt, err := ParsePacket(env.Body); err == nil && pkt.SessionID == 0 && !pkt.IsAck() {
				if slp, err := ParseSLP(pkt.Data); err == nil {
					sent <- slp
				}
			}
		}
		return send(ctx, peer, payload)
	}
	theirs.HandleInvites(fileGUID, func(ctx context.Context, _ string, _ *Invite) Answer {
		<-ctx.Done() // a user who never clicks
		return Answer{}
	})
	err := mine.Offer(context.Background(), buddy, Offer{EUFGUID: fileGUID, AppID: 2, Data: []byte("x")})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("got %v, want ErrTimeout", err)
	}
	// The offer is withdrawn with a BYE on its call, so the contact's
	// client stops showing it.
	invite := <-sent
	select {
	case bye := <-sent:
		if bye.Method != "BYE" || bye.CallID() != invite.CallID() || bye.ContentType() != SLPSessionClose {
			t.Errorf("after the INVITE came %s %s (%s)", bye.Method, bye.CallID(), bye.ContentType())
		}
	case <-time.After(testTimeout):
		t.Fatal("the unanswered offer was not withdrawn")
	}
	waitIdle(t, mine)
}

// TestStreamReceive: a streamed receive writes every chunk to the sink,
// holds nothing in memory and hands OnData no data.
func TestStreamReceive(t *testing.T) {
	mine, theirs := connectedManagers(t)
	var sink bytes.Buffer
	done := make(chan error, 1)
	theirs.HandleInvites(fileGUID, func(context.Context, string, *Invite) Answer {
		return Answer{Accept: true, Receive: true, MaxSize: 50_000, Sink: &sink, OnData: func(d []byte, err error) {
			if d != nil {
				err = errors.New("data handed over in memory")
			}
			done <- err
		}}
	})
	data := bytes.Repeat([]byte("abcdefg"), 7000)
	theirs.cfg.MaxDataSize = 1000 // streamed calls are capped by MaxSize, not by it
	if err := mine.Offer(context.Background(), buddy, Offer{EUFGUID: fileGUID, AppID: 2, Reader: bytes.NewReader(data), Size: int64(len(data)), DataFlags: FlagFileData}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sink.Bytes(), data) {
		t.Fatalf("sink has %d bytes, want %d", sink.Len(), len(data))
	}
	waitIdle(t, mine)
	waitIdle(t, theirs)
}

// TestStreamStall: a sender that stops halfway makes the receiver give up
// after the stall timeout with ErrTimeout and close the session, which
// ends the sender's offer too.
func TestStreamStall(t *testing.T) {
	mine, theirs := connectedManagers(t)
	done := make(chan error, 1)
	theirs.HandleInvites(fileGUID, func(context.Context, string, *Invite) Answer {
		return Answer{Accept: true, Receive: true, MaxSize: 10_000, Sink: io.Discard, StallTimeout: 300 * time.Millisecond,
			OnData: func(_ []byte, err error) { done <- err }}
	})
	// The reader yields half the data, then blocks as a stalled peer.
	stalled := make(chan struct{})
	t.Cleanup(func() { close(stalled) })
	r := io.MultiReader(bytes.NewReader(make([]byte, 5000)), blockingReader(stalled))
	offered := make(chan error, 1)
	go func() {
		offered <- mine.Offer(context.Background(), buddy, Offer{EUFGUID: fileGUID, AppID: 2, Reader: r, Size: 10_000, DataFlags: FlagFileData})
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("receiver got %v, want ErrTimeout", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("the receiver did not give up")
	}
	waitIdle(t, theirs)
}

type blockingReader chan struct{}

func (b blockingReader) Read([]byte) (int, error) {
	<-b
	return 0, io.EOF
}

// TestOfferStalledAfterAccept: a peer that accepts an offer, then never
// acknowledges the data (its client hung) fails the offer with
// ErrStalled, not as an offer nobody answered, after the ack timeout.
func TestOfferStalledAfterAccept(t *testing.T) {
	mine, theirs := connectedManagers(t)
	mine.cfg.AckTimeout = 300 * time.Millisecond
	send := theirs.cfg.Send
	var answered atomic.Bool
	theirs.cfg.Send = func(ctx context.Context, peer string, payload []byte) error {
		if env, err := ParseEnvelope(payload); err == nil {
			if h, err := ParseHeader(env.Body); err == nil && !h.IsAck() && !answered.Swap(true) {
				return send(ctx, peer, payload) // the 200 OK
			}
		}
		return nil // then the client hangs: nothing more, no ack, no BYE
	}
	theirs.HandleInvites(fileGUID, func(context.Context, string, *Invite) Answer {
		return Answer{Accept: true, Receive: true, OnData: func([]byte, error) {}}
	})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	err := mine.Offer(ctx, buddy, Offer{EUFGUID: fileGUID, AppID: 2, Data: bytes.Repeat([]byte("x"), 5000), DataFlags: FlagFileData})
	if !errors.Is(err, ErrStalled) || !errors.Is(err, ErrTimeout) {
		t.Fatalf("got %v, want ErrStalled", err)
	}
	waitIdle(t, mine)
}
