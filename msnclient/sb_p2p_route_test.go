package msnclient

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient/p2p"
)

const routeBob = "bob@example.com"

// joinScriptedWith joins c to a scripted switchboard session with bob, as
// when bob rings us, and returns the server side and our switchboard.
func joinScriptedWith(t *testing.T, c *Client, sessionID string) (*scriptedSB, *sbConn) {
	t.Helper()
	srv := newScriptedSB(t)
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		errc <- c.sb.answer(ctx, sessionID, srv.ln.Addr().String(), "c")
	}()
	srv.accept()
	srv.expectLine("ANS 1 " + c.cfg.Email + " c " + sessionID)
	srv.write("IRO 1 1 1 "+routeBob+" Bob\r\n", "ANS 1 OK\r\n")
	if err := <-errc; err != nil {
		t.Fatalf("answer: %v", err)
	}
	c.sb.mu.Lock()
	conns := append([]*sbConn(nil), c.sb.conns...)
	c.sb.mu.Unlock()
	for _, sb := range conns {
		if sb.sessionID == sessionID {
			t.Cleanup(sb.close)
			return srv, sb
		}
	}
	t.Fatal("joined switchboard not found")
	return nil, nil
}

// readP2P reads the next MSG the client wrote and returns its transaction
// id and the P2P packet in it.
func (s *scriptedSB) readP2P() (string, *p2p.Packet) {
	s.t.Helper()
	line, err := s.r.ReadString('\n')
	if err != nil {
		s.t.Fatalf("waiting for a MSG: %v", err)
	}
	f := strings.Fields(line)
	if len(f) != 4 || f[0] != "MSG" || f[2] != "D" {
		s.t.Fatalf("client sent %q, want MSG trid D len", line)
	}
	n, err := strconv.Atoi(f[3])
	if err != nil {
		s.t.Fatal(err)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(s.r, payload); err != nil {
		s.t.Fatal(err)
	}
	env, err := p2p.ParseEnvelope(payload)
	if err != nil {
		s.t.Fatal(err)
	}
	pkt, err := p2p.ParsePacket(env.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return f[1], pkt
}

// p2pChunkPayload is a chunk of message id, size bytes at off of total.
func p2pChunkPayload(dest string, id uint32, off, size, total uint64, flags uint32) []byte {
	pkt := p2p.Packet{Header: p2p.Header{SessionID: 0, Identifier: id, Offset: off, TotalSize: total,
		MessageSize: uint32(size), Flags: flags}, Data: make([]byte, size)}
	return p2p.AppendEnvelope(nil, dest, pkt.AppendPacket(nil))
}

// fromBob is a P2P message bob sent us (a keep-alive: moves the route,
// needs no answer).
func fromBob(c *Client, sb *sbConn, id uint32) {
	c.handleP2P(sb, routeBob, p2pChunkPayload(c.cfg.Email, id, 0, 0, 0, 0))
}

func wantChunk(t *testing.T, pkt *p2p.Packet, id uint32, off uint64, where string) {
	t.Helper()
	if pkt.Identifier != id || pkt.Offset != off {
		t.Fatalf("%s got message %d at %d, want message %d at %d", where, pkt.Identifier, pkt.Offset, id, off)
	}
}

// twoSwitchboards joins a client to two switchboard sessions with bob,
// the P2P route to bob on the first one (bob's INVITE came there).
func twoSwitchboards(t *testing.T) (context.Context, *Client, *scriptedSB, *sbConn, *scriptedSB, *sbConn) {
	t.Helper()
	c := NewClient(Config{Email: "me@example.com"}, nil)
	srv1, sb1 := joinScriptedWith(t, c, "sid1")
	srv2, sb2 := joinScriptedWith(t, c, "sid2")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	c.p2pApps()
	fromBob(c, sb1, 900)
	return ctx, c, srv1, sb1, srv2, sb2
}

// startOn starts message 77 (two chunks) to bob, checks that its first
// chunk reached srv (the first switchboard) and acknowledges it there.
func startOn(ctx context.Context, t *testing.T, c *Client, srv *scriptedSB) func() error {
	t.Helper()
	wait, err := c.startP2P(ctx, routeBob, p2pChunkPayload(routeBob, 77, 0, 1200, 2400, p2p.FlagMSNObjData))
	if err != nil {
		t.Fatal(err)
	}
	trid, pkt := srv.readP2P()
	wantChunk(t, pkt, 77, 0, "the first switchboard")
	srv.write("ACK " + trid + "\r\n")
	return wait
}

// TestP2PMessageStaysOnItsSwitchboard: bob and we opened a switchboard to
// each other at once (crossing XFR/CAL), so we share two; bob's P2P moves
// from one to the other while we are half-way through sending a message.
// The rest of that message must follow its first chunk: the two
// switchboards relay independently, and chunks split over them reached
// bob out of order, who dropped those before the message's start and
// waited for ever (the TestDisplayPictureRoundTrip flake). New messages
// go where bob's P2P now comes from.
func TestP2PMessageStaysOnItsSwitchboard(t *testing.T) {
	ctx, c, srv1, _, srv2, sb2 := twoSwitchboards(t)
	wait1 := startOn(ctx, t, c, srv1)

	fromBob(c, sb2, 901) // bob's next message came on the other one
	wait2, err := c.startP2P(ctx, routeBob, p2pChunkPayload(routeBob, 77, 1200, 1200, 2400, p2p.FlagMSNObjData))
	if err != nil {
		t.Fatal(err)
	}
	wait3, err := c.startP2P(ctx, routeBob, p2pChunkPayload(routeBob, 78, 0, 100, 100, 0))
	if err != nil {
		t.Fatal(err)
	}
	trid2, pkt := srv2.readP2P()
	wantChunk(t, pkt, 78, 0, "the second switchboard")
	trid1, pkt := srv1.readP2P()
	wantChunk(t, pkt, 77, 1200, "the first switchboard")
	srv1.write("ACK " + trid1 + "\r\n")
	srv2.write("ACK " + trid2 + "\r\n")
	for i, wait := range []func() error{wait1, wait2, wait3} {
		if err := wait(); err != nil {
			t.Errorf("chunk %d: %v", i+1, err)
		}
	}
	if n := pinned(c); n != 0 {
		t.Errorf("%d messages still pinned to a switchboard after their last chunk", n)
	}
}

// TestP2PMessageFailsWhenItsSwitchboardCloses: the switchboard carrying a
// message closes after its first chunk. The rest is refused at once with
// a clear error (the sender then ends the call with BYE, p2p's
// TestServeSaysByeWhenDataFails), never sent on another switchboard with
// a hole before it; new messages go on the switchboard that is left.
func TestP2PMessageFailsWhenItsSwitchboardCloses(t *testing.T) {
	ctx, c, srv1, sb1, srv2, _ := twoSwitchboards(t)
	wait1 := startOn(ctx, t, c, srv1)
	if err := wait1(); err != nil {
		t.Fatal(err)
	}
	_ = srv1.conn.Close() // the server drops the first switchboard
	select {
	case <-sb1.done:
	case <-ctx.Done():
		t.Fatal("switchboard not closed")
	}

	type result struct {
		wait func() error
		err  error
	}
	rest := make(chan result, 1)
	go func() {
		wait, err := c.startP2P(ctx, routeBob, p2pChunkPayload(routeBob, 77, 1200, 1200, 2400, p2p.FlagMSNObjData))
		rest <- result{wait, err}
	}()
	sent := make(chan error, 1)
	go func() { sent <- c.sendP2P(ctx, routeBob, p2pChunkPayload(routeBob, 78, 0, 100, 100, 0)) }()
	trid, pkt := srv2.readP2P()
	wantChunk(t, pkt, 78, 0, "the switchboard left")
	srv2.write("ACK " + trid + "\r\n")
	if err := <-sent; err != nil {
		t.Errorf("new message: %v", err)
	}
	r := <-rest
	if r.err == nil {
		r.err = r.wait()
	}
	if !errors.Is(r.err, ErrNotDelivered) || !errors.Is(r.err, errP2PSwitchboardLost) {
		t.Errorf("rest of the message gave %v, want ErrNotDelivered naming the lost switchboard", r.err)
	}
	if n := pinned(c); n != 0 {
		t.Errorf("%d messages still pinned to a switchboard", n)
	}
}

// pinned returns how many messages are pinned to a switchboard.
func pinned(c *Client) int {
	c.p2p.routeMu.Lock()
	defer c.p2p.routeMu.Unlock()
	return len(c.p2p.pins)
}
